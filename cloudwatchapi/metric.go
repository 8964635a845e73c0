package cloudwatchapi

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/metrics"
)

// Namespace is the namespace of Lambda's metrics.
const Namespace = "AWS/Lambda"

// maxDatapoints is how many data points one GetMetricStatistics may ask for.
const maxDatapoints = 1440

type dimension struct {
	Name  string `cbor:"Name"`
	Value string `cbor:"Value"`
}

type metric struct {
	Namespace  string      `cbor:"Namespace"`
	MetricName string      `cbor:"MetricName"`
	Dimensions []dimension `cbor:"Dimensions"`
}

// query is the metrics.MetricQuery of a metric of the caller's, or false
// when the metric is not one Lambada keeps (another namespace).
func (s *Server) query(req *request, namespace, name string, dims []dimension, start, end time.Time, period int) (metrics.MetricQuery, bool) {
	q := metrics.MetricQuery{Name: name, Dimensions: map[string]string{}, Account: s.stored(req),
		Start: start, End: end, Period: time.Duration(period) * time.Second}
	for _, d := range dims {
		v := d.Value
		if d.Name == "FunctionName" {
			v = s.function(req, v)
		}
		if d.Name == "Resource" {
			// name[:qualifier], of the caller's account.
			v = s.function(req, v)
		}
		q.Dimensions[d.Name] = v
	}
	return q, namespace == Namespace
}

// checkPeriod checks a period of seconds: Lambada keeps one-minute data
// points.
func checkPeriod(period int) error {
	if period < 60 || period%60 != 0 {
		return invalidValue("The parameter Period must be a multiple of 60.")
	}
	return nil
}

var percentileRE = regexp.MustCompile(`^p(\d{1,2}(\.\d{0,2})?|100)$`)

// statistic is one statistic of p: SampleCount, Average, Sum, Minimum,
// Maximum or pNN.NN; false when p has none of it.
func statistic(p *metrics.Datapoint, stat string) (float64, bool) {
	switch stat {
	case "SampleCount":
		return p.Count, true
	case "Average":
		return p.Average(), true
	case "Sum":
		return p.Sum, true
	case "Minimum":
		return p.Min, true
	case "Maximum":
		return p.Max, true
	}
	if m := percentileRE.FindStringSubmatch(stat); m != nil {
		q, _ := strconv.ParseFloat(m[1], 64)
		return p.Percentile(q)
	}
	return 0, false
}

type getMetricStatisticsInput struct {
	Namespace          *string     `cbor:"Namespace"`
	MetricName         *string     `cbor:"MetricName"`
	Dimensions         []dimension `cbor:"Dimensions"`
	StartTime          *timestamp  `cbor:"StartTime"`
	EndTime            *timestamp  `cbor:"EndTime"`
	Period             *int        `cbor:"Period"`
	Statistics         []string    `cbor:"Statistics"`
	ExtendedStatistics []string    `cbor:"ExtendedStatistics"`
	Unit               *string     `cbor:"Unit"`
}

type datapointOut struct {
	Timestamp          timestamp          `cbor:"Timestamp"`
	SampleCount        *float64           `cbor:"SampleCount,omitempty" json:",omitempty"`
	Average            *float64           `cbor:"Average,omitempty" json:",omitempty"`
	Sum                *float64           `cbor:"Sum,omitempty" json:",omitempty"`
	Minimum            *float64           `cbor:"Minimum,omitempty" json:",omitempty"`
	Maximum            *float64           `cbor:"Maximum,omitempty" json:",omitempty"`
	Unit               string             `cbor:"Unit"`
	ExtendedStatistics map[string]float64 `cbor:"ExtendedStatistics,omitempty" json:",omitempty"`
}

