// Package metrics keeps a node's metrics in Prometheus' client and serves
// them at /metrics in Prometheus' text format: CloudWatch's Lambda metrics
// (Invocations, Errors, Throttles, Duration, the concurrency and the
// asynchronous ones) as aws_lambda_* with the labels function_name,
// resource and executed_version, and the node's own as lambada_*.
package metrics

import (
	"cmp"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lambada-dev/lambada"
)

// Environments tells how many execution environments a node has
// (sandbox.Manager).
type Environments interface {
	Environments() int // alive, in any phase
	Idle() int         // alive and waiting for an invocation
	UsedMB() int       // counted against the memory budget
	// States counts those alive by the phase of their lifecycle.
	States() map[string]int
}

// Concurrency tells each account's executions (invoke.Limiter).
type Concurrency interface {
	Usage() map[string]lambada.Usage
}

// Metrics is a node's metrics. It implements lambada.Meter; its methods
// are safe for concurrent use.
type Metrics struct {
	account  string // the node's own
	reg      *prometheus.Registry
	counters [lambada.MetricColdStarts + 1]*prometheus.CounterVec
	timings  [lambada.MetricInitDuration - lambada.MetricDuration + 1]*prometheus.HistogramVec
	store    *prometheus.HistogramVec
	// History keeps the CloudWatch metrics by minute for a day.
	History     *History
	concurrency Concurrency
}

// counted are the counters: their names and help, and the labels they
// carry (a throttle ran no version; a cold start is the node's own).
var counted = [...]struct {
	name, help string
	labels     []string
}{
	lambada.MetricInvocations:         {"aws_lambda_invocations_total", "Invocations: invocations that ran, failed or not, throttles aside.", invocationLabels},
	lambada.MetricErrors:              {"aws_lambda_errors_total", "Errors: invocations that ended in a function error.", invocationLabels},
	lambada.MetricThrottles:           {"aws_lambda_throttles_total", "Throttles: invocations refused for concurrency.", resourceLabels},
	lambada.MetricSpillover:           {"aws_lambda_provisioned_concurrency_spillover_invocations_total", "ProvisionedConcurrencySpilloverInvocations: invocations beyond the provisioned concurrency.", invocationLabels},
	lambada.MetricAsyncEventsReceived: {"aws_lambda_async_events_received_total", "AsyncEventsReceived: Event invocations queued.", resourceLabels},
	lambada.MetricAsyncEventsDropped:  {"aws_lambda_async_events_dropped_total", "AsyncEventsDropped: events given up, too old or their retries spent.", resourceLabels},
	lambada.MetricDeadLetterErrors:    {"aws_lambda_dead_letter_errors_total", "DeadLetterErrors: dead-letter records that could not be sent.", resourceLabels},
	lambada.MetricDestinationFailures: {"aws_lambda_destination_delivery_failures_total", "DestinationDeliveryFailures: destination records that could not be sent.", resourceLabels},
	lambada.MetricColdStarts:          {"lambada_cold_starts_total", "Invocations that started their execution environment.", []string{"function_name", "executed_version"}},
}

// timed are the histograms, in seconds.
var timed = [...]struct {
	name, help string
	labels     []string
	buckets    []float64
}{
	lambada.MetricDuration - lambada.MetricDuration:      {"aws_lambda_duration_seconds", "Duration: how long the function ran (its REPORT's Duration).", invocationLabels, durationBuckets},
	lambada.MetricAsyncEventAge - lambada.MetricDuration: {"aws_lambda_async_event_age_seconds", "AsyncEventAge: how long an event waited before an attempt began.", resourceLabels, ageBuckets},
	lambada.MetricInitDuration - lambada.MetricDuration:  {"lambada_init_duration_seconds", "How long an execution environment took to initialise.", []string{"function_name", "executed_version"}, durationBuckets},
}

var (
	invocationLabels = []string{"function_name", "resource", "executed_version"}
	resourceLabels   = []string{"function_name", "resource"}
	// From 1 ms to 15 minutes, the longest a function runs.
	durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}
	// From 50 µs to 5 s.
	storeBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
	// From 10 ms to 6 hours, the oldest an event gets.
	ageBuckets = []float64{.01, .1, 1, 10, 60, 300, 900, 3600, 21600}
)

// New returns the metrics of a node whose own account is account, envs and
// concurrency read at every scrape (either may be nil).
func New(envs Environments, concurrency Concurrency, account string) *Metrics {
	m := &Metrics{account: account, reg: prometheus.NewRegistry(), History: &History{}, concurrency: concurrency}
	for i, c := range counted {
		m.counters[i] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: c.name, Help: c.help}, c.labels)
		m.reg.MustRegister(m.counters[i])
	}
	for i, t := range timed {
		m.timings[i] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: t.name, Help: t.help, Buckets: t.buckets}, t.labels)
		m.reg.MustRegister(m.timings[i])
	}
	m.store = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lambada_store_seconds",
		Help: "How long a write to the node's store took (JetStream), by operation.", Buckets: storeBuckets}, []string{"operation"})
	m.reg.MustRegister(m.store)
	if envs != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lambada_environments", Help: "Execution environments alive, in any phase."},
				func() float64 { return float64(envs.Environments()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lambada_environments_idle", Help: "Execution environments alive and waiting for an invocation."},
				func() float64 { return float64(envs.Idle()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lambada_memory_budget_used_bytes", Help: "Memory the live environments count against the node's budget."},
				func() float64 { return float64(envs.UsedMB()) * (1 << 20) }))
	}
	if envs != nil {
		m.reg.MustRegister(&statesCollector{envs})
	}
	if concurrency != nil {
		m.reg.MustRegister(&concurrencyCollector{c: concurrency, account: account})
	}
	return m
}

