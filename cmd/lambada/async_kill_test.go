package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/walls"
)

// childNode runs `lambada serve` from this test binary in a child process
// with its data in dir/data.
func childNode(t *testing.T, dir string, serveArgs ...string) (*benchServer, *lambda.Client) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &benchCommand{Stdout: io.Discard, Stderr: io.Discard, Self: []string{exe}, SelfEnv: []string{selfEnv + "=1"},
		ServeArgs: append([]string{"--async-time-scale", "0.001"}, serveArgs...)}
	s, err := cmd.startChild(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	return s, c
}

// nothingLostScale is TestAsync_NothingLost's --async-time-scale.
var nothingLostScale = []string{"--async-time-scale", "0.005"}

// TestAsync_NothingLost kills a node with SIGKILL while thousands of
// accepted events are queued and in flight, restarts it on the same data,
// and checks that every accepted event ran at least once; the second case
// does it while every event's first attempt fails and is retried.
func TestAsync_NothingLost(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills and restarts a node in a child process")
	}
	for _, tc := range []struct {
		name   string
		events int
		fail   int // attempts of each event that fail
	}{
		{"events", 3000, 0},
		{"retried events", 1000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			mark := filepath.Join(dir, "seen")
			// Time runs 200 times faster than AWS's: a retry after 0.3 s, an
			// event too old after 108 s (at 1000 times faster, 21.6 s, a
			// loaded machine may not drain the queue in time after the
			// restart, and what is left goes as too old).
			s, c := childNode(t, dir, nothingLostScale...)
			if _, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
				FunctionName: aws.String("rec"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
				Role: aws.String("arn:aws:iam::123456789012:role/any"), Code: &types.FunctionCode{ZipFile: fnZip},
				Environment: &types.Environment{Variables: withMarks(t, nil)}}); err != nil {
				t.Fatal(err)
			}
			MustSettle(t, c, "rec")
			// Four environments at a time, each event taking 2 ms: events
			// queue up faster than they run.
			MustPutConcurrency(t, c, "rec", 4)
			payload := recordEventMS(mark, tc.fail, 2)

			// Events are sent by 16 callers; the node is killed once a
			// random share of them is accepted.
			killAt := int64(tc.events/4 + rand.IntN(tc.events/2))
			var mu sync.Mutex
			var accepted []string
			var count atomic.Int64
			killed := make(chan struct{})
			var killOnce sync.Once
			send := func(c *lambda.Client, n int) {
				var wg sync.WaitGroup
				var next atomic.Int64
				for range 16 {
					wg.Go(func() {
						for next.Add(1) <= int64(n) {
							out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("rec"),
								InvocationType: types.InvocationTypeEvent, Payload: payload})
							if err != nil {
								continue // not accepted: the node is gone
							}
							id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
							mu.Lock()
							accepted = append(accepted, id)
							mu.Unlock()
							if count.Add(1) == killAt {
								killOnce.Do(func() {
									_ = syscall.Kill(s.Pid, syscall.SIGKILL)
									close(killed)
								})
							}
						}
					})
				}
				wg.Wait()
			}
			send(c, tc.events)
			<-killed
			_ = s.Close() // reaps the killed process
			before := len(accepted)
			ran := 0
			for _, n := range runCounts(t, mark) {
				if n > tc.fail {
					ran++
				}
			}
			t.Logf("killed once %d events were accepted; %d accepted in all before it died, %d of them had run at least once", killAt, before, ran)

			killedPid := s.Pid
			s, c = childNode(t, dir, nothingLostScale...)
			t.Cleanup(func() { s.Close() })
			// The killed node's cgroups are gone: the new node (or another
			// node of this test binary that opened meanwhile) removed them.
			// A sweep from here finds none of them left.
			for _, dir := range walls.Detect(slog.New(slog.DiscardHandler)).Sweep(slog.New(slog.DiscardHandler)) {
				if base := filepath.Base(dir); strings.HasPrefix(base, strconv.Itoa(killedPid)+".") || strings.HasPrefix(base, strconv.Itoa(killedPid)+"-") {
					t.Errorf("the killed node's cgroup %s was left behind", dir)
				}
			}
			send(c, tc.events-before)
			t.Logf("%d events accepted in all", len(accepted))
			if len(accepted) < tc.events*9/10 {
				t.Fatalf("only %d of %d events accepted", len(accepted), tc.events)
			}
			var missing int
			if !poll.Wait(4*time.Minute, func() bool { // a slow, loaded machine: nothing lost is the point, not speed
				runs := runCounts(t, mark)
				missing = 0
				for _, id := range accepted {
					if runs[id] <= tc.fail {
						missing++
					}
				}
				return missing == 0
			}) {
				t.Fatalf("after 4 minutes, %d of %d accepted events have not run (past their failures); the node's events given up: %s",
					missing, len(accepted), droppedEvents(s.URL))
			}
			runs := runCounts(t, mark)
			duplicates := 0
			for _, id := range accepted {
				duplicates += runs[id] - tc.fail - 1
			}
			t.Logf("every one of %d accepted events ran; %d extra runs (at least once, not exactly once)", len(accepted), duplicates)
		})
	}
}

// runCounts reads the test function's record file: attempts per request id.
func runCounts(t *testing.T, mark string) map[string]int {
	b, err := os.ReadFile(mark)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	runs := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if id, _, ok := strings.Cut(line, " "); ok {
			runs[id]++
		}
	}
	return runs
}

// droppedEvents is the line of the node's metrics that counts the events
// it gave up (too old, or their retries spent), or why it cannot be read.
func droppedEvents(url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "aws_lambda_async_events_dropped_total") {
			return line
		}
	}
	return "none"
}
