package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/internal/poll"
)

// asyncScale makes AWS's minute between retries 0.6 s in these tests.
const asyncScale = 0.01

// MustOpenAsyncMain starts a node whose asynchronous delays are scaled down.
func MustOpenAsyncMain(tb testing.TB) *Main {
	return MustOpenMain(tb, "", func(m *Main) { m.AsyncTimeScale = asyncScale })
}

// waitQueueEmpty waits until m's queue holds no event, waiting or in work:
// every event was acknowledged.
func waitQueueEmpty(t *testing.T, m *Main) {
	t.Helper()
	poll.Until(t, 20*time.Second, "the queue is empty", func() bool {
		waiting, working, err := m.node.Events.Pending(context.Background())
		return err == nil && waiting == 0 && working == 0
	})
}

// recorded returns the lines the test function's "record" action wrote to
// mark: "<request id> <TESTFN_TAG>".
func recorded(tb testing.TB, mark string) []string {
	b, err := os.ReadFile(mark)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " \n", " -\n"))
}

// attempts counts the lines of requestID in mark.
func attempts(tb testing.TB, mark, requestID string) int {
	b, err := os.ReadFile(mark)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	return strings.Count(string(b), requestID+" ")
}

// recordEvent is the event of the test function's "record" action: the
// first fail attempts of each request fail.
func recordEvent(mark string, fail int) []byte {
	return recordEventMS(mark, fail, 0)
}

// recordEventMS is recordEvent for a function that then works ms.
func recordEventMS(mark string, fail, ms int) []byte {
	b, _ := json.Marshal(map[string]any{"action": "record", "mark": mark, "count": fail, "ms": ms})
	return b
}

// invokeEvent sends an Event invocation and returns its request id.
func invokeEvent(t *testing.T, c *lambda.Client, name string, payload []byte) string {
	t.Helper()
	out, id := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: payload})
	if out.StatusCode != 202 || len(out.Payload) != 0 || out.ExecutedVersion != nil || out.FunctionError != nil || id == "" {
		t.Fatalf("Event invocation: %d %q version=%v error=%v id=%q", out.StatusCode, out.Payload, out.ExecutedVersion, out.FunctionError, id)
	}
	return id
}

func TestAsync_Accept(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	c := client(m)
	MustCreateFunction(t, c, "rec", 3, nil)
	mark := filepath.Join(t.TempDir(), "seen")

	id := invokeEvent(t, c, "rec", recordEvent(mark, 0))
	poll.Until(t, 20*time.Second, "the event ran", func() bool { return attempts(t, mark, id) == 1 })
	waitQueueEmpty(t, m)

	// An event of exactly 1 MiB is accepted; one byte more is not.
	big := []byte(`"` + strings.Repeat("x", 1048574) + `"`)
	invokeEvent(t, c, "rec", big)
	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("rec"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`"` + strings.Repeat("x", 1048575) + `"`)})
	if apiErrorCode(err) != "RequestEntityTooLargeException" || !strings.Contains(err.Error(), "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)") {
		t.Fatalf("1 MiB + 1: %v", err)
	}
	// Validated like a synchronous invocation.
	for _, tc := range []struct {
		in   *lambda.InvokeInput
		code string
		msg  string
	}{
		{&lambda.InvokeInput{FunctionName: aws.String("missing")}, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"},
		{&lambda.InvokeInput{FunctionName: aws.String("rec"), Qualifier: aws.String("live")}, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:rec:live"},
		{&lambda.InvokeInput{FunctionName: aws.String("rec"), Payload: []byte(`{"a":`)}, "InvalidRequestContentException", "Could not parse request body into json"},
		{&lambda.InvokeInput{FunctionName: aws.String("rec"), ClientContext: aws.String("bm90IGpzb24=")}, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object."},
	} {
		tc.in.InvocationType = types.InvocationTypeEvent
		if _, err := c.Invoke(context.Background(), tc.in); apiErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %s %s", aws.ToString(tc.in.FunctionName), err, tc.code, tc.msg)
		}
	}
}

// sinkRecords returns the destination records the sink function wrote to
// path, by request id.
func sinkRecords(tb testing.TB, path string) map[string]destinationRecord {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	out := map[string]destinationRecord{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r destinationRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			tb.Fatalf("record %q: %v", line, err)
		}
		r.raw = line
		out[r.RequestContext.RequestID] = r
	}
	return out
}

// destinationRecord is what a destination receives, as a test reads it.
type destinationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext *struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
	raw             string
}

// MustPutConcurrency reserves n executions for the function name.
func MustPutConcurrency(tb testing.TB, c *lambda.Client, name string, n int32) {
	tb.Helper()
	if _, err := c.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
		tb.Fatalf("reserve %d for %s: %v", n, name, err)
	}
}

