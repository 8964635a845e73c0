package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lambada-dev/lambada/bench"
)

// clusterFigure is one way of sending the warm load: its result and the
// CPU time of the nodes that served it, by concurrency.
type clusterFigure struct {
	name    string
	results map[int]bench.Result
	cpu     map[int]time.Duration // of every node of the way, together
}

// hopFigure is the extra hop measured at concurrency 1, its three requests
// interleaved so that the machine's drift touches each alike: a loopback
// round trip (floor), an invocation through the node with the warm
// environment (one), and one through another node (another).
type hopFigure struct{ floor, one, another bench.Result }

// measureHop sends, one at a time, a request to the floor server, an
// invocation through the node with the warm environment, and one through
// another node, in turn, for load's duration or requests.
func measureHop(ctx context.Context, load bench.Load, floor, one, another func(context.Context) error) *hopFigure {
	h := &hopFigure{}
	ways := []struct {
		r  *bench.Result
		do func(context.Context) error
	}{{&h.floor, floor}, {&h.one, one}, {&h.another, another}}
	end := time.Now().Add(load.Duration)
	for i := 0; ctx.Err() == nil; i++ {
		if (load.Requests > 0 && i >= load.Requests) || (load.Requests == 0 && time.Now().After(end)) {
			break
		}
		for _, w := range ways {
			start := time.Now()
			err := w.do(ctx)
			w.r.Add(time.Since(start), err)
		}
	}
	for _, w := range ways {
		slices.Sort(w.r.Latencies)
	}
	return h
}

// measureCluster starts n nodes (in child processes, on loopback) whose
// stores form one cluster, and measures the warm invocations of fn beside
// the node alone (alone, already serving function aloneFn): through the
// node alone, through one node of the cluster, and round-robin through
// all of them, at concurrency 1 and 64, with the CPU time of the nodes
// that served each. On one machine the nodes share its CPUs: the figures
// are the cluster's cost, not a speed-up.
func (c *benchCommand) measureCluster(ctx context.Context, cfg *benchConfig, nodes []*benchServer, alone *benchServer, aloneFn string, fn *benchFn, suffix, floorURL string) ([]*clusterFigure, *hopFigure, error) {
	name := "bench-cluster-" + suffix
	api := benchAPI(nodes[0].URL)
	if err := createBenchFunction(ctx, api, name, fn.zip, 30); err != nil {
		return nil, nil, err
	}
	defer deleteBenchFunction(ctx, api, name)
	client := bench.NewClient(2 * bench.TargetLevel)
	var urls []string
	var pids []int
	for _, n := range nodes {
		urls = append(urls, invokeURL(n.URL, name))
		pids = append(pids, n.Pid)
	}
	type way struct {
		fig  *clusterFigure
		do   func(context.Context) error
		pids []int
	}
	var ways []way
	if alone != nil {
		ways = append(ways, way{&clusterFigure{name: "one node alone"}, bench.Poster(client, invokeURL(alone.URL, aloneFn), bench.Body), []int{alone.Pid}})
	}
	ways = append(ways, way{&clusterFigure{name: fmt.Sprintf("%d nodes, all through one", len(nodes))}, bench.Poster(client, urls[0], bench.Body), pids},
		way{&clusterFigure{name: fmt.Sprintf("%d nodes, round-robin", len(nodes))}, roundRobin(client, urls), pids})
	through := len(ways) - 2 // all through one
	load := bench.Load{Duration: cfg.Duration, Requests: cfg.Requests}
	var hop *hopFigure
	for _, level := range []int{1, bench.TargetLevel} {
		load.Concurrency = level
		for i, w := range ways {
			if level == 1 && i == through+1 {
				// The extra hop, before any invocation reached the other
				// nodes: every one through them crosses to the first
				// node's environment.
				c.progress("cluster: the extra hop, through node 0 and node 1 in turn")
				one, another := ways[through].do, bench.Poster(client, urls[1], bench.Body)
				hop = measureHop(ctx, bench.Load{Requests: 50}, bench.Poster(client, floorURL, bench.Body), one, another) // warm-up
				hop = measureHop(ctx, load, bench.Poster(client, floorURL, bench.Body), one, another)
			}
			c.progress("cluster: %s at concurrency %d", w.fig.name, level)
			bench.Run(ctx, bench.Load{Concurrency: level, Requests: max(4*level, 50)}, w.do) // warm-up
			before := nodesCPU(w.pids)
			res := bench.Run(ctx, load, w.do)
			if w.fig.results == nil {
				w.fig.results, w.fig.cpu = map[int]bench.Result{}, map[int]time.Duration{}
			}
			w.fig.results[level], w.fig.cpu[level] = res, nodesCPU(w.pids)-before
			if slices.Contains(w.pids, 0) {
				w.fig.cpu[level] = -1 // not known: no --server-pid
			}
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
	}
	out := make([]*clusterFigure, len(ways))
	for i, w := range ways {
		out[i] = w.fig
	}
	return out, hop, nil
}

// startCluster starts n nodes at once (each waits for a quorum of the
// others) with their data under dir.
func (c *benchCommand) startCluster(ctx context.Context, dir string, n int) ([]*benchServer, error) {
	routes := make([]string, n)
	for i := range routes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		routes[i] = ln.Addr().String()
		ln.Close()
	}
	nodes := make([]*benchServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sub := filepath.Join(dir, fmt.Sprint(i))
			if errs[i] = os.MkdirAll(sub, 0o755); errs[i] != nil {
				return
			}
			peers := slices.Delete(slices.Clone(routes), i, i+1)
			nodes[i], errs[i] = c.startChild(ctx, sub, "--cluster-listen", routes[i],
				"--peers", strings.Join(peers, ","), "--node-name", fmt.Sprintf("bench%d", i))
		})
	}
	wg.Wait()
	return nodes, errors.Join(errs...)
}

