package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambada-dev/lambada/bench"
)

// benchAuthLevels are the concurrency levels of the --auth comparison: the
// latency level and the CPU target's.
var benchAuthLevels = []int{benchLevels[0], bench.TargetLevel}

// authRounds is how many times each load of the --auth comparison is
// split, the two nodes taking turns, so that both see the same machine.
const authRounds = 3

// measureAuth starts two nodes, one with --auth, deploys fn (as name) on
// both and sends them the same signed invocations in turns, level by
// level; then it sends the node with --auth signed invocations in turns
// without and with a flood of bad signatures beside them.
func (c *benchCommand) measureAuth(ctx context.Context, cfg *benchConfig, dir, name string, fn *benchFn, floorURL string) *bench.AuthRun {
	run := &bench.AuthRun{Off: map[int]bench.Result{}, On: map[int]bench.Result{}, OffCPU: map[int]*bench.CPU{}, OnCPU: map[int]*bench.CPU{}}
	if cfg.InProcess || cfg.EndpointURL != "" {
		run.Skipped = "needs nodes in child processes"
		return run
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret)
	key := aws.Credentials{AccessKeyID: "AKIALAMBADABENCH", SecretAccessKey: hex.EncodeToString(secret)}
	path := filepath.Join(dir, "auth.json")
	principals, _ := json.Marshal(map[string]any{"principals": []map[string]any{{
		"accessKeyId": key.AccessKeyID, "secretAccessKey": key.SecretAccessKey, "account": "000000000000",
		"arn":      "arn:aws:iam::000000000000:user/bench",
		"policies": []any{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)},
	}}})
	if err := os.WriteFile(path, principals, 0o600); err != nil {
		run.Skipped = err.Error()
		return run
	}
	// Two new nodes, one without --auth and one with, given the same
	// function and the same loads, so that neither has a history the
	// other lacks.
	c.progress("--auth: two more nodes, one with --auth")
	var targets [2]*warmTarget
	var onURL string
	client := bench.NewClient(2 * bench.TargetLevel)
	defer client.CloseIdleConnections()
	signed := bench.Signed{Credentials: key, Region: "us-east-1"}
	for i, args := range [][]string{nil, {"--auth", path}} {
		nodeDir := filepath.Join(dir, fmt.Sprintf("auth-%d", i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			run.Skipped = err.Error()
			return run
		}
		node, err := c.startChild(ctx, nodeDir, args...)
		if err != nil {
			run.Skipped = err.Error()
			return run
		}
		defer node.Close()
		api := benchAPIAs(node.URL, key)
		if err := createBenchFunction(ctx, api, name, fn.zip, 30); err != nil {
			run.Skipped = err.Error()
			return run
		}
		if err := waitReady(ctx, api, name); err != nil {
			run.Skipped = err.Error()
			return run
		}
		onURL = node.URL
		targets[i] = &warmTarget{Name: []string{"off", "--auth"}[i], Do: bench.SignedPoster(client, invokeURL(node.URL, name), bench.Body, signed),
			Pid: node.Pid, Missing: node.NoCPU}
	}
	load := bench.Load{Duration: cfg.Duration / authRounds, Requests: cfg.Requests / authRounds}
	for _, level := range benchAuthLevels {
		load.Concurrency = level
		c.progress("--auth: signed invocations at concurrency %d, without and with --auth, %d turns each", level, authRounds)
		var results [2][]bench.Result
		var cpu [2]bench.CPU
		for i, t := range targets {
			t.WarmUp(ctx, level)
			cpu[i].Missing = t.Missing
		}
		for range authRounds {
			for i, t := range targets {
				results[i] = append(results[i], t.Measure(ctx, load))
				used := t.NodeCPU[level]
				cpu[i].Used, cpu[i].Requests, cpu[i].Missing = cpu[i].Used+used.Used, cpu[i].Requests+used.Requests, used.Missing
			}
		}
		run.Off[level], run.On[level] = bench.Merge(results[0]...), bench.Merge(results[1]...)
		run.OffCPU[level], run.OnCPU[level] = &cpu[0], &cpu[1]
		c.progress("  off: %.0f/s, node CPU per request %v; --auth: %.0f/s, %v", run.Off[level].Throughput(), cpu[0].PerRequest(),
			run.On[level].Throughput(), cpu[1].PerRequest())
	}

	on := targets[1]
	load.Concurrency = bench.FloodLevel
	c.progress("--auth: signed invocations at concurrency %d, without and with %d bad signatures a second, %d turns each", bench.FloodLevel, bench.FloodRate, authRounds)
	on.WarmUp(ctx, bench.FloodLevel)
	wrong := bench.Signed{Credentials: aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: "not-the-secret"}, Region: "us-east-1"}
	floodClient := bench.NewClient(32)
	defer floodClient.CloseIdleConnections()
	bad := bench.Refused(floodClient, invokeURL(onURL, name), wrong)
	// The same flood sent to the floor server (which answers 200, counted
	// as errors there) shows what the flood's client alone costs.
	elsewhere := bench.Refused(floodClient, floorURL, wrong)
	var calm, flooded, flood, aside []bench.Result
	for range authRounds {
		calm = append(calm, bench.Run(ctx, load, on.Do))
		stop := bench.Flood(ctx, bench.FloodRate, bad)
		flooded = append(flooded, bench.Run(ctx, load, on.Do))
		flood = append(flood, stop())
		stop = bench.Flood(ctx, bench.FloodRate, elsewhere)
		aside = append(aside, bench.Run(ctx, load, on.Do))
		stop()
	}
	run.Calm, run.Flooded, run.Flood, run.FloodedAside = bench.Merge(calm...), bench.Merge(flooded...), bench.Merge(flood...), bench.Merge(aside...)
	c.progress("  calm %.0f/s, flooded %.0f/s, flood sent elsewhere %.0f/s; %.0f bad signatures a second refused",
		run.Calm.Throughput(), run.Flooded.Throughput(), run.FloodedAside.Throughput(), run.Flood.Throughput())
	return run
}
