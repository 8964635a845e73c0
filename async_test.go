package lambada_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lambada-dev/lambada"
)

func TestNextStep(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	zero, one := 0, 1
	minute := 60
	ev := func(attempts int) lambada.AsyncEvent {
		return lambada.AsyncEvent{RequestID: "r", Function: "f", Accepted: t0, Attempts: attempts}
	}
	retry := func(attempts int, notBefore time.Time) lambada.Step {
		e := ev(attempts)
		e.NotBefore = notBefore
		return lambada.Step{Kind: lambada.StepRetry, Event: e}
	}
	done := func(condition string) lambada.Step { return lambada.Step{Kind: lambada.StepDone, Condition: condition} }
	later := func(d time.Duration) lambada.Step { return lambada.Step{Kind: lambada.StepLater, Delay: d} }
	for _, tc := range []struct {
		name    string
		e       lambada.AsyncEvent
		outcome lambada.Outcome
		policy  lambada.AsyncPolicy
		now     time.Time
		want    lambada.Step
	}{
		{"success", ev(0), lambada.OutcomeSuccess, lambada.AsyncPolicy{}, t0, done("Success")},
		{"success after a retry", ev(1), lambada.OutcomeSuccess, lambada.AsyncPolicy{}, t0, done("Success")},
		{"zero reserved", ev(0), lambada.OutcomeZeroReserved, lambada.AsyncPolicy{}, t0, done("ZeroReservedConcurrency")},
		{"first error waits a minute", ev(0), lambada.OutcomeFunctionError, lambada.AsyncPolicy{}, t0, retry(1, t0.Add(time.Minute))},
		{"second error waits two", ev(1), lambada.OutcomeFunctionError, lambada.AsyncPolicy{}, t0.Add(time.Minute), retry(2, t0.Add(3*time.Minute))},
		{"third error exhausts the default", ev(2), lambada.OutcomeFunctionError, lambada.AsyncPolicy{}, t0.Add(3 * time.Minute), done("RetriesExhausted")},
		{"retries 0", ev(0), lambada.OutcomeFunctionError, lambada.AsyncPolicy{MaximumRetryAttempts: &zero}, t0, done("RetriesExhausted")},
		{"retries 1", ev(1), lambada.OutcomeFunctionError, lambada.AsyncPolicy{MaximumRetryAttempts: &one}, t0, done("RetriesExhausted")},
		{"scaled", ev(0), lambada.OutcomeFunctionError, lambada.AsyncPolicy{Scale: 0.01}, t0, retry(1, t0.Add(600*time.Millisecond))},
		{"a retry past the maximum age", ev(0), lambada.OutcomeFunctionError, lambada.AsyncPolicy{MaximumEventAgeInSeconds: &minute}, t0, done("EventAgeExceeded")},
		{"first throttle waits 1 s", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0, later(time.Second)},
		{"the second throttle waits 1 s", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0.Add(time.Second), later(time.Second)},
		{"throttles double", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0.Add(8 * time.Second), later(8 * time.Second)},
		{"throttles stop at 5 min", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0.Add(time.Hour), later(5 * time.Minute)},
		{"a retry's throttles count from when it was due", retry(2, t0.Add(3*time.Minute)).Event, lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0.Add(3*time.Minute + 100*time.Millisecond), later(time.Second)},
		{"a retry's later throttles double", retry(2, t0.Add(3*time.Minute)).Event, lambada.OutcomeThrottled, lambada.AsyncPolicy{}, t0.Add(3*time.Minute + 4*time.Second), later(4 * time.Second)},
		{"a throttle past the maximum age", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{MaximumEventAgeInSeconds: &minute}, t0.Add(59500 * time.Millisecond), done("EventAgeExceeded")},
		{"scaled back-off", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{Scale: 0.01}, t0, later(10 * time.Millisecond)},
		{"scaled back-off stops at 3 s", ev(0), lambada.OutcomeThrottled, lambada.AsyncPolicy{Scale: 0.01}, t0.Add(time.Minute), later(3 * time.Second)},
		{"not due", lambada.AsyncEvent{Accepted: t0, NotBefore: t0.Add(time.Second)}, lambada.OutcomeNotDue, lambada.AsyncPolicy{}, t0, later(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lambada.NextStep(tc.e, tc.outcome, tc.policy, tc.now)
			if got.Kind != tc.want.Kind || got.Condition != tc.want.Condition || got.Delay != tc.want.Delay ||
				got.Event.Attempts != tc.want.Event.Attempts || !got.Event.NotBefore.Equal(tc.want.Event.NotBefore) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got.Failed() != (got.Kind == lambada.StepDone && got.Condition != "Success") {
				t.Fatalf("Failed() = %v", got.Failed())
			}
		})
	}
}

func TestAsyncEvent_Expired(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	e := lambada.AsyncEvent{Accepted: t0}
	p := lambada.AsyncPolicy{}
	if e.Expired(p, t0.Add(6*time.Hour-time.Millisecond)) || !e.Expired(p, t0.Add(6*time.Hour)) {
		t.Fatal("the default maximum age is not 6 h")
	}
	if !e.Expired(lambada.AsyncPolicy{Scale: 0.01}, t0.Add(216*time.Second)) {
		t.Fatal("the maximum age is not scaled")
	}
}

func TestNewDestinationRecord(t *testing.T) {
	e := &lambada.AsyncEvent{RequestID: "r1", Payload: []byte(`{"k":"v"}`)}
	at := time.Date(2019, 11, 14, 18, 16, 5, 568e6, time.UTC)
	arn := "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
	for _, tc := range []struct {
		name string
		rec  lambada.DestinationRecord
		want string
	}{
		{"failure", lambada.NewDestinationRecord(e, arn, "RetriesExhausted", 3, &lambada.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, at),
			`{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r1","functionArn":"` + arn + `","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"k":"v"},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"boom","errorType":"Error"}}`},
		{"success", lambada.NewDestinationRecord(e, arn, "Success", 1, &lambada.Result{Payload: []byte(`"ok"`), ExecutedVersion: "1"}, at),
			`{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r1","functionArn":"` + arn + `","condition":"Success","approximateInvokeCount":1},"requestPayload":{"k":"v"},"responseContext":{"statusCode":200,"executedVersion":"1"},"responsePayload":"ok"}`},
		{"zero reserved", lambada.NewDestinationRecord(e, arn, "ZeroReservedConcurrency", 0, nil, at),
			`{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"r1","functionArn":"` + arn + `","condition":"ZeroReservedConcurrency","approximateInvokeCount":0},"requestPayload":{"k":"v"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.rec)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got  %s (%v)\nwant %s", b, err, tc.want)
			}
		})
	}
}
