package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/codecache"
)

const benchUsage = `Usage: lambada bench [flags]

Measures Lambada beside floors taken in the same run, and prints a table of
each figure, its floor, their ratio and the target it must meet:

  warm       synchronous invocations of two functions at concurrency 1
             (p50, p99) and throughput at 1, 8 and 64, beside a keep-alive
             loopback round trip to a trivial Go server in its own process
             (the floor), same client, same 100-byte body: an aws-lambda-go
             function (the realistic case) and a minimal runtime, a raw
             Runtime API loop (the platform's own cost)
  CPU        the node's CPU time per warm invocation at 64 beside the floor
             server's per request (from /proc/<pid>/stat), and each
             function's, in the node and alone (driven back to back by a
             trivial Runtime API: what the machine allows at most)
  envs       the environments alive after each load
  cold       invocations that must start a new environment (forced by a
             configuration change) beside starts of the same bootstrap by
             hand, timed to its first GET next; the two alternate
  burst      N simultaneous invocations of a function that sleeps 1 s
  async      Event invocations, one at a time on an idle node, timed from
             the request to the function's start; then Event invocations
             accepted per second at 1 and 64 (their events running
             meanwhile) beside synchronous publishes to a file-backed
             JetStream work queue in this process (the floor)
  cluster    with --cluster N: N more nodes whose stores form one cluster
             on this machine, the warm load of the aws-lambda-go function
             through the node alone, through one node of the cluster and
             round-robin through all, at 1 and 64, with the nodes' CPU time;
             and the extra hop to another node's warm environment, timed in
             turn with a loopback round trip. With several --endpoint-url
             (the nodes of a cluster already running), the same through
             the first node and round-robin, without the node alone
  --auth     a second node, with --auth: the same signed invocations of the
             same function sent to it and to the node without --auth, at
             concurrency 1 and 64 (latency, throughput, node CPU per
             request), then signed invocations at 8 without and with a
             flood of 1000 requests a second with a wrong signature

By default the node under test is 'lambada serve' re-executed from this
binary on a free 127.0.0.1 port with its data in a temporary directory.
--in-process runs it inside this process instead (no CPU figure);
--endpoint-url measures a running server on this machine (its CPU figure
needs --server-pid). The benchmark deploys the functions of
internal/testfn (fn and minimal), built with 'go build' from the module
source this binary was built from (so it needs the Go toolchain and the
source tree), or --function-zip and --minimal-zip: zips of their bootstrap.

Traffic goes to 127.0.0.1 only. Figures from a busy machine are noisy:
compare ratios, not absolutes.

Flags:
`

// benchCommand is `lambada bench`.
type benchCommand struct {
	Stdout, Stderr io.Writer
	// Self is the command line that runs this binary as lambada (default:
	// os.Executable()); SelfEnv is added to its environment. Tests point
	// them at the test binary.
	Self    []string
	SelfEnv []string
	// ServeArgs are added to the `lambada serve` command line of a node in
	// a child process.
	ServeArgs []string
}

// benchConfig is the parsed flags of `lambada bench`.
type benchConfig struct {
	Duration    time.Duration
	Requests    int
	Cold        int
	Burst       int
	BurstSleep  time.Duration
	SkipCold    bool
	SkipBurst   bool
	SkipAsync   bool
	SkipAuth    bool
	Events      int
	EndpointURL string
	ServerPid   int
	// Others are the other nodes of a running cluster (--endpoint-url
	// with several URLs), OtherPids their process ids (0: unknown).
	Others      []string
	OtherPids   []int
	InProcess   bool
	FunctionZip string
	MinimalZip  string
	Check       bool
	Keep        bool
	Cluster     int
}

// benchLevels are the concurrency levels of the warm loads; the first is
// the one whose latency percentiles are reported.
var benchLevels = []int{1, 8, bench.TargetLevel}

