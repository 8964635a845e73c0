package metrics

import (
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/lambada-dev/lambada"
)

// Keep is how long History keeps what it heard: CloudWatch's day of
// one-minute data points.
const Keep = 24 * time.Hour

// The units of the CloudWatch metrics.
const (
	UnitCount        = "Count"
	UnitMilliseconds = "Milliseconds"
	UnitNone         = "None"
)

// cloudWatch names the CloudWatch metric (in the AWS/Lambda namespace) of
// each Metric that has one, with its unit.
var cloudWatch = map[lambada.Metric]struct{ name, unit string }{
	lambada.MetricInvocations:         {"Invocations", UnitCount},
	lambada.MetricErrors:              {"Errors", UnitCount},
	lambada.MetricThrottles:           {"Throttles", UnitCount},
	lambada.MetricSpillover:           {"ProvisionedConcurrencySpilloverInvocations", UnitCount},
	lambada.MetricAsyncEventsReceived: {"AsyncEventsReceived", UnitCount},
	lambada.MetricAsyncEventsDropped:  {"AsyncEventsDropped", UnitCount},
	lambada.MetricDeadLetterErrors:    {"DeadLetterErrors", UnitCount},
	lambada.MetricDestinationFailures: {"DestinationDeliveryFailures", UnitCount},
	lambada.MetricDuration:            {"Duration", UnitMilliseconds},
	lambada.MetricAsyncEventAge:       {"AsyncEventAge", UnitMilliseconds},
}

// History keeps a node's CloudWatch metrics for a day, minute by minute,
// for the CloudWatch API (GetMetricStatistics, GetMetricData): each data
// point heard (an invocation counts 1, a duration its milliseconds) is
// added to its series' minute: how many, their sum, minimum, maximum and,
// for durations, a histogram (buckets 2% wide) for percentiles.
type History struct {
	Now func() time.Time

	mu     sync.Mutex
	series map[seriesKey]*series
	pruned int64 // the minute last pruned
}

// seriesKey is what one series is of: the metric, and the function, the
// resource invoked and the version that ran ("" where the metric has no
// such dimension).
type seriesKey struct {
	name                        string
	function, resource, version string
}

type series struct {
	unit    string
	minutes map[int64]*cell // by Unix minute
}

// cell is one minute of a series.
type cell struct {
	count, sum, min, max float64
	buckets              map[int32]uint32 // durations only
}

// bucketWidth is the ratio of a histogram bucket's bounds.
const bucketWidth = 1.02

func bucketOf(v float64) int32 {
	if v <= 0 {
		return math.MinInt32
	}
	return int32(math.Floor(math.Log(v) / math.Log(bucketWidth)))
}

// bucketValue is the middle of bucket b.
func bucketValue(b int32) float64 {
	if b == math.MinInt32 {
		return 0
	}
	return math.Pow(bucketWidth, float64(b)+0.5)
}

func (h *History) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Add adds a data point of v to the series of metric name (in unit) with
// dims, at the current minute.
func (h *History) add(k seriesKey, unit string, v float64, histogram bool) {
	minute := h.now().Unix() / 60
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.series == nil {
		h.series = make(map[seriesKey]*series)
	}
	s := h.series[k]
	if s == nil {
		s = &series{unit: unit, minutes: make(map[int64]*cell)}
		h.series[k] = s
	}
	c := s.minutes[minute]
	if c == nil {
		c = &cell{min: v, max: v}
		if histogram {
			c.buckets = make(map[int32]uint32)
		}
		s.minutes[minute] = c
	}
	c.count++
	c.sum += v
	c.min, c.max = min(c.min, v), max(c.max, v)
	if c.buckets != nil {
		c.buckets[bucketOf(v)]++
	}
	if minute > h.pruned {
		h.pruneLocked(minute)
	}
}

// pruneLocked drops the minutes older than Keep; h.mu is held.
func (h *History) pruneLocked(minute int64) {
	h.pruned = minute
	oldest := minute - int64(Keep/time.Minute)
	for k, s := range h.series {
		maps.DeleteFunc(s.minutes, func(m int64, _ *cell) bool { return m < oldest })
		if len(s.minutes) == 0 {
			delete(h.series, k)
		}
	}
}

// Count adds a count of metric (one data point of 1).
func (h *History) Count(metric lambada.Metric, l lambada.MetricLabels) {
	if cw, ok := cloudWatch[metric]; ok {
		h.add(keyOf(metric, cw.name, l), cw.unit, 1, false)
	}
}

// Observe adds a duration of metric, in milliseconds.
func (h *History) Observe(metric lambada.Metric, l lambada.MetricLabels, d time.Duration) {
	if cw, ok := cloudWatch[metric]; ok {
		h.add(keyOf(metric, cw.name, l), cw.unit, float64(d)/float64(time.Millisecond), true)
	}
}

// Gauge adds a data point of a gauge (ConcurrentExecutions, …) in unit of
// function ("" for the account's), of resource ("" for none).
func (h *History) Gauge(name, unit, function, resource string, v float64) {
	h.add(seriesKey{name: name, function: function, resource: resource}, unit, v, false)
}

// keyOf is the series of metric with labels l: a throttle and the
// asynchronous metrics ran no version.
func keyOf(metric lambada.Metric, name string, l lambada.MetricLabels) seriesKey {
	k := seriesKey{name: name, function: l.Function, resource: l.Resource, version: l.ExecutedVersion}
	switch metric {
	case lambada.MetricInvocations, lambada.MetricErrors, lambada.MetricDuration, lambada.MetricSpillover:
	default:
		k.version = ""
	}
	return k
}

