package bench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"
)

// The speed targets Lambada sets itself, each checked against figures
// measured in the same run.
const (
	TargetLevel = 64 // the concurrency of the throughput, CPU and environment targets

	TargetMinimalP50        = 2.5  // minimal function, c=1: warm p50 ≤ 2.5× the floor's
	TargetMinimalThroughput = 0.35 // minimal function, c=TargetLevel: ≥ 0.35× the floor's throughput, no errors
	TargetNodeCPU           = 3.5  // minimal function, c=TargetLevel: node CPU per invocation ≤ 3.5× the floor server's per request
	TargetAloneShare        = 0.75 // realistic function, c=TargetLevel: ≥ 0.75× its function-alone bound, no errors
	TargetEnvironments      = 72   // environments alive at the end of the c=TargetLevel load

	TargetColdOverBare = 1500 * time.Microsecond // cold start p50 ≤ bare start p50 + 1.5 ms
	TargetBurstRatio   = 1.25                    // burst: no errors, p99 ≤ 1.25× (bare burst p99 + sleep)
)

// The functions a report measures.
const (
	Realistic = "aws-lambda-go" // the test function, built with aws-lambda-go
	Minimal   = "minimal"       // a raw Runtime API loop: the platform's own cost
)

var (
	coldTarget  = fmt.Sprintf("≤ bare + %g ms", TargetColdOverBare.Seconds()*1000)
	burstTarget = fmt.Sprintf("no errors, ≤ %g× bare+sleep", TargetBurstRatio)
)

// Report is one run's figures beside their floors. A nil section was not
// measured.
type Report struct {
	Levels   []int          // concurrency levels, the first is the latency level
	Floor    map[int]Result // the floor's loads, by concurrency level
	FloorCPU map[int]*CPU   // the floor server's CPU time over each load

	Functions []*FunctionRun // each function's warm loads through the node

	Cold, Bare *Result // cold starts through Lambada, bare starts of the same bootstrap

	Burst      *Result
	BareBurst  *Result // the same number of bare starts at once (BareBurst); nil: not measured
	BurstSize  int
	BurstSleep time.Duration // how long each burst invocation sleeps: the burst's floor

	Async *AsyncRun // Event invocations beside JetStream's publishes

	Runtimes []*RuntimeRun // managed runtimes' hello-world functions

	Auth *AuthRun // a node with --auth beside one without
}

// FunctionRun is one function's warm loads through the node.
type FunctionRun struct {
	Name         string
	Warm         map[int]Result // by concurrency level
	NodeCPU      map[int]*CPU   // the node's CPU time over each load
	FunctionCPU  *CPU           // the CPU time of the node's functions over all loads; nil: not measured
	Alone        *FunctionResult
	Environments map[int]int // environments alive at the end of each load; absent: not counted
}

// NumCPU is the number of CPUs the "at most" bound of the function alone
// divides (runtime.NumCPU; tests set it).
var NumCPU = runtime.NumCPU()

// CPU is a process's CPU time over some requests.
type CPU struct {
	Used     time.Duration
	Requests int
	Missing  string // why it was not measured, if it was not
}

// PerRequest is Used divided by Requests.
func (c *CPU) PerRequest() time.Duration {
	if c == nil || c.Requests == 0 {
		return 0
	}
	return c.Used / time.Duration(c.Requests)
}

func (c *CPU) measured() bool { return c != nil && c.Missing == "" && c.Requests > 0 }

// Bound is the throughput the function alone allows on NumCPU CPUs: what no
// node can exceed with it.
func (a *FunctionResult) Bound() float64 {
	if a == nil || a.CPU.PerRequest() == 0 {
		return 0 // not measured (CPU time is counted in 10 ms ticks)
	}
	return Ratio(float64(NumCPU)*float64(time.Second), float64(a.CPU.PerRequest()))
}

// Mark is a row's verdict on its target.
type Mark string

const (
	NoTarget    Mark = ""
	Pass        Mark = "pass"
	Fail        Mark = "FAIL"
	NotMeasured Mark = "not measured"
)

// Row is one line of the table.
type Row struct {
	Figure, Value, Floor, Ratio, Target string
	Mark                                Mark
}

// Failed reports whether a measured figure missed its target.
func (r *Report) Failed() bool {
	for _, row := range r.Rows() {
		if row.Mark == Fail {
			return true
		}
	}
	return false
}

// Rows returns the table's rows with every target checked.
func (r *Report) Rows() []Row {
	var rows []Row
	for _, f := range r.Functions {
		rows = append(rows, r.functionRows(f)...)
	}
	var floorErrs, floorN int
	for _, l := range r.Levels {
		floorErrs, floorN = floorErrs+r.Floor[l].Errors, floorN+r.Floor[l].Requests()
	}
	if len(r.Levels) > 0 {
		rows = append(rows, Row{Figure: "floor errors", Value: of(floorErrs, floorN)})
	}
	rows = append(rows, r.coldRows()...)
	for _, rt := range r.Runtimes {
		rows = append(rows, r.runtimeRows(rt)...)
	}
	return append(append(append(rows, r.burstRows()...), r.asyncRows()...), r.authRows()...)
}

