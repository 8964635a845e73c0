package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada/bench"
)

// asyncLevels are the concurrency levels of the Event invocation loads.
var asyncLevels = []int{1, bench.TargetLevel}

// measureAsync measures, on an idle node, how long an Event invocation
// takes to start its function (one event at a time), then how many Event
// invocations the node accepts per second beside how many synchronous
// publishes JetStream alone takes in this process, at each level. The
// accepted events run meanwhile, as they would.
func (c *benchCommand) measureAsync(ctx context.Context, cfg *benchConfig, api *lambda.Client, endpoint, dir string, fn *benchFn, suffix string) (*bench.AsyncRun, error) {
	name, zero := "bench-event-"+suffix, "bench-event-zero-"+suffix
	for _, n := range []string{name, zero} {
		if err := createBenchFunction(ctx, api, n, fn.zip, 30); err != nil {
			return nil, err
		}
		if cfg.EndpointURL != "" {
			defer deleteBenchFunction(ctx, api, n)
		}
	}
	if _, err := api.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(zero), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		return nil, err
	}
	u, zeroURL := invokeURL(endpoint, name), invokeURL(endpoint, zero)
	client := bench.NewClient(2 * bench.TargetLevel)
	defer client.CloseIdleConnections()
	run := &bench.AsyncRun{Levels: asyncLevels, Accept: map[int]bench.Result{}, AcceptOnly: map[int]bench.Result{}, Publish: map[int]bench.Result{}}

	starts, err := bench.ListenStarts()
	if err != nil {
		return nil, err
	}
	defer starts.Close()
	c.progress("%d Event invocations one at a time, each timed to its function's start", cfg.Events)
	starts.Measure(ctx, client, u, 5, bench.NotifyBody(starts.URL)) // a warm environment
	run.Start = starts.Measure(ctx, client, u, cfg.Events, bench.NotifyBody(starts.URL))

	floor, err := bench.StartPublishFloor(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("publish floor: %w", err)
	}
	defer floor.Close()
	load := bench.Load{Duration: cfg.Duration, Requests: cfg.Requests}
	for _, level := range asyncLevels {
		c.progress("JetStream publishes at concurrency %d", level)
		publish := floor.Publisher(bench.Body)
		bench.Run(ctx, bench.Load{Concurrency: level, Requests: max(4*level, 50)}, publish)
		load.Concurrency = level
		run.Publish[level] = bench.Run(ctx, load, publish)
		c.progress("  %.0f/s", run.Publish[level].Throughput())
	}
	// Events that do not run first, so that no backlog of running events
	// is still being worked off while they are measured.
	for _, m := range []struct {
		what, url string
		results   map[int]bench.Result
	}{{"that do not run", zeroURL, run.AcceptOnly}, {"that run", u, run.Accept}} {
		for _, level := range asyncLevels {
			c.progress("Event invocations %s, at concurrency %d", m.what, level)
			accept := func(ctx context.Context) error { return bench.PostEvent(ctx, client, m.url, bench.Body) }
			bench.Run(ctx, bench.Load{Concurrency: level, Requests: max(4*level, 50)}, accept)
			load.Concurrency = level
			m.results[level] = bench.Run(ctx, load, accept)
			c.progress("  %.0f/s accepted", m.results[level].Throughput())
		}
	}
	return run, ctx.Err()
}
