package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/internal/poll"
)

// pollRunning waits until n executions of function hold a slot.
func pollRunning(t *testing.T, m *Main, function string, n int) {
	t.Helper()
	poll.Until(t, 30*time.Second, fmt.Sprintf("%d executions of %s hold a slot", n, function), func() bool {
		return m.limiter.Running(function) == n
	})
}

// invokeAll invokes function with payload n times at once and returns the
// outcomes: "200" or the error code.
func invokeAll(t *testing.T, c *lambda.Client, function, payload string, n int) <-chan string {
	out := make(chan string, n)
	for range n {
		go func() {
			res, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(function), Payload: []byte(payload)})
			switch {
			case err != nil:
				out <- apiErrorCode(err) + ":" + reasonOf(err)
			case res.FunctionError != nil:
				out <- "function error: " + string(res.Payload)
			default:
				out <- "200"
			}
		}()
	}
	return out
}

// reasonOf is the Reason of a TooManyRequestsException.
func reasonOf(err error) string {
	var tm *types.TooManyRequestsException
	if errors.As(err, &tm) {
		return string(tm.Reason)
	}
	return ""
}

// holdMarks returns the payload of invocations that wait until their
// mark is released, and what releases a mark.
func holdMarks(t *testing.T) (wait func(mark string) string, release func(mark string)) {
	dir := t.TempDir()
	wait = func(name string) string { return `{"action":"wait","mark":"` + filepath.Join(dir, name) + `"}` }
	release = func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return wait, release
}

func collect(ch <-chan string, n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[<-ch]++
	}
	return got
}

// Concurrency limits, exactly: reserved and unreserved throttling with their
// reasons, no slot leaked by timeouts, crashes or callers that leave, and a
// reservation of zero.
func TestServe_Concurrency(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "", func(m *Main) { m.Concurrency = 105 })
	c := client(m)
	ctx := context.Background()
	MustCreateFunction(t, c, "res", 1, nil)
	MustCreateFunction(t, c, "shared", 30, nil)
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("res"), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	wait, release := holdMarks(t)

	// Five executions fill the reservation; more are throttled at once.
	held := invokeAll(t, c, "res", wait("r1"), 5)
	pollRunning(t, m, "res", 5)
	if got := collect(invokeAll(t, c, "res", `{"action":"noop"}`, 5), 5); got["TooManyRequestsException:"+"ReservedFunctionConcurrentInvocationLimitExceeded"] != 5 {
		t.Fatalf("over the reservation: %v", got)
	}
	release("r1")
	if got := collect(held, 5); got["200"] != 5 {
		t.Fatalf("the reserved executions: %v", got)
	}
	pollRunning(t, m, "res", 0)

	// Timeouts, crashes and a caller that leaves free their slots.
	for _, p := range []string{`{"action":"sleep","ms":3000}`, `{"action":"exit","code":2}`, `{"action":"panic","msg":"x"}`} {
		if out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("res"), Payload: []byte(p)}); out.FunctionError == nil {
			t.Fatalf("%s did not fail", p)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() {
		_, err := c.Invoke(cctx, &lambda.InvokeInput{FunctionName: aws.String("res"), Payload: []byte(wait("r2"))})
		left <- err
	}()
	pollRunning(t, m, "res", 1)
	cancel()
	if err := <-left; err == nil {
		t.Fatal("the cancelled invocation returned no error")
	}
	release("r2") // the execution goes on without its caller, as on AWS, then ends
	pollRunning(t, m, "res", 0)

	// The unreserved pool (105 - 5 = 100) is shared by the other functions.
	held = invokeAll(t, c, "shared", wait("s1"), 100)
	pollRunning(t, m, "shared", 100)
	if got := collect(invokeAll(t, c, "shared", `{"action":"noop"}`, 1), 1); got["TooManyRequestsException:ConcurrentInvocationLimitExceeded"] != 1 {
		t.Fatalf("over the unreserved pool: %v", got)
	}
	if out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("res"), Payload: []byte(`{"action":"noop"}`)}); out.StatusCode != 200 {
		t.Fatalf("the reserved function while the pool is full: %d", out.StatusCode)
	}
	release("s1")
	if got := collect(held, 100); got["200"] != 100 {
		t.Fatalf("the shared executions: %v", got)
	}
	pollRunning(t, m, "shared", 0)

	// A reservation of zero throttles every synchronous invocation; DryRun
	// uses no concurrency. The AWS CLI shows the same (retries off).
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("res"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if got := collect(invokeAll(t, c, "res", `{}`, 1), 1); got["TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded"] != 1 {
		t.Fatalf("reserved 0: %v", got)
	}
	if out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("res"), InvocationType: types.InvocationTypeDryRun}); out.StatusCode != 204 {
		t.Fatalf("DryRun with reserved 0: %d", out.StatusCode)
	}
	_, stderr, code := awsCLI(t, m, "lambda", "invoke", "--function-name", "res", filepath.Join(t.TempDir(), "out.json"))
	if code == 0 || !strings.Contains(stderr, "An error occurred (TooManyRequestsException) when calling the Invoke operation") || !strings.Contains(stderr, "Rate Exceeded.") {
		t.Fatalf("aws lambda invoke with reserved 0: %d %s", code, stderr)
	}
}
