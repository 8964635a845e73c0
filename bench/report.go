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
	TargetWarmP50      = 2.5                  // warm p50 at concurrency 1 ≤ 2.5× the floor's
	TargetThroughput   = 0.3                  // warm throughput at TargetLevel ≥ 0.3× the floor's, no errors
	TargetLevel        = 64                   // the concurrency of the throughput target
	TargetColdOverBare = 2 * time.Millisecond // cold start p50 ≤ bare start p50 + 2 ms
	TargetBurstP99     = 3 * time.Second      // burst: no errors and p99 < 3 s
)

var (
	coldTarget  = fmt.Sprintf("≤ bare + %g ms", TargetColdOverBare.Seconds()*1000)
	burstTarget = fmt.Sprintf("no errors, p99 < %g s", TargetBurstP99.Seconds())
)

// Report is one run's figures beside their floors. A nil section was not
// measured.
type Report struct {
	Levels      []int          // concurrency levels, the first is the latency level
	Warm, Floor map[int]Result // by concurrency level

	ServerCPU, FloorCPU *CPU // CPU time of the server and of the floor over the measured warm loads
	FunctionCPU         *CPU // CPU time of the server's functions (its descendants) over the same loads; nil: not measured

	// Alone is the function driven by a trivial Runtime API, back to back
	// (FunctionAlone); nil: not measured.
	Alone *FunctionResult

	Cold, Bare *Result // cold starts through Lambada, bare starts of the same bootstrap

	Burst      *Result
	BareBurst  *Result // the same number of bare starts at once (BareBurst); nil: not measured
	BurstSize  int
	BurstSleep time.Duration // how long each burst invocation sleeps: the burst's floor
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
	if len(r.Levels) > 0 {
		l := r.Levels[0]
		w, f := r.Warm[l], r.Floor[l]
		p50 := Row{Figure: fmt.Sprintf("warm p50, c=%d", l), Target: fmt.Sprintf("≤ %g× floor", TargetWarmP50)}
		p50.fill(w.Percentile(0.5), f.Percentile(0.5), "floor", len(w.Latencies) > 0 && len(f.Latencies) > 0)
		if p50.Mark == "" {
			p50.Mark = verdict(float64(w.Percentile(0.5)) <= TargetWarmP50*float64(f.Percentile(0.5)))
		}
		p99 := Row{Figure: fmt.Sprintf("warm p99, c=%d", l)}
		p99.fill(w.Percentile(0.99), f.Percentile(0.99), "floor", len(w.Latencies) > 0 && len(f.Latencies) > 0)
		rows = append(rows, p50, p99)
	}
	var warmErrs, warmN, floorErrs, floorN int
	for _, l := range r.Levels {
		w, f := r.Warm[l], r.Floor[l]
		warmErrs, warmN = warmErrs+w.Errors, warmN+w.Requests()
		floorErrs, floorN = floorErrs+f.Errors, floorN+f.Requests()
		row := Row{Figure: fmt.Sprintf("throughput, c=%d", l), Value: rate(w.Throughput()), Floor: "floor " + rate(f.Throughput()),
			Ratio: times(Ratio(w.Throughput(), f.Throughput()))}
		if l == TargetLevel {
			row.Target = fmt.Sprintf("≥ %g× floor, no errors", TargetThroughput)
			row.Mark = NotMeasured
			if w.Requests() > 0 && f.Requests() > 0 {
				row.Mark = verdict(w.Errors == 0 && Ratio(w.Throughput(), f.Throughput()) >= TargetThroughput)
			}
		}
		rows = append(rows, row)
	}
	if len(r.Levels) > 0 {
		rows = append(rows, Row{Figure: "warm errors", Value: of(warmErrs, warmN), Floor: "floor " + of(floorErrs, floorN)})
	}
	cpu := Row{Figure: "server CPU per request", Target: "reported"}
	switch {
	case r.ServerCPU == nil || r.ServerCPU.Missing != "":
		cpu.Value = "n/a"
		if r.ServerCPU != nil {
			cpu.Value += " (" + r.ServerCPU.Missing + ")"
		}
		if r.FloorCPU != nil && r.FloorCPU.Missing == "" {
			cpu.Floor = "floor " + duration(r.FloorCPU.PerRequest())
		}
		cpu.Mark = NotMeasured
	case r.FloorCPU == nil || r.FloorCPU.Missing != "":
		cpu.Value, cpu.Mark = duration(r.ServerCPU.PerRequest()), NotMeasured
	default:
		cpu.fill(r.ServerCPU.PerRequest(), r.FloorCPU.PerRequest(), "floor", true)
	}
	rows = append(rows, cpu)
	if c := r.FunctionCPU; c != nil {
		row := Row{Figure: "function CPU per request", Value: "n/a (" + c.Missing + ")"}
		if c.Missing == "" {
			row.Value = duration(c.PerRequest())
			if a := r.Alone; a != nil && a.CPU.Requests > 0 {
				row.Floor = "alone " + duration(a.CPU.PerRequest())
				row.Ratio = times(Ratio(float64(c.PerRequest()), float64(a.CPU.PerRequest())))
			}
		}
		rows = append(rows, row)
	}
	if a := r.Alone; a != nil && len(a.Latencies) > 0 {
		rows = append(rows, Row{Figure: "function alone: event → response p50", Value: duration(a.Percentile(0.5))},
			Row{Figure: "function alone: CPU per invocation", Value: duration(a.CPU.PerRequest()),
				Floor: fmt.Sprintf("at most %.0f/s on %d CPUs", Ratio(float64(NumCPU)*float64(time.Second), float64(a.CPU.PerRequest())), NumCPU)})
	}

	if r.Cold == nil || r.Bare == nil {
		rows = append(rows, Row{Figure: "cold start", Value: "skipped", Target: coldTarget, Mark: NotMeasured})
	} else {
		c50, b50 := r.Cold.Percentile(0.5), r.Bare.Percentile(0.5)
		p50 := Row{Figure: "cold start p50", Target: coldTarget}
		p50.fill(c50, b50, "bare", len(r.Cold.Latencies) > 0 && len(r.Bare.Latencies) > 0)
		if p50.Mark == "" {
			p50.Ratio += fmt.Sprintf(" (%+.2f ms)", float64(c50-b50)/float64(time.Millisecond))
			p50.Mark = verdict(c50 <= b50+TargetColdOverBare)
		}
		p99 := Row{Figure: "cold start p99"}
		p99.fill(r.Cold.Percentile(0.99), r.Bare.Percentile(0.99), "bare", len(r.Cold.Latencies) > 0 && len(r.Bare.Latencies) > 0)
		rows = append(rows, p50, p99,
			Row{Figure: "cold errors", Value: of(r.Cold.Errors, r.Cold.Requests()), Floor: "bare " + of(r.Bare.Errors, r.Bare.Requests())})
	}

	if r.Burst == nil {
		rows = append(rows, Row{Figure: "burst", Value: "skipped", Target: burstTarget, Mark: NotMeasured})
	} else {
		b := r.Burst
		name := fmt.Sprintf("burst %d × sleep %v", r.BurstSize, r.BurstSleep)
		// The floor: the sleep after a bare start of the same rank, when
		// the bare burst was measured.
		floor, floorName := func(q float64) time.Duration { return r.BurstSleep }, "sleep"
		if bb := r.BareBurst; bb != nil && len(bb.Latencies) > 0 {
			floor = func(q float64) time.Duration { return r.BurstSleep + bb.Percentile(q) }
			floorName = "bare+sleep"
		}
		p50 := Row{Figure: name + ", p50"}
		p50.fill(b.Percentile(0.5), floor(0.5), floorName, len(b.Latencies) > 0)
		p99 := Row{Figure: "burst p99", Target: burstTarget}
		p99.fill(b.Percentile(0.99), floor(0.99), floorName, len(b.Latencies) > 0)
		if p99.Mark == "" {
			p99.Mark = verdict(b.Errors == 0 && b.Requests() == r.BurstSize && b.Percentile(0.99) < TargetBurstP99)
		}
		wall := Row{Figure: "burst wall time"}
		wall.fill(b.Wall, r.BurstSleep, "sleep", b.Requests() > 0)
		rows = append(rows, p50, p99, wall, Row{Figure: "burst errors", Value: of(b.Errors, r.BurstSize)})
		if bb := r.BareBurst; bb != nil {
			rows = append(rows, Row{Figure: fmt.Sprintf("bare burst: %d starts to first next, p50", r.BurstSize), Value: duration(bb.Percentile(0.5))},
				Row{Figure: "bare burst p99", Value: duration(bb.Percentile(0.99))},
				Row{Figure: "bare burst errors", Value: of(bb.Errors, r.BurstSize)})
		}
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
