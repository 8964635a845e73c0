package lambdaapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/lambdaapi"
)

// fnProvisionedLastModified is fnNow as a provisioned concurrency
// configuration's LastModified: seconds, no milliseconds.
const fnProvisionedLastModified = "2024-03-01T12:00:00+0000"

// newProvisionedEnv is a server with an account limit of concurrency (0:
// the default) and the fake provisioner, and the function name published
// versions times (versions 1 to versions).
func newProvisionedEnv(t *testing.T, concurrency int, name string, versions int) (*fnEnv, *provisioner) {
	t.Helper()
	p := newProvisioner()
	e := newFnEnvWith(t, nil, func(s *lambdaapi.Server) { s.Concurrency = concurrency; p.install(s) })
	e.MustCreate(t, name)
	for i := range versions {
		if i > 0 {
			e.MustDescribe(t, name, fmt.Sprint("v", i+1))
		}
		e.MustPublish(t, name)
	}
	return e, p
}

// MustProvision puts a provisioned concurrency configuration of n on
// qualifier of fn.
func (e *fnEnv) MustProvision(tb testing.TB, fn, qualifier string, n int32) *lambda.PutProvisionedConcurrencyConfigOutput {
	tb.Helper()
	out, err := e.provision(fn, qualifier, n)
	if err != nil {
		tb.Fatalf("PutProvisionedConcurrencyConfig %s:%s %d: %v", fn, qualifier, n, err)
	}
	return out
}

func (e *fnEnv) provision(fn, qualifier string, n int32) (*lambda.PutProvisionedConcurrencyConfigOutput, error) {
	return e.client.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(qualifier), ProvisionedConcurrentExecutions: aws.Int32(n)})
}

func (e *fnEnv) getProvisioned(fn, qualifier string) (*lambda.GetProvisionedConcurrencyConfigOutput, error) {
	return e.client.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(qualifier)})
}

func (e *fnEnv) deleteProvisioned(fn, qualifier string) error {
	_, err := e.client.DeleteProvisionedConcurrencyConfig(context.Background(), &lambda.DeleteProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(qualifier)})
	return err
}

// provisionedARNs lists the provisioned concurrency configurations of fn,
// pageSize at a time (0: the default), and returns their FunctionArns.
func (e *fnEnv) provisionedARNs(tb testing.TB, fn string, pageSize int32) []string {
	tb.Helper()
	in := &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(fn)}
	if pageSize > 0 {
		in.MaxItems = aws.Int32(pageSize)
	}
	var arns []string
	for page := 0; ; page++ {
		out, err := e.client.ListProvisionedConcurrencyConfigs(context.Background(), in)
		if err != nil {
			tb.Fatalf("ListProvisionedConcurrencyConfigs %s: %v", fn, err)
		}
		if pageSize > 0 && len(out.ProvisionedConcurrencyConfigs) > int(pageSize) {
			tb.Fatalf("page of %d items, asked for %d", len(out.ProvisionedConcurrencyConfigs), pageSize)
		}
		for _, c := range out.ProvisionedConcurrencyConfigs {
			arns = append(arns, aws.ToString(c.FunctionArn))
		}
		if out.NextMarker == nil {
			return arns
		}
		if page > 10 {
			tb.Fatalf("pagination does not end: %v", arns)
		}
		in.Marker = out.NextMarker
	}
}

// unreserved is GetAccountSettings' UnreservedConcurrentExecutions.
func (e *fnEnv) unreserved(tb testing.TB) int32 {
	tb.Helper()
	acct, err := e.client.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil {
		tb.Fatalf("GetAccountSettings: %v", err)
	}
	return aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions)
}

// provisionedQualifiers are the qualifiers of the configurations last
// applied to function.
func (p *provisioner) provisionedQualifiers(function string) ([]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.applied[function]
	if !ok {
		return nil, false
	}
	var qs []string
	for _, pc := range f.Provisioned {
		qs = append(qs, pc.Qualifier)
	}
	return qs, true
}

func (p *provisioner) setReady(qualifier string, n int, failure string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[qualifier] = n
	p.failure = failure
}

