package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

type fakeEnvs struct{}

func (fakeEnvs) Environments() int { return 3 }
func (fakeEnvs) Idle() int         { return 2 }
func (fakeEnvs) UsedMB() int       { return 10 }
func (fakeEnvs) States() map[string]int {
	return map[string]int{"starting": 1, "idle": 2, "running": 0, "answered": 0}
}

type fakeConcurrency struct{}

func (fakeConcurrency) Usage() map[string]lambada.Usage {
	return map[string]lambada.Usage{
		"":             {Running: map[string]int{"fn": 2}, Unreserved: 1, Provisioned: []lambada.ProvisionedUse{{Function: "fn", Version: "1", Running: 1, Of: 4}}},
		"111111111111": {Running: map[string]int{"111111111111/fn": 1}, Unreserved: 1},
	}
}

// scrape is what GET /metrics answers.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

// What the node counts and times comes out in Prometheus' text format,
// under CloudWatch's names, with its labels.
func TestMetrics(t *testing.T) {
	m := New(fakeEnvs{}, fakeConcurrency{}, "000000000000")
	alias := lambada.NewMetricLabels("fn", "live", "1")
	for range 3 {
		m.Count(lambada.MetricInvocations, alias)
	}
	m.Count(lambada.MetricErrors, alias)
	m.Count(lambada.MetricThrottles, lambada.NewMetricLabels("fn", "", ""))
	m.Count(lambada.MetricColdStarts, alias)
	m.Count(lambada.MetricAsyncEventsDropped, lambada.NewMetricLabels("111111111111/fn", "", ""))
	m.Observe(lambada.MetricDuration, alias, 3*time.Millisecond)
	m.Observe(lambada.MetricDuration, alias, 2*time.Second)
	m.Observe(lambada.MetricInitDuration, alias, 40*time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`aws_lambda_invocations_total{executed_version="1",function_name="fn",resource="fn:live"} 3`,
		`aws_lambda_errors_total{executed_version="1",function_name="fn",resource="fn:live"} 1`,
		`aws_lambda_throttles_total{function_name="fn",resource="fn"} 1`,
		`aws_lambda_async_events_dropped_total{function_name="111111111111/fn",resource="111111111111/fn"} 1`,
		`lambada_cold_starts_total{executed_version="1",function_name="fn"} 1`,
		`aws_lambda_duration_seconds_bucket{executed_version="1",function_name="fn",resource="fn:live",le="0.005"} 1`,
		`aws_lambda_duration_seconds_bucket{executed_version="1",function_name="fn",resource="fn:live",le="2.5"} 2`,
		`aws_lambda_duration_seconds_count{executed_version="1",function_name="fn",resource="fn:live"} 2`,
		`lambada_init_duration_seconds_count{executed_version="1",function_name="fn"} 1`,
		`aws_lambda_concurrent_executions{function_name="fn"} 2`,
		`aws_lambda_concurrent_executions{function_name="111111111111/fn"} 1`,
		`aws_lambda_unreserved_concurrent_executions{account="000000000000"} 1`,
		`aws_lambda_unreserved_concurrent_executions{account="111111111111"} 1`,
		`aws_lambda_provisioned_concurrent_executions{executed_version="1",function_name="fn"} 1`,
		`aws_lambda_provisioned_concurrency_utilization{executed_version="1",function_name="fn"} 0.25`,
		`lambada_environments 3`,
		`lambada_environments_idle 2`,
		`lambada_environments_by_state{state="starting"} 1`,
		`lambada_environments_by_state{state="idle"} 2`,
		`lambada_environments_by_state{state="running"} 0`,
		`lambada_memory_budget_used_bytes 1.048576e+07`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// BenchmarkInvocation is what the metrics cost one invocation of an alias:
// its labels made where it is admitted and where its REPORT is written,
// Invocations counted, Duration observed.
func BenchmarkInvocation(b *testing.B) {
	m := New(nil, nil, "000000000000")
	b.ReportAllocs()
	for b.Loop() {
		m.Count(lambada.MetricInvocations, lambada.NewMetricLabels("my-function", "live", "3"))
		m.Observe(lambada.MetricDuration, lambada.NewMetricLabels("my-function", "live", "3"), time.Millisecond)
	}
}