func (c *benchCommand) parse(args []string) (*benchConfig, error) {
	fs := flag.NewFlagSet("lambada bench", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	cfg := &benchConfig{}
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Second, "length of each warm load (one per concurrency level, for the floor and for Lambada)")
	fs.IntVar(&cfg.Requests, "requests", 0, "a fixed number of requests per warm load instead of --duration")
	fs.IntVar(&cfg.Cold, "cold", 50, "number of cold starts, each beside a bare start")
	fs.IntVar(&cfg.Burst, "burst", 1000, "number of simultaneous invocations in the burst")
	fs.DurationVar(&cfg.BurstSleep, "burst-sleep", time.Second, "how long each invocation of the burst sleeps")
	fs.BoolVar(&cfg.SkipCold, "skip-cold", false, "do not measure cold starts")
	fs.BoolVar(&cfg.SkipBurst, "skip-burst", false, "do not run the burst")
	fs.BoolVar(&cfg.SkipAsync, "skip-async", false, "do not measure Event invocations")
	fs.BoolVar(&cfg.SkipAuth, "skip-auth", false, "do not measure a node with --auth")
	fs.IntVar(&cfg.Events, "events", 200, "number of Event invocations timed one at a time to their function's start")
	endpoints := fs.String("endpoint-url", "", "measure the Lambada server at this 127.0.0.1 URL instead of starting one; several, comma-separated: the nodes of a running cluster, measured through the first, then through all round-robin")
	pids := fs.String("server-pid", "", "with --endpoint-url: the server's process id (several: each node's), to measure its CPU time")
	fs.BoolVar(&cfg.InProcess, "in-process", false, "run the node inside this process (its CPU time cannot be told apart)")
	fs.StringVar(&cfg.FunctionZip, "function-zip", "", "the test function's deployment package (default: built from internal/testfn/fn)")
	fs.StringVar(&cfg.MinimalZip, "minimal-zip", "", "the minimal runtime's deployment package (default: built from internal/testfn/minimal)")
	fs.BoolVar(&cfg.Check, "check", false, "fail when a measured figure misses its target")
	fs.IntVar(&cfg.Cluster, "cluster", 0, "also start this many nodes whose stores form one cluster (on this machine) and measure warm invocations through one of them and round-robin through all, beside the node alone")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory: the node's log (serve.log) and data")
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, benchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	urls, err := endpointURLs(*endpoints)
	if err != nil {
		return nil, err
	}
	var pidList []int
	for p := range strings.SplitSeq(*pids, ",") {
		if p = strings.TrimSpace(p); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--server-pid %q: want process ids, comma-separated", *pids)
			}
			pidList = append(pidList, n)
		}
	}
	if len(pidList) > 0 && len(pidList) != len(urls) {
		return nil, errors.New("--server-pid: one process id for each --endpoint-url")
	}
	if len(urls) > 0 {
		cfg.EndpointURL, cfg.Others = urls[0], urls[1:]
	}
	if len(pidList) > 0 {
		cfg.ServerPid, cfg.OtherPids = pidList[0], pidList[1:]
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.Duration <= 0 && cfg.Requests <= 0:
		return nil, errors.New("--duration or --requests must be positive")
	case cfg.Requests < 0 || cfg.Cold < 0 || cfg.Burst < 0 || cfg.Events < 0 || cfg.Cluster < 0:
		return nil, errors.New("--requests, --cold, --burst, --events and --cluster cannot be negative")
	case cfg.Cluster == 1:
		return nil, errors.New("--cluster: a cluster has 2 nodes or more")
	case cfg.BurstSleep < 0 || cfg.BurstSleep > 10*time.Second:
		return nil, errors.New("--burst-sleep must be between 0 and 10s")
	case cfg.InProcess && cfg.EndpointURL != "":
		return nil, errors.New("--in-process and --endpoint-url exclude each other")
	case cfg.ServerPid != 0 && cfg.EndpointURL == "":
		return nil, errors.New("--server-pid goes with --endpoint-url")
	case cfg.Cluster > 0 && len(cfg.Others) > 0:
		return nil, errors.New("--cluster starts nodes of its own: not with several --endpoint-url")
	}
	cfg.SkipCold = cfg.SkipCold || cfg.Cold == 0
	cfg.SkipBurst = cfg.SkipBurst || cfg.Burst == 0
	cfg.SkipAsync = cfg.SkipAsync || cfg.Events == 0
	return cfg, nil
}