func TestProvisioned_Lifecycle(t *testing.T) {
	e, p := newProvisionedEnv(t, 0, "pc", 2)
	e.MustAlias(t, "pc", "live", "2")

	p.setReady("1", 1, "")
	put := e.MustProvision(t, "pc", "1", 3)
	if aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 3 || aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions) != 1 ||
		aws.ToInt32(put.AvailableProvisionedConcurrentExecutions) != 1 || put.Status != types.ProvisionedConcurrencyStatusEnumInProgress ||
		aws.ToString(put.LastModified) != fnProvisionedLastModified || put.StatusReason != nil {
		t.Fatalf("put: %+v", put)
	}
	if qs, _ := p.provisionedQualifiers("pc"); len(qs) != 1 || qs[0] != "1" {
		t.Fatalf("provisioner told %v", qs)
	}

	p.setReady("1", 3, "")
	got, err := e.getProvisioned("pc", "1")
	if err != nil || aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) != 3 || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 3 ||
		aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != 3 || got.Status != types.ProvisionedConcurrencyStatusEnumReady ||
		aws.ToString(got.LastModified) != fnProvisionedLastModified || got.StatusReason != nil {
		t.Fatalf("ready: %v %+v", err, got)
	}

	const why = "FUNCTION_ERROR_INIT_FAILURE: the init phase failed"
	p.setReady("1", 1, why)
	got, err = e.getProvisioned("pc", "1")
	if err != nil || got.Status != types.ProvisionedConcurrencyStatusEnumFailed || aws.ToString(got.StatusReason) != why ||
		aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 1 {
		t.Fatalf("failed: %v %+v", err, got)
	}
	p.setReady("1", 3, why) // all ready: a past failure no longer matters
	if got, err = e.getProvisioned("pc", "1"); err != nil || got.Status != types.ProvisionedConcurrencyStatusEnumReady || got.StatusReason != nil {
		t.Fatalf("ready again: %v %+v", err, got)
	}
	p.setReady("1", 3, "")

	put = e.MustProvision(t, "pc", "live", 2)
	if aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 2 || put.Status != types.ProvisionedConcurrencyStatusEnumInProgress ||
		aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions) != 0 {
		t.Fatalf("put on an alias: %+v", put)
	}
	if qs, _ := p.provisionedQualifiers("pc"); strings.Join(qs, ",") != "1,live" {
		t.Fatalf("provisioner told %v", qs)
	}

	want := []string{arn("pc") + ":1", arn("pc") + ":live"}
	for _, size := range []int32{0, 1, 2, 50} {
		if got := e.provisionedARNs(t, "pc", size); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("list by %d: %v, want %v", size, got, want)
		}
	}
	list, err := e.client.ListProvisionedConcurrencyConfigs(context.Background(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pc")})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 2 || list.NextMarker != nil {
		t.Fatalf("list: %v %+v", err, list)
	}
	if c := list.ProvisionedConcurrencyConfigs[0]; aws.ToInt32(c.RequestedProvisionedConcurrentExecutions) != 3 || c.Status != types.ProvisionedConcurrencyStatusEnumReady ||
		aws.ToInt32(c.AvailableProvisionedConcurrentExecutions) != 3 || aws.ToString(c.LastModified) != fnProvisionedLastModified {
		t.Fatalf("list item: %+v", c)
	}
	page, err := e.client.ListProvisionedConcurrencyConfigs(context.Background(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pc"), MaxItems: aws.Int32(1)})
	if err != nil || len(page.ProvisionedConcurrencyConfigs) != 1 || page.NextMarker == nil {
		t.Fatalf("first page: %v %+v", err, page)
	}
	_, err = e.client.ListProvisionedConcurrencyConfigs(context.Background(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pc"), MaxItems: aws.Int32(51)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50")

	if err := e.deleteProvisioned("pc", "1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if qs, _ := p.provisionedQualifiers("pc"); strings.Join(qs, ",") != "live" {
		t.Fatalf("provisioner told %v after the delete", qs)
	}
	_, err = e.getProvisioned("pc", "1")
	wantAPIError(t, err, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")
	status, typ, body := e.do(t, "GET", "/2019-09-30/functions/pc/provisioned-concurrency?Qualifier=1", "")
	if status != 404 || typ != "ProvisionedConcurrencyConfigNotFoundException" ||
		!strings.Contains(body, `"Type":"User"`) || !strings.Contains(body, `"message":"No Provisioned Concurrency Config found for this function"`) {
		t.Fatalf("not found on the wire: %d %s %s", status, typ, body)
	}
	// Deleting what does not exist succeeds.
	if err := e.deleteProvisioned("pc", "1"); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	if err := e.deleteProvisioned("pc", "2"); err != nil {
		t.Fatalf("delete of a version never provisioned: %v", err)
	}
	status, _, body = e.do(t, "DELETE", "/2019-09-30/functions/pc/provisioned-concurrency?Qualifier=1", "")
	if status != 204 || body != "" {
		t.Fatalf("delete on the wire: %d %q", status, body)
	}
	if got := e.provisionedARNs(t, "pc", 0); len(got) != 1 || got[0] != arn("pc")+":live" {
		t.Fatalf("list after the delete: %v", got)
	}
}

func TestProvisioned_Wire(t *testing.T) {
	e, _ := newProvisionedEnv(t, 0, "pw", 1)
	// The qualifier may come with the name alone.
	status, typ, body := e.do(t, "PUT", "/2019-09-30/functions/pw:1/provisioned-concurrency", `{"ProvisionedConcurrentExecutions":2}`)
	var out map[string]any
	if status != 202 || typ != "" || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("put: %d %s %s", status, typ, body)
	}
	want := map[string]any{
		"RequestedProvisionedConcurrentExecutions": 2.0, "AvailableProvisionedConcurrentExecutions": 0.0,
		"AllocatedProvisionedConcurrentExecutions": 0.0, "Status": "IN_PROGRESS", "LastModified": fnProvisionedLastModified,
	}
	if len(out) != len(want) {
		t.Fatalf("put body %s", body)
	}
	for k, v := range want {
		if out[k] != v {
			t.Fatalf("put body %s: %s = %v, want %v", body, k, out[k], v)
		}
	}
	status, _, body = e.do(t, "GET", "/2019-09-30/functions/"+arn("pw")+":1/provisioned-concurrency", "")
	if status != 200 || !strings.Contains(body, `"RequestedProvisionedConcurrentExecutions":2`) {
		t.Fatalf("get by qualified ARN: %d %s", status, body)
	}
	status, _, body = e.do(t, "GET", "/2019-09-30/functions/pw/provisioned-concurrency?List=ALL", "")
	if status != 200 || !strings.Contains(body, `"FunctionArn":"`+arn("pw")+`:1"`) {
		t.Fatalf("list: %d %s", status, body)
	}
}

func TestProvisioned_Errors(t *testing.T) {
	e, _ := newProvisionedEnv(t, 0, "pe", 2)
	e.MustAlias(t, "pe", "live", "1")
	fnARN := arn("pe")
	const notAlias = "The function resource provided must be an alias or a published version."

	t.Run("$LATEST", func(t *testing.T) {
		_, err := e.provision("pe", "$LATEST", 1)
		wantAPIError(t, err, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
		_, err = e.getProvisioned("pe", "$LATEST")
		wantAPIError(t, err, "InvalidParameterValueException", notAlias)
		err = e.deleteProvisioned("pe", "$LATEST")
		wantAPIError(t, err, "InvalidParameterValueException", notAlias)
	})
	t.Run("missing version", func(t *testing.T) {
		_, err := e.provision("pe", "7", 1)
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+fnARN+":7")
		_, err = e.getProvisioned("pe", "7")
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+fnARN+":7")
		err = e.deleteProvisioned("pe", "7")
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+fnARN+":7")
	})
	t.Run("missing alias", func(t *testing.T) {
		_, err := e.provision("pe", "nope", 1)
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+fnARN+":nope")
		_, err = e.getProvisioned("pe", "nope")
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+fnARN+":nope")
		err = e.deleteProvisioned("pe", "nope")
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+fnARN+":nope")
	})
	t.Run("missing function", func(t *testing.T) {
		missing := arn("missing")
		_, err := e.provision("missing", "1", 1)
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+missing+":1")
		_, err = e.getProvisioned("missing", "1")
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+missing+":1")
		err = e.deleteProvisioned("missing", "1")
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+missing+":1")
		_, err = e.provision("missing", "live", 1)
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+missing+":live")
		_, err = e.getProvisioned("missing", "live")
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+missing+":live")
		err = e.deleteProvisioned("missing", "live")
		wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+missing+":live")
	})
	t.Run("zero", func(t *testing.T) {
		const msg = "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
		status, typ, body := e.do(t, "PUT", "/2019-09-30/functions/pe/provisioned-concurrency?Qualifier=1", `{"ProvisionedConcurrentExecutions":0}`)
		if status != 400 || typ != "ValidationException" || body != `{"message":"`+msg+`"}`+"\n" {
			t.Fatalf("%d %s %s", status, typ, body)
		}
	})
	t.Run("no qualifier", func(t *testing.T) {
		for _, method := range []string{"PUT", "GET", "DELETE"} {
			status, typ, body := e.do(t, method, "/2019-09-30/functions/pe/provisioned-concurrency", `{"ProvisionedConcurrentExecutions":1}`)
			if status != 400 || typ != "ValidationException" || !strings.Contains(body, "Value null at 'qualifier' failed to satisfy constraint: Member must not be null") {
				t.Fatalf("%s: %d %s %s", method, status, typ, body)
			}
		}
	})
	t.Run("qualifier mismatch", func(t *testing.T) {
		const msg = "The derived qualifier from the function name does not match the specified qualifier."
		_, err := e.provision("pe:1", "2", 1)
		wantAPIError(t, err, "InvalidParameterValueException", msg)
		_, err = e.getProvisioned("pe:1", "2")
		wantAPIError(t, err, "InvalidParameterValueException", msg)
		err = e.deleteProvisioned("pe:1", "2")
		wantAPIError(t, err, "InvalidParameterValueException", msg)
	})
	t.Run("list", func(t *testing.T) {
		_, err := e.client.ListProvisionedConcurrencyConfigs(context.Background(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pe"), MaxItems: aws.Int32(0)})
		wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")
		list, err := e.client.ListProvisionedConcurrencyConfigs(context.Background(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("pe")})
		if err != nil || list.ProvisionedConcurrencyConfigs == nil || len(list.ProvisionedConcurrencyConfigs) != 0 || list.NextMarker != nil {
			t.Fatalf("empty list: %v %+v", err, list)
		}
		status, _, body := e.do(t, "GET", "/2019-09-30/functions/pe/provisioned-concurrency?List=ALL", "")
		if status != 200 || !strings.Contains(body, `"ProvisionedConcurrencyConfigs":[]`) {
			t.Fatalf("empty list on the wire: %d %s", status, body)
		}
	})
}

// TestProvisioned_AliasOfLatest: an alias of $LATEST points to an
// unpublished version, which provisioned concurrency cannot apply to.
func TestProvisioned_AliasOfLatest(t *testing.T) {
	e, _ := newProvisionedEnv(t, 0, "pl", 1)
	e.MustAlias(t, "pl", "dev", "$LATEST")
	_, err := e.provision("pl", "dev", 1)
	wantAPIError(t, err, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
}

func TestProvisioned_Reserved(t *testing.T) {
	e, p := newProvisionedEnv(t, 105, "rf", 2)
	ctx := context.Background()
	e.MustAlias(t, "rf", "live", "2")
	if _, err := e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("rf"), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	e.MustProvision(t, "rf", "1", 3)
	const over = "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
	_, err := e.provision("rf", "live", 3)
	wantAPIError(t, err, "InvalidParameterValueException", over)
	status, _, body := e.do(t, "PUT", "/2019-09-30/functions/rf/provisioned-concurrency?Qualifier=live", `{"ProvisionedConcurrentExecutions":3}`)
	if status != 400 || !strings.Contains(body, `"Type":"User"`) {
		t.Fatalf("over the reservation on the wire: %d %s", status, body)
	}
	_, err = e.provision("rf", "1", 6)
	wantAPIError(t, err, "InvalidParameterValueException", over)
	// Replacing a configuration does not count it twice.
	e.MustProvision(t, "rf", "1", 3)
	e.MustProvision(t, "rf", "live", 2)
	if err := e.deleteProvisioned("rf", "live"); err != nil {
		t.Fatal(err)
	}
	if e.unreserved(t) != 100 {
		t.Fatalf("unreserved %d, want 100: the reservation includes the provisioned concurrency", e.unreserved(t))
	}

	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("rf"), ReservedConcurrentExecutions: aws.Int32(2)})
	wantAPIError(t, err, "InvalidParameterValueException", " ReservedConcurrentExecutions  2 should not be lower than function's total provisioned concurrency [3].")
	got, err := e.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("rf")})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 5 {
		t.Fatalf("a refused reservation changed it: %v %v", err, got)
	}
	if _, err := e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("rf"), ReservedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatalf("reserve exactly the provisioned concurrency: %v", err)
	}
	if n, _ := p.reserved("rf"); n == nil || *n != 3 {
		t.Fatalf("provisioner told %v", n)
	}
	if e.unreserved(t) != 102 {
		t.Fatalf("unreserved %d, want 102", e.unreserved(t))
	}
	// Without a reservation the function holds its provisioned concurrency.
	if _, err := e.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("rf")}); err != nil {
		t.Fatal(err)
	}
	if e.unreserved(t) != 102 {
		t.Fatalf("unreserved %d after removing the reservation, want 102", e.unreserved(t))
	}
}

