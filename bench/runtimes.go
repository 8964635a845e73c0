package bench

import (
	"fmt"
	"strings"
	"time"
)

// Targets of managed runtimes' hello-world functions, each against figures
// of the same run.
const (
	TargetPythonCold        = 10 * time.Millisecond // Python cold start p50 at most
	TargetPythonColdSpeedup = 5                     // Python cold start p50 ≥ 5× faster than its bare start
	TargetNodeColdSpeedup   = 2                     // Node.js cold start p50 ≥ 2× faster than its bare start
	TargetPythonWarm        = 1.5                   // Python echo warm p50, c=1, ≤ 1.5× the aws-lambda-go echo's
)

// RuntimeRun is a managed runtime's hello-world function through the node:
// its cold starts beside bare starts (the same interpreter running
// Lambada's client and importing the same handler, to its first next), and
// its warm invocations at concurrency 1.
type RuntimeRun struct {
	Runtime    string
	Cold, Bare *Result
	Warm       *Result
	Skipped    string // why it was not measured
}

func (r *Report) runtimeRows(rt *RuntimeRun) []Row {
	python, node := strings.HasPrefix(rt.Runtime, "python"), strings.HasPrefix(rt.Runtime, "nodejs")
	target := ""
	switch {
	case python:
		target = fmt.Sprintf("≤ %g ms and ≥ %d× faster than bare", TargetPythonCold.Seconds()*1000, TargetPythonColdSpeedup)
	case node:
		target = fmt.Sprintf("≥ %d× faster than bare", TargetNodeColdSpeedup)
	}
	name := func(s string) string { return rt.Runtime + ": " + s }
	if rt.Skipped != "" || rt.Cold == nil || rt.Bare == nil {
		return []Row{{Figure: name("cold start"), Value: "skipped: " + rt.Skipped, Target: target, Mark: NotMeasured}}
	}
	c50, b50 := rt.Cold.Percentile(0.5), rt.Bare.Percentile(0.5)
	measured := len(rt.Cold.Latencies) > 0 && len(rt.Bare.Latencies) > 0
	p50 := Row{Figure: name("cold start p50"), Target: target}
	p50.fill(c50, b50, "bare", measured)
	if measured {
		switch {
		case python:
			p50.Mark = verdict(c50 <= TargetPythonCold && TargetPythonColdSpeedup*c50 <= b50)
		case node:
			p50.Mark = verdict(TargetNodeColdSpeedup*c50 <= b50)
		}
	}
	p99 := Row{Figure: name("cold start p99")}
	p99.fill(rt.Cold.Percentile(0.99), rt.Bare.Percentile(0.99), "bare", measured)
	rows := []Row{p50, p99, {Figure: name("cold errors"), Value: of(rt.Cold.Errors, rt.Cold.Requests()),
		Floor: "bare " + of(rt.Bare.Errors, rt.Bare.Requests())}}
	if rt.Warm == nil || len(r.Levels) == 0 {
		return rows
	}
	var goWarm Result
	for _, f := range r.Functions {
		if f.Name == Realistic {
			goWarm = f.Warm[r.Levels[0]]
		}
	}
	warm := Row{Figure: name(fmt.Sprintf("echo warm p50, c=%d", r.Levels[0]))}
	ok := len(rt.Warm.Latencies) > 0 && len(goWarm.Latencies) > 0
	if python {
		warm.Target = fmt.Sprintf("≤ %g× %s", TargetPythonWarm, Realistic)
	}
	warm.fill(rt.Warm.Percentile(0.5), goWarm.Percentile(0.5), Realistic, ok)
	if python && ok {
		warm.Mark = verdict(float64(rt.Warm.Percentile(0.5)) <= TargetPythonWarm*float64(goWarm.Percentile(0.5)))
	}
	return append(rows, warm, Row{Figure: name("echo warm errors"), Value: of(rt.Warm.Errors, rt.Warm.Requests())})
}
