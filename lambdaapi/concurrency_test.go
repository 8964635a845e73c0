package lambdaapi_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/lambdaapi"
)

// provisioner records, as invoke.Service does, the stored record of each
// function it is told of (a Function with only a Name once deleted), and
// reports the environments allocated to each qualifier as ready says.
type provisioner struct {
	store   lambada.FunctionStore
	mu      sync.Mutex
	applied map[string]*lambada.Function
	ready   map[string]int
	failure string
}

func newProvisioner() *provisioner {
	return &provisioner{applied: map[string]*lambada.Function{}, ready: map[string]int{}}
}

// install makes p the server's Provisioner, reading the server's store.
func (p *provisioner) install(s *lambdaapi.Server) {
	p.store, s.Provisioner = s.Functions, p
}

func (p *provisioner) Apply(ctx context.Context, name string) error {
	f, err := p.store.Function(ctx, name)
	if lambada.ErrorCode(err) == lambada.ENOTFOUND {
		f, err = &lambada.Function{Name: name}, nil
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applied[name] = f
	return nil
}

func (p *provisioner) Allocated(f *lambada.Function, qualifier string) (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready[qualifier], p.failure
}

// reserved is the reservation last applied to function, and whether any
// change to it was.
func (p *provisioner) reserved(function string) (*int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.applied[function]
	if !ok {
		return nil, false
	}
	return f.ReservedConcurrency, true
}

func TestFunctionConcurrency(t *testing.T) {
	told := newProvisioner()
	e := newFnEnvWith(t, nil, func(s *lambdaapi.Server) { s.Concurrency = 105; told.install(s) })
	ctx := context.Background()
	e.MustCreate(t, "cf")
	e.MustCreate(t, "other")

	got, err := e.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("cf")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("unset: %v %v", err, got)
	}
	put, err := e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("cf"), ReservedConcurrentExecutions: aws.Int32(5)})
	if n, _ := told.reserved("cf"); err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 5 || n == nil || *n != 5 {
		t.Fatalf("put: %v %v, limiter told %v", err, put, n)
	}
	got, err = e.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("cf")})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 5 {
		t.Fatalf("get: %v %v", err, got)
	}
	fn, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("cf")})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 5 {
		t.Fatalf("GetFunction's Concurrency: %v %+v", err, fn.Concurrency)
	}
	acct, err := e.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || acct.AccountLimit.ConcurrentExecutions != 105 || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 100 {
		t.Fatalf("account settings: %v %+v", err, acct.AccountLimit)
	}

	floor := "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("other"), ReservedConcurrentExecutions: aws.Int32(1)})
	wantAPIError(t, err, "InvalidParameterValueException", floor)
	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("cf"), ReservedConcurrentExecutions: aws.Int32(6)})
	wantAPIError(t, err, "InvalidParameterValueException", floor)
	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("cf:1"), ReservedConcurrentExecutions: aws.Int32(1)})
	wantAPIError(t, err, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("missing"), ReservedConcurrentExecutions: aws.Int32(1)})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("missing")+":$LATEST")
	// GetFunctionConcurrency names the function unqualified.
	_, err = e.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("missing"))
	status, typ, body := e.do(t, "PUT", "/2017-10-31/functions/other/concurrency", `{"ReservedConcurrentExecutions":1}`)
	if status != 400 || typ != "InvalidParameterValueException" || body != `{"message":"`+floor+`"}`+"\n" {
		t.Fatalf("the floor error carries no Type: %d %s %s", status, typ, body)
	}
	status, typ, _ = e.do(t, "PUT", "/2017-10-31/functions/other/concurrency", `{}`)
	if status != 400 || typ != "ValidationException" {
		t.Fatalf("no ReservedConcurrentExecutions: %d %s", status, typ)
	}

	_, err = e.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("cf")})
	if n, _ := told.reserved("cf"); err != nil || n != nil {
		t.Fatalf("delete: %v, limiter told %v", err, n)
	}
	acct, _ = e.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 105 {
		t.Fatalf("unreserved after delete: %d", aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions))
	}
	// Reserving zero is allowed (it throttles every synchronous invocation).
	if _, err := e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("cf"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatalf("reserve 0: %v", err)
	}
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("cf")}); err != nil {
		t.Fatal(err)
	}
	if v, ok := told.reserved("cf"); !ok || v != nil {
		t.Fatalf("deleting the function did not clear its reservation")
	}
}

// Two reservations for different functions that each fit alone, but not
// together, never both pass the unreserved floor.
func TestFunctionConcurrency_ConcurrentPuts(t *testing.T) {
	e := newFnEnvWith(t, nil, func(s *lambdaapi.Server) { s.Concurrency = 105 })
	ctx := context.Background()
	e.MustCreate(t, "a")
	e.MustCreate(t, "b")
	for range 20 {
		errs := make(chan error, 2)
		for _, name := range []string{"a", "b"} {
			go func() {
				_, err := e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(5)})
				errs <- err
			}()
		}
		failed := 0
		for range 2 {
			if err := <-errs; err != nil {
				wantAPIError(t, err, "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
				failed++
			}
		}
		if failed != 1 {
			t.Fatalf("%d of two reservations of 5 with 5 to spare were refused, want 1", failed)
		}
		for _, name := range []string{"a", "b"} {
			if _, err := e.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