func TestProvisioned_UnreservedFloor(t *testing.T) {
	e, _ := newProvisionedEnv(t, 105, "uf", 2)
	e.MustCreate(t, "other")
	ctx := context.Background()
	const floor = "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."

	_, err := e.provision("uf", "1", 6)
	wantAPIError(t, err, "InvalidParameterValueException", floor)
	status, typ, body := e.do(t, "PUT", "/2019-09-30/functions/uf/provisioned-concurrency?Qualifier=1", `{"ProvisionedConcurrentExecutions":6}`)
	if status != 400 || typ != "InvalidParameterValueException" || body != `{"message":"`+floor+`"}`+"\n" {
		t.Fatalf("the floor error carries no Type: %d %s %s", status, typ, body)
	}
	_, err = e.provision("uf", "1", 106)
	wantAPIError(t, err, "InvalidParameterValueException", "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [105].")

	e.MustProvision(t, "uf", "1", 5)
	if e.unreserved(t) != 100 {
		t.Fatalf("unreserved %d, want 100", e.unreserved(t))
	}
	e.MustProvision(t, "uf", "1", 5) // replacing it does not count it twice
	_, err = e.provision("uf", "2", 1)
	wantAPIError(t, err, "InvalidParameterValueException", floor)
	_, err = e.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("other"), ReservedConcurrentExecutions: aws.Int32(1)})
	wantAPIError(t, err, "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")

	if err := e.deleteProvisioned("uf", "1"); err != nil {
		t.Fatal(err)
	}
	if e.unreserved(t) != 105 {
		t.Fatalf("unreserved %d after the delete, want 105", e.unreserved(t))
	}
}