// endpointURLs parses --endpoint-url: URLs on this machine,
// comma-separated.
func endpointURLs(v string) ([]string, error) {
	var out []string
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--endpoint-url %q: want http://127.0.0.1:PORT (the benchmark sends traffic to this machine only)", e)
		}
		out = append(out, strings.TrimRight(e, "/"))
	}
	return out, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *benchCommand) Run(ctx context.Context, args []string) error {
	cfg, err := c.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	} else if err != nil {
		return fmt.Errorf("lambada bench: %w", err)
	}
	if err := c.run(ctx, cfg); err != nil {
		return fmt.Errorf("lambada bench: %w", err)
	}
	return nil
}

func (c *benchCommand) run(ctx context.Context, cfg *benchConfig) (err error) {
	loadavg := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(b))) >= 3 {
		loadavg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	dir, err := os.MkdirTemp("", "lambada-bench")
	if err != nil {
		return err
	}
	if !cfg.Keep {
		defer codecache.RemoveAll(dir)
	}

	realistic, err := benchFunction(dir, cfg.FunctionZip)
	if err != nil {
		return err
	}
	minimal, err := minimalFunction(dir, cfg.MinimalZip)
	if err != nil {
		return err
	}
	c.progress("starting the node and the floor server")
	srv, err := c.startServer(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	floor, err := bench.StartFloor()
	if err != nil {
		return err
	}
	defer floor.Close()

	api := benchAPI(srv.URL)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	noop, minName, coldName, sleepName := "bench-noop-"+suffix, "bench-min-"+suffix, "bench-cold-"+suffix, "bench-sleep-"+suffix
	for _, f := range []struct {
		name string
		fn   *benchFn
	}{{noop, realistic}, {minName, minimal}, {coldName, realistic}, {sleepName, realistic}} {
		if err := createBenchFunction(ctx, api, f.name, f.fn.zip, 30); err != nil {
			return err
		}
		if cfg.EndpointURL != "" { // leave the server as it was
			defer deleteBenchFunction(ctx, api, f.name)
		}
	}
	client := bench.NewClient(2 * bench.TargetLevel)
	r := &bench.Report{Levels: benchLevels, Floor: map[int]bench.Result{}, FloorCPU: map[int]*bench.CPU{}}
	load := bench.Load{Duration: cfg.Duration, Requests: cfg.Requests}
	floorT := &warmTarget{Name: "floor", Do: bench.Poster(client, floor.URL, bench.Body), Pid: floor.Pid()}
	fns := []*warmTarget{
		{Name: bench.Realistic, Do: bench.Poster(client, invokeURL(srv.URL, noop), bench.Body), Pid: srv.Pid, Missing: srv.NoCPU, fn: realistic, function: noop},
		{Name: bench.Minimal, Do: bench.Poster(client, invokeURL(srv.URL, minName), bench.Body), Pid: srv.Pid, Missing: srv.NoCPU, fn: minimal, function: minName},
	}
	for _, level := range benchLevels {
		load.Concurrency = level
		c.progress("warm invocations and the floor at concurrency %d", level)
		for _, t := range append([]*warmTarget{floorT}, fns...) {
			t.WarmUp(ctx, level)
			res := t.Measure(ctx, load)
			cpu := t.NodeCPU[level]
			c.progress("  %s: %.0f/s, CPU per request: server %v, its functions %v", t.Name, res.Throughput(), cpu.PerRequest(),
				t.levelChildren[level]/time.Duration(max(res.Requests(), 1)))
			if t.fn != nil && srv.EnvParent != 0 {
				if n, err := bench.Children(srv.EnvParent, t.function); err == nil {
					t.Environments[level] = n
					c.progress("  %s: %d environments alive", t.Name, n)
				}
			}
		}
	}
	r.Floor, r.FloorCPU = floorT.Results, floorT.NodeCPU
	for _, t := range fns {
		run := &bench.FunctionRun{Name: t.Name, Warm: t.Results, NodeCPU: t.NodeCPU, FunctionCPU: t.FunctionCPU(), Environments: t.Environments}
		if err := ctx.Err(); err != nil {
			return err
		}
		c.progress("%s alone, driven by a trivial Runtime API", t.Name)
		if alone, err := bench.FunctionAlone(ctx, t.fn.bootstrap, bench.Body, load); err != nil {
			c.progress("  %s alone: %v", t.Name, err)
		} else {
			run.Alone = &alone
		}
		r.Functions = append(r.Functions, run)
	}

	if !cfg.SkipCold {
		c.progress("%d cold starts beside %d bare starts", cfg.Cold, cfg.Cold)
		cold, bare := coldStarts(ctx, api, client, srv.URL, coldName, func(ctx context.Context) (time.Duration, error) {
			return bench.BareStart(ctx, realistic.bootstrap)
		}, cfg.Cold)
		r.Cold, r.Bare = &cold, &bare
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	if !cfg.SkipCold {
		r.Runtimes = c.measureRuntimes(ctx, cfg, api, client, srv.URL, dir, suffix)
	}

	if !cfg.SkipBurst {
		c.progress("a burst of %d bare starts, then of %d invocations sleeping %v", cfg.Burst, cfg.Burst, cfg.BurstSleep)
		bare := bench.BareBurst(ctx, realistic.bootstrap, cfg.Burst)
		res := burst(ctx, invokeURL(srv.URL, sleepName), cfg.Burst, cfg.BurstSleep)
		r.Burst, r.BareBurst, r.BurstSize, r.BurstSleep = &res, &bare, cfg.Burst, cfg.BurstSleep
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	if !cfg.SkipAuth {
		r.Auth = c.measureAuth(ctx, cfg, dir, noop, realistic, floor.URL)
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	if !cfg.SkipAsync {
		if r.Async, err = c.measureAsync(ctx, cfg, api, srv.URL, dir, realistic, suffix); err != nil {
			return err
		}
	}

	var cluster []*clusterFigure
	var hop *hopFigure
	switch {
	case cfg.Cluster > 0:
		if srv.Pid == 0 {
			return errors.New("--cluster needs the node alone in a child process (not --in-process nor --endpoint-url)")
		}
		nodes, err := c.startCluster(ctx, filepath.Join(dir, "cluster"), cfg.Cluster)
		for _, n := range nodes {
			if n != nil {
				defer n.Close()
			}
		}
		if err != nil {
			return err
		}
		if cluster, hop, err = c.measureCluster(ctx, cfg, nodes, srv, noop, realistic, suffix, floor.URL); err != nil {
			return err
		}
	case len(cfg.Others) > 0:
		nodes := []*benchServer{srv}
		for i, u := range cfg.Others {
			n := &benchServer{URL: u}
			if i < len(cfg.OtherPids) {
				n.Pid = cfg.OtherPids[i]
			}
			nodes = append(nodes, n)
		}
		if cluster, hop, err = c.measureCluster(ctx, cfg, nodes, nil, noop, realistic, suffix, floor.URL); err != nil {
			return err
		}
	}

	per := fmt.Sprintf("%v per warm load", cfg.Duration)
	if cfg.Requests > 0 {
		per = fmt.Sprintf("%d requests per warm load", cfg.Requests)
	}
	fmt.Fprintf(c.Stdout, "lambada bench: node %s; floor server pid %d\n", srv.Desc, floor.Pid())
	fmt.Fprintf(c.Stdout, "%d CPUs, load average %s at the start; %s after a warm-up; %d-byte body, one keep-alive client\n\n",
		runtime.NumCPU(), loadavg, per, len(bench.Body))
	if err := r.WriteTable(c.Stdout); err != nil {
		return err
	}
	if err := writeCluster(c.Stdout, cluster, hop); err != nil {
		return err
	}
	kinds := []struct {
		what string
		r    *bench.Result
	}{{"floor", mergeLevels(r.Floor)}, {"cold", r.Cold}, {"bare", r.Bare}, {"burst", r.Burst}, {"bare burst", r.BareBurst}}
	if a := r.Async; a != nil {
		kinds = append(kinds, struct {
			what string
			r    *bench.Result
		}{"enqueue to start", &a.Start})
		for _, l := range a.Levels {
			accept, only := a.Accept[l], a.AcceptOnly[l]
			kinds = append(kinds, struct {
				what string
				r    *bench.Result
			}{fmt.Sprintf("events accepted, c=%d", l), &accept}, struct {
				what string
				r    *bench.Result
			}{fmt.Sprintf("events accepted, none run, c=%d", l), &only})
		}
	}
	for _, f := range r.Functions {
		kinds = append(kinds, struct {
			what string
			r    *bench.Result
		}{f.Name + " warm", mergeLevels(f.Warm)})
	}
	for _, e := range kinds {
		if e.r != nil && e.r.Errors > 0 {
			fmt.Fprintf(c.Stdout, "\n%s errors by kind:\n", e.what)
			kinds := slices.Collect(maps.Keys(e.r.Kinds))
			slices.SortFunc(kinds, func(a, b string) int { return e.r.Kinds[b] - e.r.Kinds[a] })
			for _, k := range kinds {
				fmt.Fprintf(c.Stdout, "  %5d × %s\n", e.r.Kinds[k], k)
			}
			fmt.Fprintf(c.Stdout, "  the first: %v\n", e.r.Err)
		}
	}
	if cfg.Keep {
		fmt.Fprintf(c.Stdout, "\nthe node's log and data are kept in %s\n", dir)
	}
	if cfg.Check && r.Failed() {
		return errors.New("a target was missed")
	}
	return nil
}

func (c *benchCommand) progress(format string, args ...any) {
	fmt.Fprintf(c.Stderr, "bench: "+format+"\n", args...)
}

// warmTarget measures one server's warm loads and its CPU time over them.
type warmTarget struct {
	Name     string
	Do       func(context.Context) error
	Pid      int    // 0: CPU time not measured
	Missing  string // why not
	fn       *benchFn
	function string // the Lambda function's name, when fn is set

	Results       map[int]bench.Result // by concurrency
	NodeCPU       map[int]*bench.CPU   // the server's CPU time over each load
	Environments  map[int]int          // environments alive after each load
	levelChildren map[int]time.Duration
	children      time.Duration // the CPU time of the server's descendants: its functions
	requests      int
}

// WarmUp sends a few rounds of requests at the given concurrency, so that
// every environment a load at that concurrency needs exists and every
// connection is open.
func (t *warmTarget) WarmUp(ctx context.Context, concurrency int) {
	bench.Run(ctx, bench.Load{Concurrency: concurrency, Requests: max(4*concurrency, 50)}, t.Do)
}

// Measure applies load and reads the server's CPU time around it.
func (t *warmTarget) Measure(ctx context.Context, load bench.Load) bench.Result {
	if t.Results == nil {
		t.Results, t.NodeCPU = make(map[int]bench.Result), make(map[int]*bench.CPU)
		t.Environments, t.levelChildren = make(map[int]int), make(map[int]time.Duration)
	}
	var before, childrenBefore time.Duration
	if t.Pid != 0 {
		var err error
		if before, err = bench.ProcessCPU(t.Pid); err != nil {
			t.Pid, t.Missing = 0, err.Error()
		}
		childrenBefore, _ = bench.DescendantsCPU(t.Pid)
	}
	res := bench.Run(ctx, load, t.Do)
	t.NodeCPU[load.Concurrency] = &bench.CPU{Missing: t.Missing}
	if t.Pid != 0 {
		after, err := bench.ProcessCPU(t.Pid)
		if err != nil {
			t.Pid, t.Missing = 0, err.Error()
		}
		childrenAfter, _ := bench.DescendantsCPU(t.Pid)
		t.NodeCPU[load.Concurrency] = &bench.CPU{Used: after - before, Requests: res.Requests(), Missing: t.Missing}
		d := max(childrenAfter-childrenBefore, 0)
		t.levelChildren[load.Concurrency] = d
		t.children += d
		t.requests += res.Requests()
	}
	t.Results[load.Concurrency] = res
	return res
}

// FunctionCPU is the CPU time of the server's functions over the measured
// loads (environments that ended within a load are missed).
func (t *warmTarget) FunctionCPU() *bench.CPU {
	if t.Pid == 0 {
		return &bench.CPU{Missing: t.Missing}
	}
	return &bench.CPU{Used: t.children, Requests: t.requests}
}

// coldStarts measures n invocations of function name that each start a new
// environment, forced by a configuration change before each, alternating
// with n bare starts (bareStart) so that both see the same machine.
func coldStarts(ctx context.Context, api *lambda.Client, c *http.Client, endpoint, name string, bareStart func(context.Context) (time.Duration, error), n int) (cold, bare bench.Result) {
	u := invokeURL(endpoint, name)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		bare.Add(bareStart(ctx))
		_, err := api.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(name),
			Environment:  &types.Environment{Variables: map[string]string{"BENCH_ITERATION": strconv.Itoa(i)}},
		})
		if err == nil {
			// Until the update is prepared, invocations still run the
			// previous configuration's (warm) environment.
			err = waitReady(ctx, api, name)
		}
		if err != nil {
			cold.Add(0, fmt.Errorf("update configuration: %w", err))
			continue
		}
		t0 := time.Now()
		err = bench.Post(ctx, c, u, bench.Body)
		cold.Add(time.Since(t0), err)
	}
	return cold, bare
}

// burstDeadline bounds a burst: its function's timeout is 30 s.
const burstDeadline = time.Minute

// burst sends n simultaneous invocations that each sleep for sleep, with a
// client of its own.
func burst(ctx context.Context, u string, n int, sleep time.Duration) bench.Result {
	ctx, cancel := context.WithTimeout(ctx, burstDeadline)
	defer cancel()
	c := bench.NewClient(n)
	defer c.CloseIdleConnections()
	return bench.Run(ctx, bench.Load{Concurrency: n, Requests: n}, bench.Poster(c, u, bench.SleepBody(int(sleep/time.Millisecond))))
}

// invokeURL is where a synchronous invocation of name is posted, unsigned
// (the node does not check signatures yet).
func invokeURL(endpoint, name string) string {
	return endpoint + "/2015-03-31/functions/" + name + "/invocations"
}

// mergeLevels is the errors of the results of every level.
func mergeLevels(results map[int]bench.Result) *bench.Result {
	var all bench.Result
	for _, l := range benchLevels {
		r := results[l]
		all.Errors += r.Errors
		if all.Err == nil {
			all.Err = r.Err
		}
		for k, n := range r.Kinds {
			if all.Kinds == nil {
				all.Kinds = map[string]int{}
			}
			all.Kinds[k] += n
		}
	}
	return &all
}

// deleteBenchFunction removes a function the benchmark created on a node it
// did not start.
func deleteBenchFunction(ctx context.Context, api *lambda.Client, name string) {
	_, _ = api.DeleteFunction(context.WithoutCancel(ctx), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
}
