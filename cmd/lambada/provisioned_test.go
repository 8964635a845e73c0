package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/codecache"
	"github.com/lambada-dev/lambada/internal/poll"
)

// pollProvisioned waits until the provisioned concurrency of qualifier of
// function reports status, and returns it.
func pollProvisioned(t *testing.T, c *lambda.Client, function, qualifier string, status types.ProvisionedConcurrencyStatusEnum) *lambda.GetProvisionedConcurrencyConfigOutput {
	t.Helper()
	var out *lambda.GetProvisionedConcurrencyConfigOutput
	poll.Until(t, 30*time.Second, fmt.Sprintf("the provisioned concurrency of %s:%s is %s", function, qualifier, status), func() bool {
		var err error
		out, err = c.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(function), Qualifier: aws.String(qualifier)})
		if err != nil {
			t.Fatalf("get provisioned concurrency: %v", err)
		}
		return out.Status == status
	})
	return out
}

// initTypeOf invokes function's echo action and returns the
// AWS_LAMBDA_INITIALIZATION_TYPE its environment had and the log tail.
func initTypeOf(t *testing.T, c *lambda.Client, function string) (string, string) {
	t.Helper()
	out, tail := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: []byte(`{"action":"echo"}`), LogType: types.LogTypeTail})
	var e struct{ Env map[string]string }
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &e) != nil {
		t.Fatalf("echo on %s: %s", function, out.Payload)
	}
	return e.Env["AWS_LAMBDA_INITIALIZATION_TYPE"], tail
}

// Provisioned concurrency end to end through the AWS CLI: environments
// started ahead of time and reported READY, invocations of the version
// running in them warm, the unreserved pool shrinking, a restart that
// provisions them again, and deletion.
func TestServe_ProvisionedConcurrency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	configure := func(m *Main) { m.Concurrency = 105 }
	m := MustOpenMain(t, dir, configure)
	c := client(m)
	MustCreateFunction(t, c, "pc", 30, nil)
	if _, stderr, code := awsCLI(t, m, "lambda", "publish-version", "--function-name", "pc"); code != 0 {
		t.Fatalf("publish-version: %s", stderr)
	}

	stdout, stderr, code := awsCLI(t, m, "lambda", "put-provisioned-concurrency-config", "--function-name", "pc", "--qualifier", "1", "--provisioned-concurrent-executions", "2")
	var put struct {
		RequestedProvisionedConcurrentExecutions int
		Status                                   string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &put) != nil || put.RequestedProvisionedConcurrentExecutions != 2 || put.Status == "" {
		t.Fatalf("put-provisioned-concurrency-config: %d %s %s", code, stdout, stderr)
	}
	ready := pollProvisioned(t, c, "pc", "1", types.ProvisionedConcurrencyStatusEnumReady)
	if aws.ToInt32(ready.AllocatedProvisionedConcurrentExecutions) != 2 || aws.ToInt32(ready.AvailableProvisionedConcurrentExecutions) != 2 {
		t.Fatalf("READY with %d allocated, %d available", aws.ToInt32(ready.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(ready.AvailableProvisionedConcurrentExecutions))
	}
	if initType, tail := initTypeOf(t, c, "pc:1"); initType != "provisioned-concurrency" || strings.Contains(tail, "Init Duration") {
		t.Fatalf("version 1 ran in an environment initialised %q; log:\n%s", initType, tail)
	}
	if initType, _ := initTypeOf(t, c, "pc"); initType != "on-demand" {
		t.Fatalf("$LATEST ran in an environment initialised %q", initType)
	}
	acct, err := c.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 103 {
		t.Fatalf("unreserved with 2 provisioned of 105: %v %+v", err, acct.AccountLimit)
	}
	stdout, stderr, code = awsCLI(t, m, "lambda", "list-provisioned-concurrency-configs", "--function-name", "pc")
	if code != 0 || !strings.Contains(stdout, `"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:pc:1"`) || !strings.Contains(stdout, `"Status": "READY"`) {
		t.Fatalf("list-provisioned-concurrency-configs: %d %s %s", code, stdout, stderr)
	}
	_, stderr, code = awsCLI(t, m, "lambda", "put-provisioned-concurrency-config", "--function-name", "pc", "--qualifier", "$LATEST", "--provisioned-concurrent-executions", "1")
	if code == 0 || !strings.Contains(stderr, "(InvalidParameterValueException)") || !strings.Contains(stderr, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.") {
		t.Fatalf("provisioning $LATEST: %d %s", code, stderr)
	}

	// A restart provisions them again.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = MustOpenMain(t, dir, configure)
	c = client(m)
	pollProvisioned(t, c, "pc", "1", types.ProvisionedConcurrencyStatusEnumReady)
	if initType, _ := initTypeOf(t, c, "pc:1"); initType != "provisioned-concurrency" {
		t.Fatalf("after a restart version 1 ran in an environment initialised %q", initType)
	}

	if _, stderr, code := awsCLI(t, m, "lambda", "delete-provisioned-concurrency-config", "--function-name", "pc", "--qualifier", "1"); code != 0 {
		t.Fatalf("delete-provisioned-concurrency-config: %s", stderr)
	}
	_, stderr, code = awsCLI(t, m, "lambda", "get-provisioned-concurrency-config", "--function-name", "pc", "--qualifier", "1")
	if code == 0 || !strings.Contains(stderr, "(ProvisionedConcurrencyConfigNotFoundException)") || !strings.Contains(stderr, "No Provisioned Concurrency Config found for this function") {
		t.Fatalf("get after delete: %d %s", code, stderr)
	}
	acct, err = c.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 105 {
		t.Fatalf("unreserved after delete: %v %+v", err, acct.AccountLimit)
	}
}
