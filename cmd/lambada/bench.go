package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/internal/testfn"
)

const benchUsage = `Usage: lambada bench [flags]

Measures Lambada beside floors taken in the same run, and prints a table of
each figure, its floor, their ratio and the target it must meet:

  warm       synchronous invocations of a no-op aws-lambda-go function at
             concurrency 1 (p50, p99) and throughput at 1, 8 and 64, beside
             a keep-alive loopback round trip to a trivial Go server in its
             own process (the floor), same client, same 100-byte body
  CPU        the server process's CPU time per warm invocation beside the
             floor server's per request (from /proc/<pid>/stat)
  cold       invocations that must start a new environment (forced by a
             configuration change) beside starts of the same bootstrap by
             hand, timed to its first GET next; the two alternate
  burst      N simultaneous invocations of a function that sleeps 1 s

By default the node under test is 'lambada serve' re-executed from this
binary on a free 127.0.0.1 port with its data in a temporary directory.
--in-process runs it inside this process instead (no CPU figure);
--endpoint-url measures a running server on this machine (its CPU figure
needs --server-pid). The benchmark deploys the test function of
internal/testfn, built with 'go build' from the module source this binary
was built from (so it needs the Go toolchain and the source tree), or
--function-zip: a zip of that function's bootstrap.

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
	EndpointURL string
	ServerPid   int
	InProcess   bool
	FunctionZip string
	Check       bool
	Keep        bool
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
	fs.StringVar(&cfg.EndpointURL, "endpoint-url", "", "measure the Lambada server at this 127.0.0.1 URL instead of starting one")
	fs.IntVar(&cfg.ServerPid, "server-pid", 0, "with --endpoint-url: the server's process id, to measure its CPU time")
	fs.BoolVar(&cfg.InProcess, "in-process", false, "run the node inside this process (its CPU time cannot be told apart)")
	fs.StringVar(&cfg.FunctionZip, "function-zip", "", "the test function's deployment package (default: built from internal/testfn/fn)")
	fs.BoolVar(&cfg.Check, "check", false, "fail when a measured figure misses its target")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory: the node's log (serve.log) and data")
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, benchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.Duration <= 0 && cfg.Requests <= 0:
		return nil, errors.New("--duration or --requests must be positive")
	case cfg.Requests < 0 || cfg.Cold < 0 || cfg.Burst < 0:
		return nil, errors.New("--requests, --cold and --burst cannot be negative")
	case cfg.BurstSleep < 0 || cfg.BurstSleep > 10*time.Second:
		return nil, errors.New("--burst-sleep must be between 0 and 10s")
	case cfg.InProcess && cfg.EndpointURL != "":
		return nil, errors.New("--in-process and --endpoint-url exclude each other")
	case cfg.ServerPid != 0 && cfg.EndpointURL == "":
		return nil, errors.New("--server-pid goes with --endpoint-url")
	}
	if cfg.EndpointURL != "" {
		u, err := url.Parse(cfg.EndpointURL)
		if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--endpoint-url %q: want http://127.0.0.1:PORT (the benchmark sends traffic to this machine only)", cfg.EndpointURL)
		}
		cfg.EndpointURL = strings.TrimRight(cfg.EndpointURL, "/")
	}
	cfg.SkipCold = cfg.SkipCold || cfg.Cold == 0
	cfg.SkipBurst = cfg.SkipBurst || cfg.Burst == 0
	return cfg, nil
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

	zipped, bootstrap, err := benchFunction(dir, cfg.FunctionZip)
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
	names := map[string]int32{"bench-noop-" + suffix: 30, "bench-cold-" + suffix: 30, "bench-sleep-" + suffix: 30}
	for name, timeout := range names {
		if err := createBenchFunction(ctx, api, name, zipped, timeout); err != nil {
			return err
		}
		if cfg.EndpointURL != "" { // leave the server as it was
			defer func() {
				_, _ = api.DeleteFunction(context.WithoutCancel(ctx), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
			}()
		}
	}
	client := bench.NewClient(2 * bench.TargetLevel)
	r := &bench.Report{Levels: benchLevels}

	load := bench.Load{Duration: cfg.Duration, Requests: cfg.Requests}
	warm := &warmTarget{Name: "lambada", Do: bench.Poster(client, invokeURL(srv.URL, "bench-noop-"+suffix), bench.Body), Pid: srv.Pid, Missing: srv.NoCPU}
	floorT := &warmTarget{Name: "floor", Do: bench.Poster(client, floor.URL, bench.Body), Pid: floor.Pid()}
	for _, level := range benchLevels {
		c.progress("warm invocations and the floor at concurrency %d", level)
		load.Concurrency = level
		for _, t := range []*warmTarget{floorT, warm} {
			t.WarmUp(ctx, level)
			cpu, children, n := t.cpu, t.children, t.requests
			t.Measure(ctx, load)
			if n := t.requests - n; n > 0 {
				c.progress("  %s: %.0f/s, CPU per request: server %v, its functions %v", t.Name, t.Results[level].Throughput(),
					(t.cpu-cpu)/time.Duration(n), (t.children-children)/time.Duration(n))
			}
		}
	}
	r.Warm, r.ServerCPU, r.FunctionCPU = warm.Results, warm.CPU(), warm.FunctionCPU()
	r.Floor, r.FloorCPU = floorT.Results, floorT.CPU()
	if err := ctx.Err(); err != nil {
		return err
	}
	c.progress("the function alone, driven by a trivial Runtime API")
	if alone, err := bench.FunctionAlone(ctx, bootstrap, bench.Body, load); err != nil {
		c.progress("  the function alone: %v", err)
	} else {
		r.Alone = &alone
	}

	if !cfg.SkipCold {
		c.progress("%d cold starts beside %d bare starts", cfg.Cold, cfg.Cold)
		cold, bare := coldStarts(ctx, api, client, srv.URL, "bench-cold-"+suffix, bootstrap, cfg.Cold)
		r.Cold, r.Bare = &cold, &bare
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	if !cfg.SkipBurst {
		c.progress("a burst of %d bare starts, then of %d invocations sleeping %v", cfg.Burst, cfg.Burst, cfg.BurstSleep)
		bare := bench.BareBurst(ctx, bootstrap, cfg.Burst)
		res := burst(ctx, invokeURL(srv.URL, "bench-sleep-"+suffix), cfg.Burst, cfg.BurstSleep)
		r.Burst, r.BareBurst, r.BurstSize, r.BurstSleep = &res, &bare, cfg.Burst, cfg.BurstSleep
		if err := ctx.Err(); err != nil {
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
	for _, e := range []struct {
		what string
		r    *bench.Result
	}{{"warm", mergeLevels(r.Warm)}, {"floor", mergeLevels(r.Floor)}, {"cold", r.Cold}, {"bare", r.Bare}, {"burst", r.Burst}, {"bare burst", r.BareBurst}} {
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
	Name    string
	Do      func(context.Context) error
	Pid     int    // 0: CPU time not measured
	Missing string // why not

	Results  map[int]bench.Result // by concurrency
	cpu      time.Duration
	children time.Duration // the CPU time of the server's descendants: its functions
	requests int
}

// WarmUp sends a few rounds of requests at the given concurrency, so that
// every environment a load at that concurrency needs exists and every
// connection is open.
func (t *warmTarget) WarmUp(ctx context.Context, concurrency int) {
	bench.Run(ctx, bench.Load{Concurrency: concurrency, Requests: max(4*concurrency, 50)}, t.Do)
}

// Measure applies load and reads the server's CPU time around it.
func (t *warmTarget) Measure(ctx context.Context, load bench.Load) bench.Result {
	var before, childrenBefore time.Duration
	if t.Pid != 0 {
		var err error
		if before, err = bench.ProcessCPU(t.Pid); err != nil {
			t.Pid, t.Missing = 0, err.Error()
		}
		childrenBefore, _ = bench.DescendantsCPU(t.Pid)
	}
	res := bench.Run(ctx, load, t.Do)
	if t.Pid != 0 {
		after, err := bench.ProcessCPU(t.Pid)
		if err != nil {
			t.Pid, t.Missing = 0, err.Error()
		}
		childrenAfter, _ := bench.DescendantsCPU(t.Pid)
		t.cpu += after - before
		t.children += max(childrenAfter-childrenBefore, 0)
		t.requests += res.Requests()
	}
	if t.Results == nil {
		t.Results = make(map[int]bench.Result)
	}
	t.Results[load.Concurrency] = res
	return res
}

// CPU is the server's CPU time over the measured loads.
func (t *warmTarget) CPU() *bench.CPU {
	if t.Pid == 0 {
		return &bench.CPU{Missing: t.Missing}
	}
	return &bench.CPU{Used: t.cpu, Requests: t.requests}
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
// with n bare starts of bootstrap so that both see the same machine.
func coldStarts(ctx context.Context, api *lambda.Client, c *http.Client, endpoint, name, bootstrap string, n int) (cold, bare bench.Result) {
	u := invokeURL(endpoint, name)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		bare.Add(bench.BareStart(ctx, bootstrap))
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

// benchServer is the node under test.
type benchServer struct {
	URL   string
	Pid   int    // whose CPU time to read; 0: none
	NoCPU string // why there is none
	Desc  string
	close func() error
}

func (s *benchServer) Close() error { return s.close() }

func (c *benchCommand) startServer(ctx context.Context, cfg *benchConfig, dir string) (*benchServer, error) {
	switch {
	case cfg.EndpointURL != "":
		s := &benchServer{URL: cfg.EndpointURL, Pid: cfg.ServerPid, Desc: "at " + cfg.EndpointURL, close: func() error { return nil }}
		if s.Pid == 0 {
			s.NoCPU = "no --server-pid"
		} else {
			s.Desc += fmt.Sprintf(" (pid %d)", s.Pid)
		}
		return s, nil
	case cfg.InProcess:
		logf, err := os.Create(filepath.Join(dir, "serve.log"))
		if err != nil {
			return nil, err
		}
		m := &Main{Listen: "127.0.0.1:0", Data: filepath.Join(dir, "data"), Region: "us-east-1", Account: "000000000000",
			Logger: slog.New(slog.NewTextHandler(logf, nil))}
		if err := m.Open(ctx); err != nil {
			logf.Close()
			return nil, err
		}
		return &benchServer{URL: "http://" + m.Addr(), NoCPU: "in-process", Desc: "in this process at http://" + m.Addr(),
			close: func() error { return errors.Join(m.Close(), logf.Close()) }}, nil
	}
	return c.startChild(ctx, dir)
}

// startChild runs `lambada serve` from this binary on a free port, with its
// log in dir, and waits until it answers.
func (c *benchCommand) startChild(ctx context.Context, dir string) (*benchServer, error) {
	self := c.Self
	if len(self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		self = []string{exe}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(self[0], append(self[1:], "serve", "--listen", addr, "--data", filepath.Join(dir, "data"))...)
	cmd.Env = append(os.Environ(), c.SelfEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(15 * time.Second)
		defer t.Stop()
		select {
		case err := <-exited:
			return err
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("lambada serve did not stop within 15 s: killed")
		}
	}
	s := &benchServer{URL: "http://" + addr, Pid: cmd.Process.Pid, close: stop,
		Desc: fmt.Sprintf("in a child process ('lambada serve', pid %d) at http://%s", cmd.Process.Pid, addr)}
	deadline := time.Now().Add(30 * time.Second)
	probe := bench.NewClient(1)
	defer probe.CloseIdleConnections()
	for {
		resp, err := probe.Get(s.URL + "/2015-03-31/functions/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("lambada serve exited (%v):\n%s", err, tail(log, 2048))
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), stop())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("lambada serve did not answer within 30 s"), stop())
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// benchFunction returns the test function's deployment package and the
// path of its bootstrap unpacked under dir, for bare starts.
func benchFunction(dir, zipPath string) ([]byte, string, error) {
	var zipped []byte
	var err error
	if zipPath != "" {
		zipped, err = os.ReadFile(zipPath)
	} else if zipped, err = testfn.Zip(dir); err != nil {
		err = fmt.Errorf("%w\n(build the test function yourself and pass --function-zip)", err)
	}
	if err != nil {
		return nil, "", err
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, "", fmt.Errorf("function zip: %w", err)
	}
	f, err := zr.Open("bootstrap")
	if err != nil {
		return nil, "", fmt.Errorf("function zip: %w", err)
	}
	defer f.Close()
	bootstrap := filepath.Join(dir, "bare", "bootstrap")
	if err := os.MkdirAll(filepath.Dir(bootstrap), 0o755); err != nil {
		return nil, "", err
	}
	out, err := os.OpenFile(bootstrap, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		return nil, "", err
	}
	return zipped, bootstrap, out.Close()
}

// benchAPI is a Lambda API client for the node, with retries off.
func benchAPI(endpoint string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(localAccessKeyID, localSecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

func createBenchFunction(ctx context.Context, api *lambda.Client, name string, zipped []byte, timeout int32) error {
	_, err := api.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/lambada-bench"),
		Code:         &types.FunctionCode{ZipFile: zipped},
		Timeout:      aws.Int32(timeout),
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return waitReady(ctx, api, name)
}

// waitReady waits, as AWS's own waiters do but polling every few
// milliseconds, until the function name is Active and its last update
// Successful.
func waitReady(ctx context.Context, api *lambda.Client, name string) error {
	in := &lambda.GetFunctionInput{FunctionName: aws.String(name)}
	fast := func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Millisecond, 50*time.Millisecond
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(api, fast).Wait(ctx, in, time.Minute); err != nil {
		return fmt.Errorf("wait for %s: %w", name, err)
	}
	return nil
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