// functionRows are the rows of one function's warm loads.
func (r *Report) functionRows(f *FunctionRun) []Row {
	var rows []Row
	name := func(s string) string { return f.Name + ": " + s }
	minimal, realistic := f.Name == Minimal, f.Name == Realistic
	if len(r.Levels) > 0 {
		l := r.Levels[0]
		w, fl := f.Warm[l], r.Floor[l]
		measured := len(w.Latencies) > 0 && len(fl.Latencies) > 0
		p50 := Row{Figure: name(fmt.Sprintf("warm p50, c=%d", l))}
		if minimal {
			p50.Target = fmt.Sprintf("≤ %g× floor", TargetMinimalP50)
		}
		p50.fill(w.Percentile(0.5), fl.Percentile(0.5), "floor", measured)
		if minimal && measured {
			p50.Mark = verdict(float64(w.Percentile(0.5)) <= TargetMinimalP50*float64(fl.Percentile(0.5)))
		}
		p99 := Row{Figure: name(fmt.Sprintf("warm p99, c=%d", l))}
		p99.fill(w.Percentile(0.99), fl.Percentile(0.99), "floor", measured)
		rows = append(rows, p50, p99)
	}
	var errs, n int
	for _, l := range r.Levels {
		w, fl := f.Warm[l], r.Floor[l]
		errs, n = errs+w.Errors, n+w.Requests()
		row := Row{Figure: name(fmt.Sprintf("throughput, c=%d", l)), Value: rate(w.Throughput()), Floor: "floor " + rate(fl.Throughput()),
			Ratio: times(Ratio(w.Throughput(), fl.Throughput()))}
		if l == TargetLevel {
			switch {
			case minimal:
				row.Target = fmt.Sprintf("≥ %g× floor, no errors", TargetMinimalThroughput)
				row.Mark = NotMeasured
				if w.Requests() > 0 && fl.Requests() > 0 {
					row.Mark = verdict(w.Errors == 0 && Ratio(w.Throughput(), fl.Throughput()) >= TargetMinimalThroughput)
				}
			case realistic:
				bound := f.Alone.Bound()
				row.Floor, row.Ratio = "alone bound n/a", "—"
				if bound > 0 {
					row.Floor, row.Ratio = "alone bound "+rate(bound), times(Ratio(w.Throughput(), bound))
				}
				row.Target = fmt.Sprintf("≥ %g× alone bound, no errors", TargetAloneShare)
				row.Mark = NotMeasured
				if w.Requests() > 0 && bound > 0 {
					row.Mark = verdict(w.Errors == 0 && Ratio(w.Throughput(), bound) >= TargetAloneShare)
				}
			}
		}
		rows = append(rows, row)
	}
	if len(r.Levels) > 0 {
		rows = append(rows, Row{Figure: name("warm errors"), Value: of(errs, n)})
	}
	for _, l := range r.Levels {
		if l != TargetLevel {
			continue
		}
		cpu := Row{Figure: name(fmt.Sprintf("node CPU per invocation, c=%d", l))}
		if minimal {
			cpu.Target = fmt.Sprintf("≤ %g× floor server", TargetNodeCPU)
		}
		node, floor := f.NodeCPU[l], r.FloorCPU[l]
		switch {
		case !node.measured():
			cpu.Value = "n/a"
			if node != nil && node.Missing != "" {
				cpu.Value += " (" + node.Missing + ")"
			}
			if cpu.Target != "" {
				cpu.Mark = NotMeasured
			}
		case !floor.measured():
			cpu.Value = duration(node.PerRequest())
			if cpu.Target != "" {
				cpu.Mark = NotMeasured
			}
		default:
			cpu.fill(node.PerRequest(), floor.PerRequest(), "floor server", true)
			if minimal {
				cpu.Mark = verdict(float64(node.PerRequest()) <= TargetNodeCPU*float64(floor.PerRequest()))
			}
		}
		env := Row{Figure: name(fmt.Sprintf("environments alive, c=%d", l)), Target: fmt.Sprintf("≤ %d", TargetEnvironments), Mark: NotMeasured, Value: "n/a"}
		if n, ok := f.Environments[l]; ok {
			env.Value, env.Mark = fmt.Sprint(n), verdict(n <= TargetEnvironments)
		}
		rows = append(rows, cpu, env)
	}
	if c := f.FunctionCPU; c != nil {
		row := Row{Figure: name("function CPU per invocation"), Value: "n/a (" + c.Missing + ")"}
		if c.Missing == "" {
			row.Value = duration(c.PerRequest())
			if a := f.Alone; a != nil && a.CPU.Requests > 0 {
				row.Floor = "alone " + duration(a.CPU.PerRequest())
				row.Ratio = times(Ratio(float64(c.PerRequest()), float64(a.CPU.PerRequest())))
			}
		}
		rows = append(rows, row)
	}
	if a := f.Alone; a != nil && len(a.Latencies) > 0 {
		rows = append(rows, Row{Figure: name("alone, event → response p50"), Value: duration(a.Percentile(0.5))},
			Row{Figure: name("alone, CPU per invocation"), Value: duration(a.CPU.PerRequest()),
				Floor: fmt.Sprintf("at most %.0f/s on %d CPUs", a.Bound(), NumCPU)})
	}
	return rows
}