func TestProvisioned_Conflicts(t *testing.T) {
	e, _ := newProvisionedEnv(t, 0, "cf", 3)
	e.MustAlias(t, "cf", "live", "1")
	e.MustAlias(t, "cf", "canary", "2", func(in *lambda.CreateAliasInput) { in.RoutingConfig = weights(map[string]float64{"3": 0.2}) })
	const (
		aliasOnProv = "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
		versionOfPC = "Version is pointed by a Provisioned Concurrency alias"
	)

	e.MustProvision(t, "cf", "1", 1)
	_, err := e.provision("cf", "live", 1)
	wantAPIError(t, err, "ResourceConflictException", aliasOnProv)
	status, typ, body := e.do(t, "PUT", "/2019-09-30/functions/cf/provisioned-concurrency?Qualifier=live", `{"ProvisionedConcurrentExecutions":1}`)
	if status != 409 || typ != "ResourceConflictException" || !strings.Contains(body, `"Type":"User"`) || !strings.Contains(body, `"message":"`+aliasOnProv+`"`) {
		t.Fatalf("conflict on the wire: %d %s %s", status, typ, body)
	}

	// A version reached only through the alias's routing weights.
	e.MustProvision(t, "cf", "3", 1)
	_, err = e.provision("cf", "canary", 1)
	wantAPIError(t, err, "ResourceConflictException", aliasOnProv)

	for _, q := range []string{"1", "3"} {
		if err := e.deleteProvisioned("cf", q); err != nil {
			t.Fatal(err)
		}
	}
	e.MustProvision(t, "cf", "live", 1)
	e.MustProvision(t, "cf", "canary", 1)
	_, err = e.provision("cf", "1", 1)
	wantAPIError(t, err, "ResourceConflictException", versionOfPC)
	_, err = e.provision("cf", "3", 1)
	wantAPIError(t, err, "ResourceConflictException", versionOfPC)
	if got := e.provisionedARNs(t, "cf", 0); strings.Join(got, " ") != arn("cf")+":canary "+arn("cf")+":live" {
		t.Fatalf("list: %v", got)
	}
}

