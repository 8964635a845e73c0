package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/internal/poll"
)

// runLogs runs `lambada logs` against m (as the local default endpoint,
// signing with its dummy credentials) with args, uncoloured unless color,
// and returns what it printed.
func runLogs(t *testing.T, m *Main, color bool, args ...string) string {
	t.Helper()
	var out, errs strings.Builder
	c := &logsCommand{Stdout: &out, Stderr: &errs, Color: &color, defaultEndpoint: "http://" + m.Addr()}
	if err := c.Run(context.Background(), args); err != nil {
		t.Fatalf("lambada logs %v: %v\n%s", args, err, errs.String())
	}
	return out.String()
}

func TestLogsCommand(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "tailed", 10, nil)
	v1 := mustPublish(t, c, "tailed")
	_, id := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("tailed"), Payload: printEvent("first line")})
	sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("tailed"), Qualifier: aws.String(v1), Payload: printEvent(`{"level":"ERROR","msg":"of version 1"}`)})
	waitLines(t, m, "/aws/lambda/tailed", "REPORT", 2)

	out := runLogs(t, m, false, "tailed")
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\$LATEST\][0-9a-f]{32} START RequestId: ` + id + ` Version: \$LATEST$`)
	if !line.MatchString(out) || !strings.Contains(out, " first line\n") || !strings.Contains(out, `{"level":"ERROR","msg":"of version 1"}`) {
		t.Errorf("lambada logs tailed:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colours when piped:\n%q", out)
	}
	if out := runLogs(t, m, false, "--filter", `"first line"`, "tailed"); strings.Count(out, "\n") != 2 || !strings.Contains(out, " stderr:first line\n") {
		t.Errorf("--filter:\n%s", out)
	}
	if out := runLogs(t, m, false, "--qualifier", v1, "tailed"); strings.Contains(out, "first line") || !strings.Contains(out, "of version 1") {
		t.Errorf("--qualifier %s:\n%s", v1, out)
	}
	if out := runLogs(t, m, false, "--since", "1ms", "tailed"); out != "" {
		t.Errorf("--since 1ms:\n%s", out)
	}
	colored := runLogs(t, m, true, "tailed")
	if !strings.Contains(colored, dim+"START RequestId: "+id) || !strings.Contains(colored, red+`{"level":"ERROR"`) || !strings.Contains(colored, " first line\n") {
		t.Errorf("coloured:\n%q", colored)
	}

	var errs strings.Builder
	err := (&logsCommand{Stdout: &strings.Builder{}, Stderr: &errs, defaultEndpoint: "http://" + m.Addr()}).Run(context.Background(), []string{"none"})
	if err == nil || !strings.Contains(err.Error(), "An error occurred (ResourceNotFoundException) when calling the GetFunctionConfiguration operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:none") {
		t.Errorf("a missing function: %v", err)
	}
}

// --follow prints each new line once, as it comes, until interrupted.
func TestLogsCommand_Follow(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "followed", 10, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	no := false
	done := make(chan error, 1)
	go func() {
		done <- (&logsCommand{Stdout: &out, Stderr: &out, Color: &no, Poll: 20 * time.Millisecond, defaultEndpoint: "http://" + m.Addr()}).Run(ctx,
			[]string{"--follow", "followed"})
	}()
	for _, msg := range []string{"one followed line", "another followed line"} {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("followed"), Payload: printEvent(msg)})
		poll.Until(t, 30*time.Second, "lambada logs --follow prints "+msg, func() bool { return strings.Contains(out.String(), " "+msg+"\n") })
	}
	poll.Until(t, 30*time.Second, "both REPORT lines", func() bool { return strings.Count(out.String(), "REPORT RequestId: ") == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("--follow ended with %v", err)
	}
	got := out.String()
	for _, msg := range []string{" one followed line\n", " another followed line\n"} {
		if strings.Count(got, msg) != 1 {
			t.Errorf("%q printed %d times:\n%s", msg, strings.Count(got, msg), got)
		}
	}
	if strings.Count(got, "START RequestId: ") != 2 {
		t.Errorf("START lines:\n%s", got)
	}
}

// fakeEvents answers FilterLogEvents with the events of its asks: asks[i]
// for the i-th ask (the last for any later), those at StartTime or later.
type fakeEvents struct {
	mu     sync.Mutex
	asks   [][]types.FilteredLogEvent
	n      int
	cancel context.CancelFunc // after the last ask
}

func (f *fakeEvents) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	events := f.asks[min(f.n, len(f.asks)-1)]
	if f.n++; f.n >= len(f.asks) {
		f.cancel()
	}
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for _, e := range events {
		if aws.ToInt64(e.Timestamp) >= aws.ToInt64(in.StartTime) {
			out.Events = append(out.Events, e)
		}
	}
	return out, nil
}

// A line stored after a newer one was printed is still printed, once.
func TestLogPrinter_LateLines(t *testing.T) {
	event := func(id string, ms int64) types.FilteredLogEvent {
		return types.FilteredLogEvent{EventId: aws.String(id), Timestamp: aws.Int64(ms), LogStreamName: aws.String("s"), Message: aws.String(id + "\n")}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	newer := event("newer", 10_000)
	late := event("late", 9_000) // written a second before, stored after
	f := &fakeEvents{asks: [][]types.FilteredLogEvent{{newer}, {late, newer}, {late, newer}}, cancel: cancel}
	var out strings.Builder
	p := &logPrinter{out: &out, seen: map[string]int64{}, group: "g"}
	if err := p.run(ctx, f, 0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, " newer\n") != 1 || strings.Count(got, " late\n") != 1 {
		t.Errorf("printed:\n%s", got)
	}
}