func (r *Report) coldRows() []Row {
	if r.Cold == nil || r.Bare == nil {
		return []Row{{Figure: "cold start", Value: "skipped", Target: coldTarget, Mark: NotMeasured}}
	}
	c50, b50 := r.Cold.Percentile(0.5), r.Bare.Percentile(0.5)
	p50 := Row{Figure: "cold start p50", Target: coldTarget}
	p50.fill(c50, b50, "bare", len(r.Cold.Latencies) > 0 && len(r.Bare.Latencies) > 0)
	if p50.Mark == "" {
		p50.Ratio += fmt.Sprintf(" (%+.2f ms)", float64(c50-b50)/float64(time.Millisecond))
		p50.Mark = verdict(c50 <= b50+TargetColdOverBare)
	}
	p99 := Row{Figure: "cold start p99"}
	p99.fill(r.Cold.Percentile(0.99), r.Bare.Percentile(0.99), "bare", len(r.Cold.Latencies) > 0 && len(r.Bare.Latencies) > 0)
	return []Row{p50, p99,
		{Figure: "cold errors", Value: of(r.Cold.Errors, r.Cold.Requests()), Floor: "bare " + of(r.Bare.Errors, r.Bare.Requests())}}
}

func (r *Report) burstRows() []Row {
	if r.Burst == nil {
		return []Row{{Figure: "burst", Value: "skipped", Target: burstTarget, Mark: NotMeasured}}
	}
	b := r.Burst
	name := fmt.Sprintf("burst %d × sleep %v", r.BurstSize, r.BurstSleep)
	// The floor: the sleep after a bare start of the same rank, when the
	// bare burst was measured.
	bare := r.BareBurst != nil && len(r.BareBurst.Latencies) > 0
	floor, floorName := func(q float64) time.Duration { return r.BurstSleep }, "sleep"
	if bare {
		floor = func(q float64) time.Duration { return r.BurstSleep + r.BareBurst.Percentile(q) }
		floorName = "bare+sleep"
	}
	p50 := Row{Figure: name + ", p50"}
	p50.fill(b.Percentile(0.5), floor(0.5), floorName, len(b.Latencies) > 0)
	p99 := Row{Figure: "burst p99", Target: burstTarget}
	p99.fill(b.Percentile(0.99), floor(0.99), floorName, len(b.Latencies) > 0)
	switch {
	case p99.Mark != "":
	case !bare:
		p99.Mark = NotMeasured
	default:
		p99.Mark = verdict(b.Errors == 0 && b.Requests() == r.BurstSize &&
			float64(b.Percentile(0.99)) <= TargetBurstRatio*float64(floor(0.99)))
	}
	wall := Row{Figure: "burst wall time"}
	wall.fill(b.Wall, r.BurstSleep, "sleep", b.Requests() > 0)
	rows := []Row{p50, p99, wall, {Figure: "burst errors", Value: of(b.Errors, r.BurstSize)}}
	if bb := r.BareBurst; bb != nil {
		rows = append(rows, Row{Figure: fmt.Sprintf("bare burst: %d starts to first next, p50", r.BurstSize), Value: duration(bb.Percentile(0.5))},
			Row{Figure: "bare burst p99", Value: duration(bb.Percentile(0.99))},
			Row{Figure: "bare burst errors", Value: of(bb.Errors, r.BurstSize)})
	}
	return rows
}

// fill sets a row's value, its floor and their ratio; without data
// (measured false) it marks a target as not measured.
func (row *Row) fill(value, floor time.Duration, floorName string, measured bool) {
	if !measured {
		row.Value = "none"
		if row.Target != "" {
			row.Mark = NotMeasured
		}
		return
	}
	row.Value = duration(value)
	row.Floor = floorName + " " + duration(floor)
	row.Ratio = times(Ratio(float64(value), float64(floor)))
}

func verdict(ok bool) Mark {
	if ok {
		return Pass
	}
	return Fail
}

// WriteTable writes the rows as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	rows := append([]Row{{Figure: "figure", Value: "lambada", Floor: "floor", Ratio: "ratio", Target: "target", Mark: "result"}}, r.Rows()...)
	var width [5]int
	for _, row := range rows {
		for i, cell := range []string{row.Figure, row.Value, row.Floor, row.Ratio, row.Target} {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range []string{row.Figure, row.Value, row.Floor, row.Ratio, row.Target} {
			b.WriteString(cell)
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell)))
			b.WriteString(" | ")
		}
		b.WriteString(string(row.Mark))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, strings.ReplaceAll(b.String(), " \n", "\n"))
	return err
}

// duration formats d with three significant figures in µs, ms or s.
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func rate(perSecond float64) string { return fmt.Sprintf("%.0f/s", perSecond) }

func times(ratio float64) string {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", ratio)
}

func of(errors, n int) string { return fmt.Sprintf("%d of %d", errors, n) }
