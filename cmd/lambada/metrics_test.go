package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/internal/poll"
)

// GET /metrics answers after known invocations with their counts: three
// that succeed (one of them a cold start), one function error, one
// throttle, one Event invocation; and the node's environments and store
// writes.
func TestMetrics(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "fn", 10, nil)
	for range 3 {
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"noop"}`)})
	}
	if out, _ := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"error"}`)}); out == nil || out.FunctionError == nil {
		t.Fatalf("the error invocation: %+v", out)
	}
	if _, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"action":"noop"}`)}); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		resp, err := http.Get("http://" + m.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// The Event invocation runs in the background: 5 invocations in all,
	// each with its Duration (observed when its REPORT is written, after
	// its caller has its answer).
	poll.Until(t, 20*time.Second, "the event ran", func() bool {
		out := scrape()
		return strings.Contains(out, `aws_lambda_invocations_total{executed_version="$LATEST",function_name="fn",resource="fn"} 5`+"\n") &&
			strings.Contains(out, `aws_lambda_duration_seconds_count{executed_version="$LATEST",function_name="fn",resource="fn"} 5`+"\n")
	})
	if _, err := c.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("fn"),
		ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn")}); apiErrorCode(err) != "TooManyRequestsException" {
		t.Fatalf("throttle: %v", err)
	}
	out := scrape()
	for _, want := range []string{
		`aws_lambda_invocations_total{executed_version="$LATEST",function_name="fn",resource="fn"} 5`,
		`aws_lambda_errors_total{executed_version="$LATEST",function_name="fn",resource="fn"} 1`,
		`aws_lambda_throttles_total{function_name="fn",resource="fn"} 1`,
		`aws_lambda_async_events_received_total{function_name="fn",resource="fn"} 1`,
		`aws_lambda_duration_seconds_count{executed_version="$LATEST",function_name="fn",resource="fn"} 5`,
		`lambada_cold_starts_total{executed_version="$LATEST",function_name="fn"} 1`,
		`lambada_init_duration_seconds_count{executed_version="$LATEST",function_name="fn"} 1`,
		`aws_lambda_unreserved_concurrent_executions{account="000000000000"} 0`,
		`lambada_store_seconds_count{operation="Enqueue"} 1`,
		`lambada_store_seconds_count{operation="PutFunction"} 2`, // CreateFunction, PutFunctionConcurrency
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, gauge := range []string{"lambada_environments ", "lambada_environments_idle ", "lambada_memory_budget_used_bytes ",
		`lambada_environments_by_state{state="idle"} `, `lambada_environments_by_state{state="starting"} 0`} {
		if !strings.Contains(out, "\n"+gauge) {
			t.Errorf("no %s", gauge)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
