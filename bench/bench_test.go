package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lambada-dev/lambada/internal/poll"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.5, 7},
		{"one p99", []time.Duration{7}, 0.99, 7},
		{"two p50 is the lower", []time.Duration{1, 2}, 0.5, 1},
		{"three p50 is the middle", []time.Duration{1, 2, 3}, 0.5, 2},
		{"hundred p50", hundred, 0.5, 50},
		{"hundred p99", hundred, 0.99, 99},
		{"hundred p100", hundred, 1, 100},
		{"tiny q is the minimum", hundred, 0.0001, 1},
		{"twenty p99 is the maximum", hundred[:20], 0.99, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("Percentile(%d values, %g) = %v, want %v", len(tc.sorted), tc.q, got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(312, 118); math.Abs(got-2.644) > 0.001 {
		t.Errorf("Ratio(312, 118) = %v", got)
	}
	if got := Ratio(1, 0); !math.IsNaN(got) {
		t.Errorf("Ratio(1, 0) = %v, want NaN", got)
	}
	if got := times(Ratio(1, 0)); got != "—" {
		t.Errorf("times(NaN) = %q", got)
	}
	if got := times(Ratio(312, 118)); got != "2.64×" {
		t.Errorf("times = %q", got)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		312 * time.Microsecond: "312 µs",
		ms(4.123):              "4.12 ms",
		ms(1400):               "1.40 s",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestResult_Add(t *testing.T) {
	var r Result
	boom := errors.New("boom")
	for _, d := range []time.Duration{5, 1, 3} {
		r.Add(d, nil)
	}
	r.Add(9, boom)
	r.Add(9, errors.New("second"))
	if got := r.Latencies; len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 5 {
		t.Errorf("latencies %v, want sorted [1 3 5]", got)
	}
	if r.Errors != 2 || r.Err != boom || r.Requests() != 5 {
		t.Errorf("errors %d, first %v, requests %d", r.Errors, r.Err, r.Requests())
	}
	if r.Percentile(0.5) != 3 {
		t.Errorf("p50 %v", r.Percentile(0.5))
	}
}

func TestRun_Requests(t *testing.T) {
	var calls, running, most atomic.Int64
	res := Run(context.Background(), Load{Concurrency: 4, Requests: 103}, func(context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if calls.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	})
	if calls.Load() != 103 || res.Requests() != 103 || res.Errors != 10 || len(res.Latencies) != 93 {
		t.Errorf("calls %d, requests %d, errors %d, latencies %d", calls.Load(), res.Requests(), res.Errors, len(res.Latencies))
	}
	if most.Load() > 4 {
		t.Errorf("%d requests at once, want at most 4", most.Load())
	}
	for i := 1; i < len(res.Latencies); i++ {
		if res.Latencies[i] < res.Latencies[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
	if res.Wall <= 0 || res.Throughput() <= 0 {
		t.Errorf("wall %v, throughput %v", res.Wall, res.Throughput())
	}
}

func TestRun_Burst(t *testing.T) {
	// All n workers are released together: each waits for all the others.
	const n = 50
	var arrived atomic.Int64
	all := make(chan struct{})
	res := Run(context.Background(), Load{Concurrency: n, Requests: n}, func(ctx context.Context) error {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if res.Errors != 0 || len(res.Latencies) != n {
		t.Errorf("%d errors, %d successes", res.Errors, len(res.Latencies))
	}
}

func TestRun_StopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	res := Run(ctx, Load{Concurrency: 2, Duration: time.Hour}, func(context.Context) error {
		if calls.Add(1) == 10 {
			cancel()
		}
		return nil
	})
	if res.Requests() < 10 || res.Requests() > 11 {
		t.Errorf("%d requests after cancelling at the 10th", res.Requests())
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime 250, stime 50 ticks); the name holds ") (".
	stat := "1234 (a) (b c) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 100 1000000 500"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU("1234 (x) S 1"); err == nil {
		t.Error("short stat: no error")
	}
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Errorf("ProcessCPU(self): %v", err)
	}
}

func TestDescendantsCPU(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	poll.Until(t, 10*time.Second, "a busy child uses CPU time", func() bool {
		d, err := DescendantsCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		return d > 0
	})
	if _, err := DescendantsCPU(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// results makes a Result of n requests that all took d.
func results(n int, d time.Duration, wall time.Duration, errs int) Result {
	r := Result{Wall: wall, Errors: errs}
	for range n {
		r.Latencies = append(r.Latencies, d)
	}
	return r
}

func goodReport() *Report {
	levels := func(r1, r8, r64 Result) map[int]Result { return map[int]Result{1: r1, 8: r8, 64: r64} }
	cpu := func(perReq float64) map[int]*CPU {
		return map[int]*CPU{1: {Used: ms(perReq * 100), Requests: 100}, 8: {Used: ms(perReq * 100), Requests: 100}, 64: {Used: ms(perReq * 100), Requests: 100}}
	}
	return &Report{
		Levels: []int{1, 8, 64},
		Floor: levels(results(100, ms(0.12), time.Second/60, 0), results(100, ms(0.4), time.Second/200, 0),
			results(100, ms(3), time.Second/200, 0)), // 20000/s at 64
		FloorCPU: cpu(0.03),
		Functions: []*FunctionRun{
			{Name: Realistic,
				Warm: levels(results(100, ms(0.4), time.Second/30, 0), results(100, ms(1), time.Second/50, 0),
					results(100, ms(8), time.Second/70, 0)), // 7000/s at 64
				NodeCPU: cpu(0.12), FunctionCPU: &CPU{Used: ms(75), Requests: 300},
				Alone:        &FunctionResult{Result: results(100, ms(0.15), time.Second/50, 0), CPU: CPU{Used: ms(25), Requests: 100}}, // bound 8000/s
				Environments: map[int]int{1: 1, 8: 8, 64: 70}},
			{Name: Minimal,
				Warm: levels(results(100, ms(0.25), time.Second/30, 0), results(100, ms(1), time.Second/100, 0),
					results(100, ms(8), time.Second/80, 0)), // 8000/s at 64: 0.4× the floor
				NodeCPU: cpu(0.09), FunctionCPU: &CPU{Used: ms(3), Requests: 300},
				Alone:        &FunctionResult{Result: results(100, ms(0.01), time.Second/50, 0), CPU: CPU{Used: ms(2), Requests: 100}},
				Environments: map[int]int{1: 1, 8: 8, 64: 64}},
		},
		Cold: &Result{Latencies: []time.Duration{ms(4), ms(4.2)}}, Bare: &Result{Latencies: []time.Duration{ms(3), ms(3.5)}},
		Burst: &Result{Latencies: []time.Duration{ms(1200), ms(2400)}, Wall: ms(2600)}, BurstSize: 2, BurstSleep: time.Second,
		BareBurst: &Result{Latencies: []time.Duration{ms(500), ms(1000)}}, // p99 floor 2 s: the target 2.5 s
		Async: &AsyncRun{Levels: []int{1, 64},
			Publish:    map[int]Result{1: results(100, ms(0.1), time.Second/100, 0), 64: results(100, ms(1), time.Second/500, 0)}, // 10000/s, 50000/s
			Accept:     map[int]Result{1: results(100, ms(0.2), time.Second/50, 0), 64: results(100, ms(2), time.Second/250, 0)},  // 0.5× each
			AcceptOnly: map[int]Result{1: results(100, ms(0.2), time.Second/60, 0), 64: results(100, ms(2), time.Second/300, 0)},
			Start:      results(100, ms(4), time.Second, 0)},
	}
}

func marks(r *Report) map[string]Mark {
	m := map[string]Mark{}
	for _, row := range r.Rows() {
		if row.Target != "" {
			m[row.Figure] = row.Mark
		}
	}
	return m
}

func TestReport_Targets(t *testing.T) {
	defer func(n int) { NumCPU = n }(NumCPU)
	NumCPU = 2
	want := func(t *testing.T, r *Report, figure string, mark Mark) {
		t.Helper()
		if got := marks(r)[figure]; got != mark {
			t.Errorf("%s: %q, want %q", figure, got, mark)
		}
	}
	min, real := func(r *Report) *FunctionRun { return r.Functions[1] }, func(r *Report) *FunctionRun { return r.Functions[0] }
	t.Run("all pass", func(t *testing.T) {
		r := goodReport()
		for _, f := range []string{"minimal: warm p50, c=1", "minimal: throughput, c=64", "minimal: node CPU per invocation, c=64",
			"aws-lambda-go: throughput, c=64", "aws-lambda-go: environments alive, c=64", "minimal: environments alive, c=64",
			"cold start p50", "burst p99", "events accepted, c=1", "events accepted, c=64", "events accepted, none run, c=64",
			"enqueue to start p50, idle node"} {
			want(t, r, f, Pass)
		}
		if r.Failed() {
			t.Error("Failed with every target met")
		}
	})
	t.Run("minimal p50 over 2.5×", func(t *testing.T) {
		r := goodReport()
		min(r).Warm[1] = results(100, ms(0.31), time.Second/30, 0)
		want(t, r, "minimal: warm p50, c=1", Fail)
		if !r.Failed() {
			t.Error("not Failed")
		}
	})
	t.Run("minimal p50 at exactly 2.5×", func(t *testing.T) {
		r := goodReport()
		min(r).Warm[1] = results(100, ms(0.3), time.Second/30, 0)
		want(t, r, "minimal: warm p50, c=1", Pass)
	})
	t.Run("the realistic function has no p50 target", func(t *testing.T) {
		r := goodReport()
		real(r).Warm[1] = results(100, ms(5), time.Second/30, 0)
		if r.Failed() {
			t.Error("Failed")
		}
	})
	t.Run("minimal throughput under 0.35×", func(t *testing.T) {
		r := goodReport()
		min(r).Warm[64] = results(100, ms(8), time.Second/68, 0) // 0.34×
		want(t, r, "minimal: throughput, c=64", Fail)
	})
	t.Run("minimal throughput with errors", func(t *testing.T) {
		r := goodReport()
		min(r).Warm[64] = results(100, ms(8), time.Second/80, 1)
		want(t, r, "minimal: throughput, c=64", Fail)
	})
	t.Run("node CPU over 3.5×", func(t *testing.T) {
		r := goodReport()
		min(r).NodeCPU[64] = &CPU{Used: ms(10.6), Requests: 100} // 106 µs against 30
		want(t, r, "minimal: node CPU per invocation, c=64", Fail)
	})
	t.Run("realistic under 0.75× its alone bound", func(t *testing.T) {
		r := goodReport()
		real(r).Warm[64] = results(100, ms(8), time.Second/59, 0) // 5900/s against 8000
		want(t, r, "aws-lambda-go: throughput, c=64", Fail)
	})
	t.Run("too many environments", func(t *testing.T) {
		r := goodReport()
		real(r).Environments[64] = 73
		want(t, r, "aws-lambda-go: environments alive, c=64", Fail)
	})
	t.Run("cold over bare + 1.5 ms", func(t *testing.T) {
		r := goodReport()
		r.Cold = &Result{Latencies: []time.Duration{ms(4.6), ms(6)}}
		want(t, r, "cold start p50", Fail)
	})
	t.Run("burst error", func(t *testing.T) {
		r := goodReport()
		r.Burst.Errors = 1
		want(t, r, "burst p99", Fail)
	})
	t.Run("burst p99 over 1.25× bare+sleep", func(t *testing.T) {
		r := goodReport()
		r.Burst.Latencies[1] = ms(2501)
		want(t, r, "burst p99", Fail)
	})
	t.Run("events accepted under 0.5× the publishes", func(t *testing.T) {
		r := goodReport()
		r.Async.Accept[64] = results(100, ms(2), time.Second/249, 0)
		want(t, r, "events accepted, c=64", Fail)
	})
	t.Run("events refused", func(t *testing.T) {
		r := goodReport()
		r.Async.AcceptOnly[1] = results(100, ms(0.2), time.Second/60, 1)
		want(t, r, "events accepted, none run, c=1", Fail)
	})
	t.Run("enqueue to start over 5 ms", func(t *testing.T) {
		r := goodReport()
		r.Async.Start = results(100, ms(5.1), time.Second, 0)
		want(t, r, "enqueue to start p50, idle node", Fail)
	})
	t.Run("skipped sections are not measured", func(t *testing.T) {
		r := goodReport()
		r.Async = nil
		want(t, r, "asynchronous invocation", NotMeasured)
		r.Cold, r.Bare, r.Burst = nil, nil, nil
		min(r).NodeCPU[64] = &CPU{Missing: "in-process"}
		min(r).Environments = nil
		want(t, r, "cold start", NotMeasured)
		want(t, r, "burst", NotMeasured)
		want(t, r, "minimal: node CPU per invocation, c=64", NotMeasured)
		want(t, r, "minimal: environments alive, c=64", NotMeasured)
		if r.Failed() {
			t.Error("Failed without measurements")
		}
	})
	t.Run("no successful warm request", func(t *testing.T) {
		r := goodReport()
		min(r).Warm[1] = Result{Errors: 5}
		want(t, r, "minimal: warm p50, c=1", NotMeasured)
	})
}

func TestReport_WriteTable(t *testing.T) {
	defer func(n int) { NumCPU = n }(NumCPU)
	NumCPU = 2
	var b strings.Builder
	if err := goodReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	cells := map[string][]string{}
	for _, line := range strings.Split(b.String(), "\n") {
		c := strings.Split(line+" ", " | ")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		cells[c[0]] = c
	}
	for figure, want := range map[string][]string{
		"figure":                                     {"figure", "lambada", "floor", "ratio", "target", "result"},
		"minimal: warm p50, c=1":                     {"minimal: warm p50, c=1", "250 µs", "floor 120 µs", "2.08×", "≤ 2.5× floor", "pass"},
		"aws-lambda-go: warm p50, c=1":               {"aws-lambda-go: warm p50, c=1", "400 µs", "floor 120 µs", "3.33×", "", ""},
		"minimal: throughput, c=64":                  {"minimal: throughput, c=64", "8000/s", "floor 20000/s", "0.40×", "≥ 0.35× floor, no errors", "pass"},
		"aws-lambda-go: throughput, c=64":            {"aws-lambda-go: throughput, c=64", "7000/s", "alone bound 8000/s", "0.88×", "≥ 0.75× alone bound, no errors", "pass"},
		"minimal: node CPU per invocation, c=64":     {"minimal: node CPU per invocation, c=64", "90 µs", "floor server 30 µs", "3.00×", "≤ 3.5× floor server", "pass"},
		"aws-lambda-go: environments alive, c=64":    {"aws-lambda-go: environments alive, c=64", "70", "", "", "≤ 72", "pass"},
		"cold start p50":                             {"cold start p50", "4.00 ms", "bare 3.00 ms", "1.33× (+1.00 ms)", "≤ bare + 1.5 ms", "pass"},
		"burst p99":                                  {"burst p99", "2.40 s", "bare+sleep 2.00 s", "1.20×", "no errors, ≤ 1.25× bare+sleep", "pass"},
		"burst errors":                               {"burst errors", "0 of 2", "", "", "", ""},
		"aws-lambda-go: function CPU per invocation": {"aws-lambda-go: function CPU per invocation", "250 µs", "alone 250 µs", "1.00×", "", ""},
		"aws-lambda-go: alone, CPU per invocation":   {"aws-lambda-go: alone, CPU per invocation", "250 µs", "at most 8000/s on 2 CPUs", "", "", ""},
	} {
		if got := cells[figure]; !slices.Equal(got, want) {
			t.Errorf("row %q:\n got %q\nwant %q", figure, got, want)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	col := func(l string) int { return utf8.RuneCountInString(l[:strings.Index(l, "|")]) }
	for _, l := range lines[1:] {
		if col(l) != col(lines[0]) {
			t.Errorf("column not aligned:\n%s\n%s", lines[0], l)
		}
	}
}
