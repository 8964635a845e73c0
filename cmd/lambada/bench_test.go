package main

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/bench"
	"github.com/lambada-dev/lambada/internal/testfn"
)

// The benchmarks compare Lambada with floors measured in the same run:
//
//	go test ./cmd/lambada -run '^$' -bench . -benchtime 2000x
//
// BenchmarkFloor and BenchmarkInvokeWarm send the same 100-byte body with the
// same client; BenchmarkColdStart/bare starts the same bootstrap by hand.

// benchBody is 100 bytes: the no-op function ignores the padding.
var benchBody = []byte(`{"action":"noop","msg":"` + string(make100()) + `"}`)

func make100() []byte {
	b := make([]byte, 100-len(`{"action":"noop","msg":""}`))
	for i := range b {
		b[i] = 'p'
	}
	return b
}

func newBenchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
}

// timeLoop runs post b.N times and reports the p50 and p99 latencies.
func timeLoop(b *testing.B, post func() error) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := post(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
}

func BenchmarkFloor(b *testing.B) {
	f, err := bench.StartFloor()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c := newBenchClient()
	if err := bench.Post(c, f.URL, benchBody); err != nil {
		b.Fatal(err)
	}
	timeLoop(b, func() error { return bench.Post(c, f.URL, benchBody) })
}

func BenchmarkInvokeWarm(b *testing.B) {
	m := MustOpenMain(b, "")
	MustCreateFunction(b, client(m), "noop", 3, nil)
	url := "http://" + m.Addr() + "/2015-03-31/functions/noop/invocations"
	c := newBenchClient()
	if err := bench.Post(c, url, benchBody); err != nil { // the cold start
		b.Fatal(err)
	}
	timeLoop(b, func() error { return bench.Post(c, url, benchBody) })
}

func BenchmarkColdStart(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for range b.N {
			d, err := bench.BareStart(context.Background(), testfn.Bootstrap())
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, d)
		}
		reportPercentiles(b, lat)
	})
	b.Run("lambada", func(b *testing.B) {
		m := MustOpenMain(b, "")
		api := client(m)
		MustCreateFunction(b, api, "cold", 3, nil)
		url := "http://" + m.Addr() + "/2015-03-31/functions/cold/invocations"
		c := newBenchClient()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			// A configuration change retires the warm environment, so the
			// next invocation starts a new one.
			b.StopTimer()
			_, err := api.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String("cold"), Environment: &types.Environment{Variables: map[string]string{"ITERATION": strconv.Itoa(i)}}})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t0 := time.Now()
			if err := bench.Post(c, url, benchBody); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportPercentiles(b, lat)
	})
}
