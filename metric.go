package lambada

import "time"

// Metric is a count or a duration a node reports: CloudWatch's Lambda
// metrics, and the node's own.
type Metric int

// The metrics counted (Count) or timed (Observe).
const (
	MetricInvocations         Metric = iota // an invocation that ran, failed or not (not a throttle)
	MetricErrors                            // an invocation that ended in a function error
	MetricThrottles                         // an invocation refused for concurrency
	MetricSpillover                         // an invocation of a version with provisioned concurrency that ran beyond it
	MetricAsyncEventsReceived               // an Event invocation queued
	MetricAsyncEventsDropped                // an event given up (too old, or its retries spent)
	MetricDeadLetterErrors                  // a dead-letter record that could not be sent
	MetricDestinationFailures               // a destination record that could not be sent
	MetricColdStarts                        // an invocation that started its environment

	MetricDuration      // how long the function ran (its REPORT's Duration)
	MetricAsyncEventAge // how long an event waited before an attempt began
	MetricInitDuration  // how long an environment took to initialise
)

// MetricLabels say what a metric is of: the function (its AccountKey), the
// resource invoked (the name, or name:qualifier) and the version that ran.
type MetricLabels struct {
	Function, Resource, ExecutedVersion string
}

// NewMetricLabels are the labels of an invocation of the function whose
// AccountKey is key, of qualifier ("" for none), run by version.
func NewMetricLabels(key, qualifier, version string) MetricLabels {
	resource := key
	if qualifier != "" {
		resource += ":" + qualifier
	}
	return MetricLabels{Function: key, Resource: resource, ExecutedVersion: version}
}

// Meter hears of what metrics count and time; a nil Meter hears nothing.
// Its methods are called on the invocation path and must be cheap.
type Meter interface {
	Count(m Metric, l MetricLabels)
	Observe(m Metric, l MetricLabels, d time.Duration)
}

// NoMeter is a Meter that hears nothing.
type NoMeter struct{}

func (NoMeter) Count(Metric, MetricLabels)                  {}
func (NoMeter) Observe(Metric, MetricLabels, time.Duration) {}