// roundRobin posts to each URL in turn.
func roundRobin(c *http.Client, urls []string) func(context.Context) error {
	posters := make([]func(context.Context) error, len(urls))
	for i, u := range urls {
		posters[i] = bench.Poster(c, u, bench.Body)
	}
	var next atomic.Uint64
	return func(ctx context.Context) error {
		return posters[int(next.Add(1)%uint64(len(posters)))](ctx)
	}
}

// nodesCPU is the CPU time the processes pids used so far (0 for one not
// readable).
func nodesCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, p := range pids {
		d, _ := bench.ProcessCPU(p)
		sum += d
	}
	return sum
}

// writeCluster prints the cluster's figures: throughput, p50 and the
// nodes' CPU per invocation, and each against the node alone; then the
// extra hop's cost at p50 beside its target, a loopback round trip and
// 100 µs, all three measured interleaved.
func writeCluster(w io.Writer, figs []*clusterFigure, hop *hopFigure) error {
	if len(figs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\ncluster: the aws-lambda-go function, warm; every node on this machine (the nodes share its CPUs)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	alone := figs[0] // the node alone, or without one (--endpoint-url) all through one
	fmt.Fprintf(tw, "way\tthroughput, c=1\tp50, c=1\tthroughput, c=64\tnodes' CPU per invocation, c=64\tthroughput c=64 ÷ %s\terrors\n", alone.name)
	for _, f := range figs {
		r1, r64 := f.results[1], f.results[bench.TargetLevel]
		perInv := "no --server-pid"
		if n, cpu := r64.Requests(), f.cpu[bench.TargetLevel]; n > 0 && cpu >= 0 {
			perInv = (cpu / time.Duration(n)).Round(time.Microsecond).String()
		}
		ratio := r64.Throughput() / max(alone.results[bench.TargetLevel].Throughput(), 1e-9)
		fmt.Fprintf(tw, "%s\t%.0f/s\t%v\t%.0f/s\t%s\t%.2f×\t%d of %d\n", f.name, r1.Throughput(), r1.Percentile(0.5).Round(time.Microsecond),
			r64.Throughput(), perInv, ratio, r1.Errors+r64.Errors, r1.Requests()+r64.Requests())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hop == nil {
		return nil
	}
	floor, one, another := hop.floor.Percentile(0.5), hop.one.Percentile(0.5), hop.another.Percentile(0.5)
	extra, target := another-one, floor+100*time.Microsecond
	verdict := "met"
	if extra > target {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "extra hop to another node's warm environment, p50 at c=1, %d of each in turn (errors %d): through node 0 %v, through node 1 %v: %v (target ≤ a loopback round trip %v + 100 µs = %v: %s)\n",
		hop.one.Requests(), hop.floor.Errors+hop.one.Errors+hop.another.Errors, one.Round(time.Microsecond), another.Round(time.Microsecond),
		extra.Round(time.Microsecond), floor.Round(time.Microsecond), target.Round(time.Microsecond), verdict)
	return nil
}