// MustPutEventInvokeConfig puts the EventInvokeConfig of in's function.
func MustPutEventInvokeConfig(tb testing.TB, c *lambda.Client, in *lambda.PutFunctionEventInvokeConfigInput) {
	tb.Helper()
	if _, err := c.PutFunctionEventInvokeConfig(context.Background(), in); err != nil {
		tb.Fatalf("event invoke config of %s: %v", aws.ToString(in.FunctionName), err)
	}
}

// MustCreateSink deploys the test function as name, writing every event it
// receives to a file it returns.
func MustCreateSink(t *testing.T, c *lambda.Client, name string) string {
	path := filepath.Join(t.TempDir(), name)
	MustCreateFunction(t, c, name, 3, map[string]string{"TESTFN_SINK": path})
	return path
}

// waitRecord waits for the destination record of requestID.
func waitRecord(t *testing.T, sink, requestID string) destinationRecord {
	t.Helper()
	var r destinationRecord
	poll.Until(t, 30*time.Second, "the destination record of "+requestID, func() bool {
		var ok bool
		r, ok = sinkRecords(t, sink)[requestID]
		return ok
	})
	return r
}

// A function error is retried twice by default, with the same request id,
// about a (scaled) minute and then two minutes apart; MaximumRetryAttempts
// 0 runs it once. A record of each outcome reaches the destinations.
func TestAsync_Retries(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	c := client(m)
	MustCreateFunction(t, c, "flaky", 3, nil)
	sink := MustCreateSink(t, c, "sink")
	mark := filepath.Join(t.TempDir(), "flaky")

	start := time.Now()
	id := invokeEvent(t, c, "flaky", recordEvent(mark, 5))
	poll.Until(t, 30*time.Second, "three attempts", func() bool { return attempts(t, mark, id) == 3 })
	if took := time.Since(start); took < time.Duration(3*60*asyncScale*float64(time.Second)) {
		t.Errorf("three attempts took %v: the retries did not wait 1 and 2 scaled minutes", took)
	}
	waitQueueEmpty(t, m)
	if n := attempts(t, mark, id); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}

	sinkARN := "arn:aws:lambda:us-east-1:000000000000:function:sink"
	MustPutEventInvokeConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("flaky"), MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(sinkARN)}, OnSuccess: &types.OnSuccess{Destination: aws.String(sinkARN)}},
	})
	failed := invokeEvent(t, c, "flaky", recordEvent(mark, 5))
	succeeded := invokeEvent(t, c, "flaky", recordEvent(mark, 1)) // the retry succeeds
	r := waitRecord(t, sink, failed)
	if attempts(t, mark, failed) != 2 || r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 2 ||
		r.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST" || r.Version != "1.0" ||
		r.ResponseContext == nil || r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "Unhandled" ||
		!strings.Contains(string(r.ResponsePayload), `"errorMessage":"attempt 2 of `+failed+` fails"`) || !strings.Contains(string(r.RequestPayload), `"action":"record"`) {
		t.Errorf("failure record after %d attempts: %s", attempts(t, mark, failed), r.raw)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", r.Timestamp, err)
	}
	r = waitRecord(t, sink, succeeded)
	if attempts(t, mark, succeeded) != 2 || r.RequestContext.Condition != "Success" || r.RequestContext.ApproximateInvokeCount != 2 ||
		r.ResponseContext == nil || r.ResponseContext.FunctionError != "" || string(r.ResponsePayload) != "null" {
		t.Errorf("success record after %d attempts: %s", attempts(t, mark, succeeded), r.raw)
	}
	waitQueueEmpty(t, m)
}

// Reserved concurrency 0 sends an event straight to failure; an event
// older than MaximumEventAgeInSeconds is given up.
func TestAsync_GivenUp(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	c := client(m)
	MustCreateFunction(t, c, "fn", 3, nil)
	sink := MustCreateSink(t, c, "sink")
	sinkARN := "arn:aws:lambda:us-east-1:000000000000:function:sink"
	mark := filepath.Join(t.TempDir(), "fn")
	MustPutEventInvokeConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("fn"), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(sinkARN)}},
	})
	// A scaled minute is 0.6 s: the first retry would come after the
	// event's maximum age.
	old := invokeEvent(t, c, "fn", recordEvent(mark, 5))
	r := waitRecord(t, sink, old)
	if r.RequestContext.Condition != "EventAgeExceeded" || r.RequestContext.ApproximateInvokeCount != 1 || attempts(t, mark, old) != 1 {
		t.Errorf("age record after %d attempts: %s", attempts(t, mark, old), r.raw)
	}

	MustPutConcurrency(t, c, "fn", 0)
	zero := invokeEvent(t, c, "fn", recordEvent(mark, 0))
	r = waitRecord(t, sink, zero)
	if r.RequestContext.Condition != "ZeroReservedConcurrency" || r.RequestContext.ApproximateInvokeCount != 0 || r.ResponseContext != nil ||
		r.ResponsePayload != nil || attempts(t, mark, zero) != 0 {
		t.Errorf("zero reserved record: %s", r.raw)
	}
}

