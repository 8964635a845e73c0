package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambada-dev/lambada/internal/poll"
)

func authRun() *AuthRun {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	return &AuthRun{
		Off:     map[int]Result{1: results(100, ms(0.4), time.Second/20, 0), 64: results(100, ms(10), time.Second/30, 0)},
		On:      map[int]Result{1: results(100, ms(0.42), time.Second/20, 0), 64: results(100, ms(10), time.Second/28, 0)},
		OffCPU:  map[int]*CPU{64: {Used: 100 * us(150), Requests: 100}},
		OnCPU:   map[int]*CPU{64: {Used: 100 * us(165), Requests: 100}},
		Calm:    results(100, ms(2), time.Second/30, 0),
		Flooded: results(100, ms(2), time.Second/25, 0), FloodedAside: results(100, ms(2), time.Second/25, 0),
		Flood: results(1000, ms(1), time.Second, 0),
	}
}

func TestReport_AuthTargets(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	for _, tc := range []struct {
		name       string
		change     func(a *AuthRun)
		cpu, flood Mark
	}{
		{"15 µs more CPU, as fast under the flood as beside it", func(*AuthRun) {}, Pass, Pass},
		{"16 µs more CPU", func(a *AuthRun) { a.OnCPU[64].Used = 100 * us(166) }, Fail, Pass},
		{"CPU not measured", func(a *AuthRun) { a.OnCPU[64].Missing = "in-process" }, NotMeasured, Pass},
		{"0.89× under the flood", func(a *AuthRun) { a.Flooded.Wall = time.Second * 100 / 89 / 25 }, Pass, Fail},
		{"an error under the flood", func(a *AuthRun) { a.Flooded.Errors = 1 }, Pass, Fail},
		{"slower than calm, as slow as with the flood elsewhere", func(a *AuthRun) { a.Calm.Wall = time.Second / 100 }, Pass, Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := authRun()
			tc.change(a)
			m := marks(&Report{Levels: []int{1, 8, 64}, Auth: a})
			if got := m["--auth: node CPU per invocation, c=64"]; got != tc.cpu {
				t.Errorf("CPU: %q, want %q", got, tc.cpu)
			}
			if got := m["--auth: signed throughput under 1000 bad/s, c=8"]; got != tc.flood {
				t.Errorf("flood: %q, want %q", got, tc.flood)
			}
		})
	}
	if rows := (&Report{Auth: &AuthRun{Skipped: "in-process"}}).authRows(); len(rows) != 1 || rows[0].Mark != NotMeasured {
		t.Errorf("skipped: %+v", rows)
	}
}

// Flood keeps its rate by the clock and stops when told; Refused counts a
// 403 as done and anything else as an error.
func TestFlood(t *testing.T) {
	var refused, got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.Header.Get("Authorization") == "" || r.Header.Get("X-Amz-Date") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		refused.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	s := Signed{Credentials: aws.Credentials{AccessKeyID: "AKIAX", SecretAccessKey: "wrong"}, Region: "us-east-1"}
	stop := Flood(context.Background(), 1000, Refused(srv.Client(), srv.URL, s))
	poll.Until(t, 10*time.Second, "200 requests refused", func() bool { return refused.Load() >= 200 })
	res := stop()
	sent := got.Load()
	// Each request the server saw is counted, but those stop cut short (a
	// worker's at most).
	if res.Errors != 0 || len(res.Latencies) < 200-floodWorkers || int64(res.Requests()) > sent || sent-int64(res.Requests()) > floodWorkers {
		t.Errorf("%d refused, %d errors (%v), %d sent", len(res.Latencies), res.Errors, res.Err, sent)
	}
	// Paced: no more than the rate allows over the time it ran (and a
	// backlog's worth).
	if max := int(res.Wall.Seconds()*1000) + 100; res.Requests() > max {
		t.Errorf("%d requests in %v, over the pace", res.Requests(), res.Wall)
	}
	if after := got.Load(); after != sent {
		t.Errorf("%d requests after stop", after-sent)
	}

	accepting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer accepting.Close()
	if err := Refused(accepting.Client(), accepting.URL, s)(context.Background()); err == nil || err.Error() != "accepted" {
		t.Errorf("a request answered 200: %v", err)
	}
}
