package cloudwatchapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lambada-dev/lambada/metrics"
)

// history records the queries it is asked.
type history struct{ queries []metrics.MetricQuery }

func (h *history) Query(q metrics.MetricQuery) []metrics.Datapoint {
	h.queries = append(h.queries, q)
	return []metrics.Datapoint{{Time: q.Start, Count: 4, Sum: 10, Min: 1, Max: 4, Unit: metrics.UnitMilliseconds}}
}

func (h *history) Metrics(string) []metrics.Metric { return nil }

// authorizer lets everything, for a caller of account.
type authorizer struct{ account string }

func (authorizer) Authorize(context.Context, string, string, string) error { return nil }
func (a authorizer) Account(context.Context) string                        { return a.account }

// call sends a CBOR request of op with in, and decodes the answer into out.
func call(t *testing.T, s *Server, op string, in, out any) int {
	t.Helper()
	body, err := encMode.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, pathPrefix+op, bytes.NewReader(body))
	r.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	w := httptest.NewRecorder()
	s.Mount(http.NotFoundHandler()).ServeHTTP(w, r)
	if err := decMode.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("%s answered %d %x: %v", op, w.Code, w.Body.Bytes(), err)
	}
	return w.Code
}

// Another account's dimensions name its functions, whose keys carry the
// account.
func TestServer_Accounts(t *testing.T) {
	h := &history{}
	s := &Server{History: h, Account: "000000000000", Authorizer: authorizer{"111111111111"}}
	start := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	in := map[string]any{"Namespace": "AWS/Lambda", "MetricName": "Duration", "StartTime": start, "EndTime": start.Add(time.Hour), "Period": 120,
		"Dimensions":         []map[string]string{{"Name": "FunctionName", "Value": "fn"}, {"Name": "Resource", "Value": "fn:live"}},
		"ExtendedStatistics": []string{"p99"}, "Statistics": []string{"Average", "SampleCount"}}
	var out struct {
		Datapoints []struct {
			Timestamp          time.Time
			Average            *float64
			SampleCount        *float64
			Sum                *float64
			ExtendedStatistics map[string]float64
		}
	}
	if code := call(t, s, "GetMetricStatistics", in, &out); code != 200 {
		t.Fatalf("%d %+v", code, out)
	}
	q := h.queries[0]
	if q.Dimensions["FunctionName"] != "111111111111/fn" || q.Dimensions["Resource"] != "111111111111/fn:live" || q.Account != "111111111111" ||
		q.Period != 2*time.Minute || !q.Start.Equal(start.Truncate(time.Minute)) {
		t.Errorf("query %+v", q)
	}
	if len(out.Datapoints) != 1 || *out.Datapoints[0].Average != 2.5 || *out.Datapoints[0].SampleCount != 4 || out.Datapoints[0].Sum != nil ||
		!out.Datapoints[0].Timestamp.Equal(start.Truncate(time.Minute)) {
		t.Errorf("data points %+v", out.Datapoints)
	}
	var e struct {
		Type    string `cbor:"__type"`
		Message string `cbor:"message"`
	}
	in["Period"] = 90
	if code := call(t, s, "GetMetricStatistics", in, &e); code != 400 || e.Type != "com.amazonaws.cloudwatch#InvalidParameterValueException" ||
		e.Message != "The parameter Period must be a multiple of 60." {
		t.Errorf("period 90: %d %+v", code, e)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1440: "1,440", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}