// holdOnlySlot gives function name (deployed from the test function, with
// a timeout of at least 30 s) a reserved concurrency of 1 and holds that
// slot with a synchronous invocation until the returned release is called.
func holdOnlySlot(t *testing.T, m *Main, name string) (release func()) {
	t.Helper()
	c := client(m)
	ctx := context.Background()
	MustPutConcurrency(t, c, name, 1)
	mark := filepath.Join(t.TempDir(), "release")
	held := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"wait","mark":"` + mark + `"}`)})
		held <- err
	}()
	poll.Until(t, 20*time.Second, "the slot is held", func() bool { return m.limiter.Running(name) == 1 })
	return func() {
		t.Helper()
		if err := os.WriteFile(mark, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := <-held; err != nil {
			t.Fatal(err)
		}
	}
}

// A throttled event goes back to the queue without using up its retries,
// and runs the code current when it runs.
func TestAsync_Throttled(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "fn", 30, map[string]string{"TESTFN_TAG": "old"})
	MustPutEventInvokeConfig(t, c, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("fn"), MaximumRetryAttempts: aws.Int32(0)})
	mark := filepath.Join(t.TempDir(), "seen")
	release := holdOnlySlot(t, m, "fn")
	id := invokeEvent(t, c, "fn", recordEvent(mark, 0))
	// The throttled event waits 1, 2, 4 … scaled seconds between tries.
	poll.Until(t, 20*time.Second, "the event was throttled three times", func() bool { return m.async.Throttled() >= 3 })
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"),
		Environment: &types.Environment{Variables: withMarks(t, map[string]string{"TESTFN_TAG": "new"})}}); err != nil {
		t.Fatal(err)
	}
	MustSettle(t, c, "fn")
	release()
	poll.Until(t, 30*time.Second, "the event ran", func() bool { return attempts(t, mark, id) == 1 })
	if got := recorded(t, mark); len(got) != 2 || got[1] != "new" {
		t.Fatalf("recorded %q, want the event run once by the new configuration", got)
	}
}

// `lambada invoke --invocation-type Event` and the AWS CLI print the same
// answer and leave the outfile empty; the event runs.
func TestAsync_InvokeCommand(t *testing.T) {
	dir := isolateAWSEnv(t)
	withCredentials(t)
	m := MustOpenAsyncMain(t)
	MustCreateFunction(t, client(m), "rec", 3, nil)
	mark := filepath.Join(dir, "seen")
	payload := string(recordEvent(mark, 0))

	cliOut := filepath.Join(dir, "cli.out")
	stdout, stderr, code := awsCLI(t, m, "lambda", "invoke", "--function-name", "rec", "--invocation-type", "Event", "--payload", payload, cliOut)
	if code != 0 || stdout != "{\n    \"StatusCode\": 202\n}\n" || mustReadFile(t, cliOut) != "" {
		t.Fatalf("aws: %d %q %q, outfile %q", code, stdout, stderr, mustReadFile(t, cliOut))
	}
	ours := mustWriteFile(t, filepath.Join(dir, "ours.out"), "previous content")
	got, _, err := runInvoke(t, "", "--endpoint-url", "http://"+m.Addr(), "--function-name", "rec", "--invocation-type", "Event", "--payload", payload, ours)
	if err != nil || got != stdout || mustReadFile(t, ours) != "" {
		t.Fatalf("lambada invoke: %v %q, outfile %q", err, got, mustReadFile(t, ours))
	}
	poll.Until(t, 20*time.Second, "both events ran", func() bool { return len(recorded(t, mark)) == 4 })
}

// A full queue refuses Event invocations with an error; it never accepts
// an event it cannot keep.
func TestAsync_QueueFull(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "", func(m *Main) { m.AsyncTimeScale = asyncScale; m.EventBytes = 256 << 10 })
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "fn", 30, nil)
	mark := filepath.Join(t.TempDir(), "seen")
	release := holdOnlySlot(t, m, "fn")

	payload := recordEvent(mark, 0)
	payload = append(payload[:len(payload)-1], []byte(`,"pad":"`+strings.Repeat("x", 50<<10)+`"}`)...)
	var accepted []string
	for range 20 {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeEvent, Payload: payload})
		if err != nil {
			if apiErrorCode(err) != "ServiceException" || !strings.Contains(err.Error(), "The asynchronous invocation queue is full: the event was not accepted.") {
				t.Fatalf("event %d: %v", len(accepted), err)
			}
			break
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		accepted = append(accepted, id)
	}
	if len(accepted) == 0 || len(accepted) == 20 {
		t.Fatalf("%d events of 50 KB accepted by a 256 KB queue", len(accepted))
	}
	release()
	poll.Until(t, 30*time.Second, "every accepted event ran", func() bool {
		for _, id := range accepted {
			if attempts(t, mark, id) == 0 {
				return false
			}
		}
		return true
	})
	invokeEvent(t, c, "fn", payload) // room again
}

// The README's example: an Event invocation whose function fails lands in
// the dead-letter queue, read with `aws sqs receive-message`; the failure
// destination, another queue, gets the record.
func TestAsync_DeadLetterQueueWithAWSCLI(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	MustCreateFunction(t, client(m), "fails", 3, nil)
	endpoint := "http://" + m.Addr()
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := awsCLI(t, m, args...)
		if code != 0 {
			t.Fatalf("aws %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	run("sqs", "create-queue", "--queue-name", "dlq", "--endpoint-url", endpoint)
	run("sqs", "create-queue", "--queue-name", "failures", "--endpoint-url", endpoint)
	run("lambda", "update-function-configuration", "--function-name", "fails",
		"--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:dlq")
	run("lambda", "put-function-event-invoke-config", "--function-name", "fails", "--maximum-retry-attempts", "1",
		"--destination-config", `{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:failures"}}`)
	MustSettle(t, client(m), "fails")
	out := filepath.Join(t.TempDir(), "out.json")
	if got := run("lambda", "invoke", "--function-name", "fails", "--invocation-type", "Event", "--payload", `{"action":"error","msg":"boom"}`, out); got != "{\n    \"StatusCode\": 202\n}\n" {
		t.Fatalf("invoke printed %q", got)
	}

	var dead struct {
		Messages []struct {
			Body              string
			MessageAttributes map[string]struct{ DataType, StringValue string }
		}
	}
	if err := json.Unmarshal([]byte(run("sqs", "receive-message", "--endpoint-url", endpoint, "--queue-url", endpoint+"/000000000000/dlq",
		"--message-attribute-names", "All", "--wait-time-seconds", "20")), &dead); err != nil || len(dead.Messages) != 1 {
		t.Fatalf("dead-letter queue: %v %+v", err, dead)
	}
	msg := dead.Messages[0]
	attrs := msg.MessageAttributes
	if msg.Body != `{"action":"error","msg":"boom"}` || attrs["ErrorCode"].DataType != "Number" || attrs["ErrorCode"].StringValue != "200" ||
		attrs["ErrorMessage"].DataType != "String" || attrs["ErrorMessage"].StringValue != "boom" || attrs["RequestID"].DataType != "String" {
		t.Fatalf("dead letter %+v", msg)
	}
	var failures struct{ Messages []struct{ Body string } }
	if err := json.Unmarshal([]byte(run("sqs", "receive-message", "--endpoint-url", endpoint, "--queue-url", endpoint+"/000000000000/failures",
		"--wait-time-seconds", "20")), &failures); err != nil || len(failures.Messages) != 1 {
		t.Fatalf("failure destination: %v %+v", err, failures)
	}
	var r destinationRecord
	if err := json.Unmarshal([]byte(failures.Messages[0].Body), &r); err != nil {
		t.Fatal(err)
	}
	if r.RequestContext.RequestID != attrs["RequestID"].StringValue || r.RequestContext.Condition != "RetriesExhausted" ||
		r.RequestContext.ApproximateInvokeCount != 2 || string(r.RequestPayload) != msg.Body {
		t.Fatalf("failure record %s", failures.Messages[0].Body)
	}
}

// One function's backlog, slow and throttled, does not hold up another
// function's events.
func TestAsync_Independent(t *testing.T) {
	t.Parallel()
	m := MustOpenAsyncMain(t)
	c := client(m)
	MustCreateFunction(t, c, "slow", 30, nil)
	MustCreateFunction(t, c, "quick", 3, nil)
	MustPutConcurrency(t, c, "slow", 2)
	dir := t.TempDir()
	slowMark, quickMark := filepath.Join(dir, "slow"), filepath.Join(dir, "quick")
	for range 40 {
		invokeEvent(t, c, "slow", recordEventMS(slowMark, 0, 500))
	}
	poll.Until(t, 20*time.Second, "the slow function is busy", func() bool { return len(recorded(t, slowMark)) >= 4 })
	id := invokeEvent(t, c, "quick", recordEvent(quickMark, 0))
	poll.Until(t, 20*time.Second, "the quick event ran", func() bool { return attempts(t, quickMark, id) == 1 })
	if done := len(recorded(t, slowMark)) / 2; done >= 20 {
		t.Fatalf("the quick event ran only after %d of 40 slow events", done)
	}
}
