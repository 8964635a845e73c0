package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/lambada-dev/lambada/metrics"
)

// The size of a chart, in SVG units.
const (
	chartWidth  = 600
	chartHeight = 140
	chartMinute = chartWidth / 60
)

// chart is one chart of a function's last hour: bars of counts per minute,
// or lines of durations.
type chart struct {
	ID, Title, Unit string
	Max             float64 // the top of the y axis
	Bars            []bar
	Lines           []line
	Empty           bool
}

// bar is one minute's count.
type bar struct {
	X, Y, H float64
	Minute  string
	Value   float64
}

// line is one statistic over the hour.
type line struct {
	Name, Class, Points string
	Last                float64
}

// chartsOf are a function's charts: invocations, errors, throttles, and
// its duration's p50 and p99, per minute over the last hour.
func (s *Server) chartsOf(name string) []chart {
	now := s.Now()
	q := func(metric string) []metrics.Datapoint {
		return s.Metrics.Query(metrics.MetricQuery{Name: metric, Dimensions: map[string]string{"FunctionName": name},
			Start: now.Add(-59 * time.Minute), End: now.Add(time.Minute), Period: time.Minute})
	}
	start := now.Add(-59 * time.Minute).Truncate(time.Minute)
	x := func(t time.Time) float64 { return float64(t.Sub(start)/time.Minute) * chartMinute }
	var charts []chart
	for _, c := range []struct{ metric, title string }{{"Invocations", "Invocations"}, {"Errors", "Errors"}, {"Throttles", "Throttles"}} {
		points := q(c.metric)
		ch := chart{ID: strings.ToLower(c.metric), Title: c.title, Unit: "per minute", Max: 1, Empty: len(points) == 0}
		for _, p := range points {
			ch.Max = max(ch.Max, p.Sum)
		}
		for _, p := range points {
			h := p.Sum / ch.Max * chartHeight
			ch.Bars = append(ch.Bars, bar{X: x(p.Time), Y: chartHeight - h, H: h, Minute: p.Time.Format("15:04"), Value: p.Sum})
		}
		charts = append(charts, ch)
	}
	durations := q("Duration")
	ch := chart{ID: "duration", Title: "Duration", Unit: "ms, p50 and p99", Max: 1, Empty: len(durations) == 0}
	p50, p99 := make([]float64, len(durations)), make([]float64, len(durations))
	for i := range durations {
		p50[i], _ = durations[i].Percentile(50)
		p99[i], _ = durations[i].Percentile(99)
		ch.Max = max(ch.Max, p99[i])
	}
	for _, l := range []struct {
		name, class string
		values      []float64
	}{{"p50", "p50", p50}, {"p99", "p99", p99}} {
		var pts []string
		for i, p := range durations {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Time)+chartMinute/2, chartHeight-l.values[i]/ch.Max*chartHeight))
		}
		ln := line{Name: l.name, Class: l.class, Points: strings.Join(pts, " ")}
		if len(l.values) > 0 {
			ln.Last = l.values[len(l.values)-1]
		}
		ch.Lines = append(ch.Lines, ln)
	}
	return append(charts, ch)
}