// ClusterNodes makes the gauge lambada_cluster_nodes report nodes(): how
// many nodes this one sees alive in its cluster.
func (m *Metrics) ClusterNodes(nodes func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lambada_cluster_nodes",
		Help: "Nodes of the cluster alive in this node's view (their heartbeats are recent), itself included."},
		func() float64 { return float64(nodes()) }))
}

// Count implements lambada.Meter.
func (m *Metrics) Count(metric lambada.Metric, l lambada.MetricLabels) {
	if int(metric) >= len(m.counters) {
		return
	}
	m.counters[metric].WithLabelValues(values(counted[metric].labels, l)...).Inc()
	m.History.Count(metric, l)
}

// Observe implements lambada.Meter.
func (m *Metrics) Observe(metric lambada.Metric, l lambada.MetricLabels, d time.Duration) {
	i := int(metric - lambada.MetricDuration)
	if i < 0 || i >= len(m.timings) {
		return
	}
	m.timings[i].WithLabelValues(values(timed[i].labels, l)...).Observe(d.Seconds())
	m.History.Observe(metric, l, d)
}

// Sample adds the concurrency gauges' values now to the History:
// ConcurrentExecutions (of each function, and of the node's own account),
// UnreservedConcurrentExecutions, ProvisionedConcurrentExecutions and
// ProvisionedConcurrencyUtilization (of each version).
func (m *Metrics) Sample() {
	if m.concurrency == nil {
		return
	}
	for account, u := range m.concurrency.Usage() {
		total := 0
		for f, n := range u.Running {
			m.History.Gauge("ConcurrentExecutions", UnitCount, f, "", float64(n))
			total += n
		}
		if account == "" || account == m.account {
			m.History.Gauge("ConcurrentExecutions", UnitCount, "", "", float64(total))
			m.History.Gauge("UnreservedConcurrentExecutions", UnitCount, "", "", float64(u.Unreserved))
		}
		for _, p := range u.Provisioned {
			resource := p.Function + ":" + p.Version
			m.History.Gauge("ProvisionedConcurrentExecutions", UnitCount, p.Function, resource, float64(p.Running))
			m.History.Gauge("ProvisionedConcurrencyUtilization", UnitNone, p.Function, resource, float64(p.Running)/float64(max(p.Of, 1)))
		}
	}
}

// ObserveStore times one write to the node's store.
func (m *Metrics) ObserveStore(operation string, d time.Duration) {
	m.store.WithLabelValues(operation).Observe(d.Seconds())
}

// values are l's values of labels, in their order.
func values(labels []string, l lambada.MetricLabels) []string {
	switch len(labels) {
	case 3:
		return []string{l.Function, l.Resource, l.ExecutedVersion}
	case 2:
		if labels[1] == "executed_version" {
			return []string{l.Function, l.ExecutedVersion}
		}
		return []string{l.Function, l.Resource}
	}
	return nil
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statesCollector reports the environments alive by state.
type statesCollector struct{ envs Environments }

var statesDesc = prometheus.NewDesc("lambada_environments_by_state",
	"Execution environments alive, by the phase of their lifecycle: starting (init), idle, running, answered (response sent, runtime not yet asking for more).",
	[]string{"state"}, nil)

func (c *statesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- statesDesc }

func (c *statesCollector) Collect(ch chan<- prometheus.Metric) {
	for state, n := range c.envs.States() {
		ch <- prometheus.MustNewConstMetric(statesDesc, prometheus.GaugeValue, float64(n), state)
	}
}

// concurrencyCollector reports the executions counted now.
type concurrencyCollector struct {
	c       Concurrency
	account string // the node's own, for ""
}

var (
	concurrentDesc = prometheus.NewDesc("aws_lambda_concurrent_executions",
		"ConcurrentExecutions: executions of the function running now.", []string{"function_name"}, nil)
	unreservedDesc = prometheus.NewDesc("aws_lambda_unreserved_concurrent_executions",
		"UnreservedConcurrentExecutions: executions running in the account's shared pool (functions without reserved concurrency).", []string{"account"}, nil)
	provisionedDesc = prometheus.NewDesc("aws_lambda_provisioned_concurrent_executions",
		"ProvisionedConcurrentExecutions: executions running in provisioned concurrency.", []string{"function_name", "executed_version"}, nil)
	utilizationDesc = prometheus.NewDesc("aws_lambda_provisioned_concurrency_utilization",
		"ProvisionedConcurrencyUtilization: provisioned executions running over the version's provisioned concurrency.", []string{"function_name", "executed_version"}, nil)
)

func (c *concurrencyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- concurrentDesc
	ch <- unreservedDesc
	ch <- provisionedDesc
	ch <- utilizationDesc
}

func (c *concurrencyCollector) Collect(ch chan<- prometheus.Metric) {
	for account, u := range c.c.Usage() {
		ch <- prometheus.MustNewConstMetric(unreservedDesc, prometheus.GaugeValue, float64(u.Unreserved), cmp.Or(account, c.account))
		for f, n := range u.Running {
			ch <- prometheus.MustNewConstMetric(concurrentDesc, prometheus.GaugeValue, float64(n), f)
		}
		for _, p := range u.Provisioned {
			ch <- prometheus.MustNewConstMetric(provisionedDesc, prometheus.GaugeValue, float64(p.Running), p.Function, p.Version)
			ch <- prometheus.MustNewConstMetric(utilizationDesc, prometheus.GaugeValue, float64(p.Running)/float64(max(p.Of, 1)), p.Function, p.Version)
		}
	}
}