func (s *Server) getMetricStatistics(req *request) (any, error) {
	var in getMetricStatisticsInput
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		missing bool
		name    string
	}{{in.Namespace == nil, "Namespace"}, {in.MetricName == nil, "MetricName"}, {in.StartTime == nil, "StartTime"},
		{in.EndTime == nil, "EndTime"}, {in.Period == nil, "Period"}} {
		if m.missing {
			return nil, missing(m.name)
		}
	}
	if err := checkPeriod(*in.Period); err != nil {
		return nil, err
	}
	for _, st := range in.Statistics {
		if !slices.Contains([]string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}, st) {
			return nil, invalidValue("The parameter Statistics can only contain the values SampleCount, Average, Sum, Minimum, Maximum.")
		}
	}
	for _, st := range in.ExtendedStatistics {
		if !percentileRE.MatchString(st) {
			return nil, invalidValue("The value %s for parameter ExtendedStatistics is not supported.", st)
		}
	}
	switch {
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, missing("Statistics or ExtendedStatistics")
	case !in.StartTime.Before(in.EndTime.Time):
		return nil, invalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	start := in.StartTime.Truncate(time.Minute)
	if n := int64(in.EndTime.Sub(start)+time.Duration(*in.Period)*time.Second-1) / int64(time.Duration(*in.Period)*time.Second); n > maxDatapoints {
		return nil, invalidCombination("You have requested up to %s datapoints, which exceeds the limit of %s. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
			thousands(n), thousands(maxDatapoints))
	}
	out := struct {
		Label      string         `cbor:"Label"`
		Datapoints []datapointOut `cbor:"Datapoints"`
	}{Label: *in.MetricName, Datapoints: []datapointOut{}}
	q, ok := s.query(req, *in.Namespace, *in.MetricName, in.Dimensions, start, in.EndTime.Time, *in.Period)
	if !ok {
		return out, nil
	}
	for _, p := range s.History.Query(q) {
		if in.Unit != nil && *in.Unit != p.Unit {
			continue
		}
		d := datapointOut{Timestamp: timestamp{p.Time}, Unit: p.Unit}
		for _, st := range in.Statistics {
			v, _ := statistic(&p, st)
			switch st {
			case "SampleCount":
				d.SampleCount = &v
			case "Average":
				d.Average = &v
			case "Sum":
				d.Sum = &v
			case "Minimum":
				d.Minimum = &v
			case "Maximum":
				d.Maximum = &v
			}
		}
		for _, st := range in.ExtendedStatistics {
			if v, ok := statistic(&p, st); ok {
				if d.ExtendedStatistics == nil {
					d.ExtendedStatistics = map[string]float64{}
				}
				d.ExtendedStatistics[st] = v
			}
		}
		out.Datapoints = append(out.Datapoints, d)
	}
	return out, nil
}

// thousands writes n with commas: 1,441.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

type metricDataQuery struct {
	ID         string `cbor:"Id" json:"Id"`
	MetricStat *struct {
		Metric metric  `cbor:"Metric"`
		Period int     `cbor:"Period"`
		Stat   string  `cbor:"Stat"`
		Unit   *string `cbor:"Unit"`
	} `cbor:"MetricStat"`
	Expression *string `cbor:"Expression"`
	Label      *string `cbor:"Label"`
	ReturnData *bool   `cbor:"ReturnData"`
}

type metricDataResult struct {
	ID         string      `cbor:"Id" json:"Id"`
	Label      string      `cbor:"Label"`
	Timestamps []timestamp `cbor:"Timestamps"`
	Values     []float64   `cbor:"Values"`
	StatusCode string      `cbor:"StatusCode"`
	Messages   []struct{}  `cbor:"Messages"`
}

