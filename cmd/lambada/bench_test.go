package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// The benchmarks measure Lambada's hot path with the measuring code of
// `lambada bench`, beside floors measured in the same run:
//
//	go test ./cmd/lambada -run '^$' -bench . -benchtime 2000x
//
// BenchmarkFloor and BenchmarkInvokeWarm send the same 100-byte body with the
// same client at each concurrency level of `lambada bench`; their ns/op is
// the inverse of the throughput. Unlike `lambada bench`, the node runs in
// the benchmark's process, so that -cpuprofile shows where its time goes.
// BenchmarkColdStart alternates cold starts with bare starts of the same
// bootstrap.

func BenchmarkFloor(b *testing.B) {
	f, err := bench.StartFloor()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchmarkLevels(b, &warmTarget{Do: bench.Poster(bench.NewClient(2*bench.TargetLevel), f.URL, bench.Body), Pid: f.Pid()})
}

func BenchmarkInvokeWarm(b *testing.B) {
	m := MustOpenMain(b, "")
	MustCreateFunction(b, client(m), "noop", 3, nil)
	c := bench.NewClient(2 * bench.TargetLevel)
	benchmarkLevels(b, &warmTarget{Do: bench.Poster(c, invokeURL("http://"+m.Addr(), "noop"), bench.Body)})
}

// benchmarkLevels measures t at each concurrency level of `lambada bench`.
func benchmarkLevels(b *testing.B, t *warmTarget) {
	for _, level := range benchLevels {
		b.Run(fmt.Sprintf("c=%d", level), func(b *testing.B) {
			ctx := context.Background()
			t.WarmUp(ctx, level)
			b.ResetTimer()
			res := t.Measure(ctx, bench.Load{Concurrency: level, Requests: b.N})
			b.StopTimer()
			if res.Errors > 0 {
				b.Fatalf("%d of %d requests failed; the first: %v", res.Errors, res.Requests(), res.Err)
			}
			reportLatency(b, "", res)
			b.ReportMetric(res.Throughput(), "req/s")
			if cpu := t.NodeCPU[level]; cpu.Requests > 0 {
				b.ReportMetric(float64(cpu.PerRequest().Microseconds()), "server-cpu-µs/req")
			}
		})
	}
}

func BenchmarkColdStart(b *testing.B) {
	m := MustOpenMain(b, "")
	api := client(m)
	MustCreateFunction(b, api, "cold", 3, nil)
	b.ResetTimer()
	cold, bare := coldStarts(context.Background(), api, bench.NewClient(1), "http://"+m.Addr(), "cold", func(ctx context.Context) (time.Duration, error) {
		return bench.BareStart(ctx, testfn.Bootstrap())
	}, b.N)
	b.StopTimer()
	for _, r := range []bench.Result{cold, bare} {
		if r.Errors > 0 {
			b.Fatalf("%d of %d starts failed; the first: %v", r.Errors, r.Requests(), r.Err)
		}
	}
	reportLatency(b, "cold-", cold)
	reportLatency(b, "bare-", bare)
}

func reportLatency(b *testing.B, prefix string, r bench.Result) {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(r.Percentile(0.5)), prefix+"p50-µs")
	b.ReportMetric(us(r.Percentile(0.99)), prefix+"p99-µs")
}

// BenchmarkBurst runs, b.N times, a burst of 1000 simultaneous invocations
// of a function sleeping 1 s (new environments each time: a new
// configuration), after a burst of 1000 bare starts of its bootstrap.
//
//	go test ./cmd/lambada -run '^$' -bench Burst -benchtime 1x -cpuprofile burst.prof
func BenchmarkBurst(b *testing.B) {
	if !strings.Contains(flag.Lookup("test.bench").Value.String(), "Burst") {
		b.Skip("each op is a burst of 1000: run it by name, -bench Burst -benchtime 1x")
	}
	const n, sleep = 1000, time.Second
	m := MustOpenMain(b, "", func(m *Main) { m.Concurrency = n })
	api := client(m)
	MustCreateFunction(b, api, "burst", 10, nil)
	for i := range b.N {
		b.StopTimer()
		if _, err := api.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("burst"), Description: aws.String(fmt.Sprint(i))}); err != nil {
			b.Fatal(err)
		}
		MustSettle(b, api, "burst")
		bare := bench.BareBurst(context.Background(), testfn.Bootstrap(), n)
		b.StartTimer()
		res := burst(context.Background(), invokeURL("http://"+m.Addr(), "burst"), n, sleep)
		if res.Errors > 0 || bare.Errors > 0 {
			b.Fatalf("%d of %d invocations failed (the first: %v); %d bare starts failed", res.Errors, res.Requests(), res.Err, bare.Errors)
		}
		reportLatency(b, "", res)
		reportLatency(b, "bare-", bare)
	}
}