func TestProvisioned_DeleteAliasAndVersion(t *testing.T) {
	e, p := newProvisionedEnv(t, 0, "df", 2)
	ctx := context.Background()
	e.MustAlias(t, "df", "live", "2")
	e.MustProvision(t, "df", "1", 1)
	e.MustProvision(t, "df", "live", 2)

	if _, err := e.client.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("df"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if got := e.provisionedARNs(t, "df", 0); len(got) != 1 || got[0] != arn("df")+":1" {
		t.Fatalf("list after DeleteAlias: %v", got)
	}
	if qs, _ := p.provisionedQualifiers("df"); strings.Join(qs, ",") != "1" {
		t.Fatalf("provisioner told %v after DeleteAlias", qs)
	}
	// An alias made again under the same name starts without a configuration.
	e.MustAlias(t, "df", "live", "2")
	_, err := e.getProvisioned("df", "live")
	wantAPIError(t, err, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")

	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("df"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if got := e.provisionedARNs(t, "df", 0); len(got) != 0 {
		t.Fatalf("list after deleting version 1: %v", got)
	}
	if qs, ok := p.provisionedQualifiers("df"); !ok || len(qs) != 0 {
		t.Fatalf("provisioner told %v after deleting version 1", qs)
	}
	_, err = e.getProvisioned("df", "1")
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("df")+":1")

	// A version published again under a new number starts without one.
	e.MustDescribe(t, "df", "v3")
	if v := e.MustPublish(t, "df"); aws.ToString(v.Version) != "3" {
		t.Fatalf("published %s", aws.ToString(v.Version))
	}
	_, err = e.getProvisioned("df", "3")
	wantAPIError(t, err, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")

	e.MustProvision(t, "df", "3", 1)
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("df")}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	f := p.applied["df"]
	p.mu.Unlock()
	if f == nil || f.Name != "df" || len(f.Provisioned) != 0 || len(f.Versions) != 0 || len(f.Aliases) != 0 || f.ReservedConcurrency != nil {
		t.Fatalf("DeleteFunction told the provisioner %+v, want a Function with only the name", f)
	}
}

// UpdateAlias keeps a provisioned alias provisionable: not onto $LATEST,
// not onto a version provisioned itself (inferred from PutProvisioned's
// rules).
func TestProvisioned_UpdateAlias(t *testing.T) {
	e, _ := newProvisionedEnv(t, 0, "pu", 3)
	ctx := context.Background()
	e.MustAlias(t, "pu", "live", "1")
	e.MustProvision(t, "pu", "live", 1)
	e.MustProvision(t, "pu", "3", 1)
	_, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("pu"), Name: aws.String("live"), FunctionVersion: aws.String("$LATEST")})
	wantAPIError(t, err, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	_, err = e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("pu"), Name: aws.String("live"), FunctionVersion: aws.String("3")})
	wantAPIError(t, err, "ResourceConflictException", "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
	_, err = e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("pu"), Name: aws.String("live"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"3": 0.5}}})
	wantAPIError(t, err, "ResourceConflictException", "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
	if _, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("pu"), Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatalf("moving a provisioned alias to an unprovisioned version: %v", err)
	}
}