func (s *Server) getMetricData(req *request) (any, error) {
	var in struct {
		MetricDataQueries []metricDataQuery `cbor:"MetricDataQueries"`
		StartTime         *timestamp        `cbor:"StartTime"`
		EndTime           *timestamp        `cbor:"EndTime"`
		ScanBy            *string           `cbor:"ScanBy"`
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.StartTime == nil:
		return nil, missing("StartTime")
	case in.EndTime == nil:
		return nil, missing("EndTime")
	case len(in.MetricDataQueries) == 0:
		return nil, missing("MetricDataQueries")
	case !in.StartTime.Before(in.EndTime.Time):
		return nil, invalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	ascending := in.ScanBy != nil && *in.ScanBy == "TimestampAscending"
	out := struct {
		MetricDataResults []metricDataResult `cbor:"MetricDataResults"`
		Messages          []struct{}         `cbor:"Messages"`
	}{MetricDataResults: []metricDataResult{}, Messages: []struct{}{}}
	for _, mq := range in.MetricDataQueries {
		if mq.Expression != nil {
			return nil, invalidValue("Lambada does not evaluate metric math: the query %s has an Expression.", mq.ID)
		}
		if mq.MetricStat == nil {
			return nil, invalidValue("The query %s has neither a MetricStat nor an Expression.", mq.ID)
		}
		ms := mq.MetricStat
		if err := checkPeriod(ms.Period); err != nil {
			return nil, err
		}
		if _, known := statistic(&metrics.Datapoint{Unit: metrics.UnitCount}, ms.Stat); !known && !percentileRE.MatchString(ms.Stat) {
			return nil, invalidValue("The value %s for parameter MetricDataQueries.member.%s.MetricStat.Stat is not supported.", ms.Stat, mq.ID)
		}
		if mq.ReturnData != nil && !*mq.ReturnData {
			continue
		}
		res := metricDataResult{ID: mq.ID, Label: ms.Metric.MetricName, Timestamps: []timestamp{}, Values: []float64{},
			StatusCode: "Complete", Messages: []struct{}{}}
		if mq.Label != nil {
			res.Label = *mq.Label
		}
		if q, ok := s.query(req, ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions, in.StartTime.Truncate(time.Minute), in.EndTime.Time, ms.Period); ok {
			for _, p := range s.History.Query(q) {
				if ms.Unit != nil && *ms.Unit != p.Unit {
					continue
				}
				if v, ok := statistic(&p, ms.Stat); ok {
					res.Timestamps = append(res.Timestamps, timestamp{p.Time})
					res.Values = append(res.Values, v)
				}
			}
		}
		if !ascending {
			slices.Reverse(res.Timestamps)
			slices.Reverse(res.Values)
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

func (s *Server) listMetrics(req *request) (any, error) {
	var in struct {
		Namespace  *string `cbor:"Namespace"`
		MetricName *string `cbor:"MetricName"`
		Dimensions []struct {
			Name  string  `cbor:"Name"`
			Value *string `cbor:"Value"`
		} `cbor:"Dimensions"`
	}
	if err := req.decode(&in); err != nil {
		return nil, err
	}
	out := struct {
		Metrics []metric `cbor:"Metrics"`
	}{Metrics: []metric{}}
	if in.Namespace != nil && *in.Namespace != Namespace {
		return out, nil
	}
	for _, m := range s.History.Metrics(s.stored(req)) {
		if in.MetricName != nil && *in.MetricName != m.Name {
			continue
		}
		dims := maps.Clone(m.Dimensions)
		for _, d := range []string{"FunctionName", "Resource"} { // the caller's names
			if v, ok := dims[d]; ok {
				_, dims[d] = lambada.SplitAccountKey(v)
			}
		}
		match := true
		for _, f := range in.Dimensions {
			v, ok := dims[f.Name]
			match = match && ok && (f.Value == nil || *f.Value == v)
		}
		if !match {
			continue
		}
		o := metric{Namespace: Namespace, MetricName: m.Name, Dimensions: []dimension{}}
		for _, k := range slices.Sorted(maps.Keys(dims)) {
			o.Dimensions = append(o.Dimensions, dimension{Name: k, Value: dims[k]})
		}
		out.Metrics = append(out.Metrics, o)
	}
	return out, nil
}