// MetricQuery asks for the data points of one metric over a time range,
// aggregated by period.
type MetricQuery struct {
	Name string
	// Dimensions select the series: FunctionName, Resource and
	// ExecutedVersion; none for the whole account's. Functions are
	// named by their AccountKey.
	Dimensions map[string]string
	// Account, when the query has no FunctionName, restricts it to the
	// functions of this account ("" for the node's own).
	Account    string
	Start, End time.Time
	Period     time.Duration // a multiple of a minute
}

// Datapoint is one period's aggregate.
type Datapoint struct {
	Time                 time.Time // the period's start
	Count, Sum, Min, Max float64
	Unit                 string
	buckets              map[int32]uint32
}

// Average is p's sum over its count.
func (p *Datapoint) Average() float64 { return p.Sum / p.Count }

// Percentile is the value under which q (0 to 100) percent of p's data
// points are, within a bucket's width (2%); for counts, whose data points
// are all 1, 1. It is false when p has no histogram.
func (p *Datapoint) Percentile(q float64) (float64, bool) {
	if p.buckets == nil {
		if p.Unit == UnitCount && p.Min == p.Max {
			return p.Min, true
		}
		return 0, false
	}
	keys := slices.Sorted(maps.Keys(p.buckets))
	rank := math.Ceil(q / 100 * p.Count)
	seen := 0.0
	for _, b := range keys {
		seen += float64(p.buckets[b])
		if seen >= rank {
			return min(max(bucketValue(b), p.Min), p.Max), true
		}
	}
	return p.Max, true
}

// Query returns the data points of q, one per period that has any, in
// time order.
func (h *History) Query(q MetricQuery) []Datapoint {
	period := int64(max(q.Period/time.Minute, 1))
	start, end := q.Start.Unix()/60, (q.End.Unix()+59)/60 // minutes [start, end)
	h.mu.Lock()
	defer h.mu.Unlock()
	// A gauge of the account's own (a series of no function) is the
	// account's; else the account's is its functions' together.
	_, named := q.Dimensions["FunctionName"]
	own := false
	for k := range h.series {
		own = own || !named && k.name == q.Name && k.function == ""
	}
	points := map[int64]*Datapoint{}
	for k, s := range h.series {
		if !q.matches(k) || own && k.function != "" {
			continue
		}
		for m, c := range s.minutes {
			if m < start || m >= end {
				continue
			}
			slot := start + (m-start)/period*period
			p := points[slot]
			if p == nil {
				p = &Datapoint{Time: time.Unix(slot*60, 0).UTC(), Min: c.min, Max: c.max, Unit: s.unit}
				points[slot] = p
			}
			p.Count += c.count
			p.Sum += c.sum
			p.Min, p.Max = min(p.Min, c.min), max(p.Max, c.max)
			if c.buckets != nil {
				if p.buckets == nil {
					p.buckets = make(map[int32]uint32)
				}
				for b, n := range c.buckets {
					p.buckets[b] += n
				}
			}
		}
	}
	out := make([]Datapoint, 0, len(points))
	for _, slot := range slices.Sorted(maps.Keys(points)) {
		out = append(out, *points[slot])
	}
	return out
}

// matches reports whether series k is one q asks for.
func (q MetricQuery) matches(k seriesKey) bool {
	if k.name != q.Name {
		return false
	}
	fn, ok := q.Dimensions["FunctionName"]
	switch {
	case ok && k.function != fn:
		return false
	case !ok && k.function != "" && accountOf(k.function) != q.Account:
		return false
	}
	if r, ok := q.Dimensions["Resource"]; ok && k.resource != r {
		return false
	}
	if v, ok := q.Dimensions["ExecutedVersion"]; ok && k.version != v {
		return false
	}
	for d := range q.Dimensions {
		if d != "FunctionName" && d != "Resource" && d != "ExecutedVersion" {
			return false
		}
	}
	return true
}

// accountOf is the account of a function's AccountKey ("" for the node's
// own).
func accountOf(key string) string {
	account, _ := lambada.SplitAccountKey(key)
	return account
}

// Metric is a metric History has data of, with its dimensions.
type Metric struct {
	Name       string
	Dimensions map[string]string
}

// Metrics returns the metrics with data of account's functions ("" for the
// node's own), each with every dimension set CloudWatch gives it: none,
// FunctionName, FunctionName and Resource, and those with ExecutedVersion.
func (h *History) Metrics(account string) []Metric {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]Metric{}
	add := func(name string, dims map[string]string) {
		id := name
		for _, k := range slices.Sorted(maps.Keys(dims)) {
			id += "|" + k + "=" + dims[k]
		}
		seen[id] = Metric{Name: name, Dimensions: dims}
	}
	for k := range h.series {
		if k.function != "" && accountOf(k.function) != account {
			continue
		}
		add(k.name, map[string]string{})
		if k.function == "" {
			continue
		}
		add(k.name, map[string]string{"FunctionName": k.function})
		if k.resource != "" {
			add(k.name, map[string]string{"FunctionName": k.function, "Resource": k.resource})
			if k.version != "" {
				add(k.name, map[string]string{"FunctionName": k.function, "Resource": k.resource, "ExecutedVersion": k.version})
			}
		}
	}
	out := slices.Collect(maps.Values(seen))
	slices.SortFunc(out, func(a, b Metric) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return len(a.Dimensions) - len(b.Dimensions)
	})
	return out
}
