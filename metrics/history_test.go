package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

func TestHistory(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	h := &History{Now: func() time.Time { return now }}
	fn := lambada.NewMetricLabels("fn", "", "$LATEST")
	alias := lambada.NewMetricLabels("fn", "live", "2")
	other := lambada.NewMetricLabels("111111111111/fn", "", "$LATEST")
	// Minute 12:00: 100 invocations of fn lasting 1..100 ms; one error.
	for i := 1; i <= 100; i++ {
		h.Count(lambada.MetricInvocations, fn)
		h.Observe(lambada.MetricDuration, fn, time.Duration(i)*time.Millisecond)
	}
	h.Count(lambada.MetricErrors, fn)
	// Minute 12:01: 3 of the alias, 1 throttle; another account's function.
	now = now.Add(time.Minute)
	for range 3 {
		h.Count(lambada.MetricInvocations, alias)
		h.Observe(lambada.MetricDuration, alias, 500*time.Millisecond)
	}
	h.Count(lambada.MetricThrottles, alias)
	h.Count(lambada.MetricInvocations, other)
	h.Gauge("ConcurrentExecutions", UnitCount, "fn", "", 7)
	h.Gauge("ConcurrentExecutions", UnitCount, "fn", "", 3)

	// Periods start at the start, rounded down to its minute, as on AWS.
	day := MetricQuery{Start: time.Date(2026, 12, 3, 12, 0, 59, 0, time.UTC), End: now.Add(time.Hour), Period: time.Minute}
	q := func(name string, dims map[string]string, period time.Duration) []Datapoint {
		q := day
		q.Name, q.Dimensions, q.Period = name, dims, period
		return h.Query(q)
	}
	sums := func(points []Datapoint) []float64 {
		var s []float64
		for _, p := range points {
			s = append(s, p.Sum)
		}
		return s
	}
	for _, c := range []struct {
		name   string
		dims   map[string]string
		period time.Duration
		want   []float64
	}{
		{"Invocations", map[string]string{"FunctionName": "fn"}, time.Minute, []float64{100, 3}},
		{"Invocations", map[string]string{"FunctionName": "fn"}, 5 * time.Minute, []float64{103}},
		{"Invocations", map[string]string{"FunctionName": "fn", "Resource": "fn:live"}, time.Minute, []float64{3}},
		{"Invocations", map[string]string{"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "2"}, time.Minute, []float64{3}},
		{"Invocations", map[string]string{"FunctionName": "fn", "Resource": "fn"}, time.Minute, []float64{100}},
		{"Invocations", map[string]string{}, time.Hour, []float64{103}}, // the account's: not the other's
		{"Invocations", map[string]string{"FunctionName": "111111111111/fn"}, time.Minute, []float64{1}},
		{"Invocations", map[string]string{"FunctionName": "fn", "Color": "red"}, time.Minute, nil},
		{"Errors", map[string]string{"FunctionName": "fn"}, time.Minute, []float64{1}},
		{"Throttles", map[string]string{"FunctionName": "fn"}, time.Minute, []float64{1}},
		{"Throttles", map[string]string{"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "2"}, time.Minute, nil},
		{"ConcurrentExecutions", map[string]string{"FunctionName": "fn"}, time.Minute, []float64{10}},
	} {
		if got := sums(q(c.name, c.dims, c.period)); !equal(got, c.want) {
			t.Errorf("%s %v by %v: %v, want %v", c.name, c.dims, c.period, got, c.want)
		}
	}
	d := q("Duration", map[string]string{"FunctionName": "fn", "Resource": "fn"}, time.Minute)
	if len(d) != 1 || d[0].Count != 100 || d[0].Sum != 5050 || d[0].Min != 1 || d[0].Max != 100 || d[0].Average() != 50.5 ||
		d[0].Unit != UnitMilliseconds || !d[0].Time.Equal(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("Duration: %+v", d)
	}
	for pct, want := range map[float64]float64{99: 99, 50: 50, 90: 90, 100: 100} {
		if got, ok := d[0].Percentile(pct); !ok || math.Abs(got-want) > want*0.02 {
			t.Errorf("p%v = %v, want %v within 2%%", pct, got, want)
		}
	}
	c := q("ConcurrentExecutions", map[string]string{"FunctionName": "fn"}, time.Minute)
	if len(c) != 1 || c[0].Max != 7 || c[0].Count != 2 {
		t.Errorf("ConcurrentExecutions %+v", c)
	}
	if _, ok := c[0].Percentile(99); ok {
		t.Error("a percentile of a gauge")
	}
	// The time range is [start, end), by minute.
	late := day
	late.Name, late.Dimensions, late.Start = "Invocations", map[string]string{"FunctionName": "fn"}, now
	if got := sums(h.Query(late)); !equal(got, []float64{3}) {
		t.Errorf("from 12:01: %v", got)
	}
	// A day later all is gone.
	now = now.Add(Keep + time.Minute)
	h.Count(lambada.MetricInvocations, fn)
	day.Start, day.End = now.Add(-48*time.Hour), now.Add(time.Hour)
	if got := sums(q("Invocations", map[string]string{"FunctionName": "fn"}, time.Hour)); !equal(got, []float64{1}) {
		t.Errorf("a day later: %v", got)
	}
	ms := h.Metrics("")
	if len(ms) != 4 || ms[0].Name != "Invocations" || len(ms[0].Dimensions) != 0 || ms[2].Dimensions["Resource"] != "fn" || ms[3].Dimensions["ExecutedVersion"] != "$LATEST" {
		t.Errorf("Metrics: %+v", ms)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Sample adds the concurrency gauges of every function, and of the node's
// account, to the History.
func TestMetrics_Sample(t *testing.T) {
	m := New(fakeEnvs{}, fakeConcurrency{}, "000000000000")
	m.Sample()
	all := MetricQuery{Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour), Period: time.Hour}
	for _, c := range []struct {
		name string
		dims map[string]string
		want float64
	}{
		{"ConcurrentExecutions", map[string]string{"FunctionName": "fn"}, 2},
		{"ConcurrentExecutions", map[string]string{"FunctionName": "111111111111/fn"}, 1},
		{"ConcurrentExecutions", map[string]string{}, 2}, // the node's account's
		{"UnreservedConcurrentExecutions", map[string]string{}, 1},
		{"ProvisionedConcurrentExecutions", map[string]string{"FunctionName": "fn", "Resource": "fn:1"}, 1},
		{"ProvisionedConcurrencyUtilization", map[string]string{"FunctionName": "fn", "Resource": "fn:1"}, 0.25},
	} {
		q := all
		q.Name, q.Dimensions = c.name, c.dims
		if got := m.History.Query(q); len(got) != 1 || got[0].Max != c.want || got[0].Count != 1 {
			t.Errorf("%s %v: %+v, want %v", c.name, c.dims, got, c.want)
		}
	}
}
