package lambdaapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada"
)

const (
	creatingReason = "The function is being created."
	inProgress     = "The operation cannot be performed at this time. An update is in progress for resource: "
)

// getConfig returns the configuration GetFunction shows for name.
func (e *fnEnv) getConfig(tb testing.TB, name string) *types.FunctionConfiguration {
	tb.Helper()
	out, err := e.client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		tb.Fatalf("GetFunction %s: %v", name, err)
	}
	return out.Configuration
}

// TestFunction_Create follows a new function from Pending to Active: the
// answer comes before the code is ready, the function is Pending meanwhile
// (updates and publishing get AWS's 409), and turning Active is a new
// revision.
func TestFunction_Create(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	release := e.code.hold()
	created, err := e.client.CreateFunction(ctx, createInput(t, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	if created.State != types.StatePending || aws.ToString(created.StateReason) != creatingReason || created.StateReasonCode != types.StateReasonCodeCreating ||
		created.LastUpdateStatus != "" {
		t.Fatalf("create answer: %s %q %s, last update %q", created.State, aws.ToString(created.StateReason), created.StateReasonCode, created.LastUpdateStatus)
	}
	pending := e.getConfig(t, "slow")
	if pending.State != types.StatePending || aws.ToString(pending.RevisionId) != aws.ToString(created.RevisionId) || pending.LastUpdateStatus != "" {
		t.Fatalf("GetFunction while Pending: %s, revision %s, last update %q", pending.State, aws.ToString(pending.RevisionId), pending.LastUpdateStatus)
	}
	busy := "The operation cannot be performed at this time. The resource " + arn("slow") + " is currently in the following state: 'Pending'. StateReasonCode: 'Creating'"
	_, err = e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("slow"), Timeout: aws.Int32(5)})
	wantAPIError(t, err, "ResourceConflictException", busy)
	_, err = e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("slow"), ZipFile: MustZip(t, "x")})
	wantAPIError(t, err, "ResourceConflictException", busy)
	_, err = e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("slow")})
	wantAPIError(t, err, "ResourceConflictException", busy)

	release()
	e.MustSettle(t, "slow")
	active := e.getConfig(t, "slow")
	if active.State != types.StateActive || active.LastUpdateStatus != types.LastUpdateStatusSuccessful || active.StateReason != nil || active.StateReasonCode != "" ||
		aws.ToString(active.RevisionId) == aws.ToString(created.RevisionId) {
		t.Fatalf("once prepared: %s/%s reason %v, revision %s (created %s)", active.State, active.LastUpdateStatus, active.StateReason, aws.ToString(active.RevisionId), aws.ToString(created.RevisionId))
	}
	// Nothing is left to prepare: the revision stays.
	e.MustSettle(t, "slow")
	if again := e.getConfig(t, "slow"); aws.ToString(again.RevisionId) != aws.ToString(active.RevisionId) {
		t.Fatal("the revision changed with nothing to prepare")
	}
}

// TestFunction_Update: an update answers InProgress, a second one meanwhile
// gets AWS's 409, and the update ending is a revision of its own.
func TestFunction_Update(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "upd")
	for _, update := range []struct {
		name string
		do   func() (string, types.LastUpdateStatus, error)
	}{
		{"configuration", func() (string, types.LastUpdateStatus, error) {
			out, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"), Timeout: aws.Int32(9)})
			if err != nil {
				return "", "", err
			}
			return aws.ToString(out.RevisionId), out.LastUpdateStatus, nil
		}},
		{"code", func() (string, types.LastUpdateStatus, error) {
			out, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: MustZip(t, "new code")})
			if err != nil {
				return "", "", err
			}
			return aws.ToString(out.RevisionId), out.LastUpdateStatus, nil
		}},
	} {
		t.Run(update.name, func(t *testing.T) {
			release := e.code.hold()
			rev, status, err := update.do()
			if err != nil || status != types.LastUpdateStatusInProgress {
				t.Fatalf("update: %v %s", err, status)
			}
			during := e.getConfig(t, "upd")
			if during.State != types.StateActive || during.LastUpdateStatus != types.LastUpdateStatusInProgress || aws.ToString(during.LastUpdateStatusReason) != creatingReason ||
				during.LastUpdateStatusReasonCode != "Creating" || aws.ToString(during.RevisionId) != rev {
				t.Fatalf("GetFunction during the update: %+v", during)
			}
			_, err = e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"), Description: aws.String("second")})
			wantAPIError(t, err, "ResourceConflictException", inProgress+arn("upd"))
			_, err = e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: MustZip(t, "third")})
			wantAPIError(t, err, "ResourceConflictException", inProgress+arn("upd"))
			_, err = e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("upd")})
			wantAPIError(t, err, "ResourceConflictException", inProgress+arn("upd"))
			release()
			e.MustSettle(t, "upd")
			after := e.getConfig(t, "upd")
			if after.LastUpdateStatus != types.LastUpdateStatusSuccessful || after.LastUpdateStatusReason != nil || after.LastUpdateStatusReasonCode != "" ||
				aws.ToString(after.RevisionId) == rev {
				t.Fatalf("after the update: %+v", after)
			}
		})
	}
}

// TestFunction_Failed: code whose directory looks right but that does not
// unpack leaves a new function Failed, and an update Failed; invoking the
// former is refused by the invocation service (see invoke's tests).
func TestFunction_Failed(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	_, err := e.client.CreateFunction(ctx, func() *lambda.CreateFunctionInput {
		in := createInput(t, "bad")
		in.Code.ZipFile = MustZip(t, "broken")
		return in
	}())
	if err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "bad")
	c := e.getConfig(t, "bad")
	zip := lambada.FailureInvalidZip
	if c.State != types.StateFailed || aws.ToString(c.StateReason) != zip.Reason || string(c.StateReasonCode) != zip.Code || c.LastUpdateStatus != types.LastUpdateStatusFailed {
		t.Fatalf("a create that does not unpack: %s %q %s, last update %s", c.State, aws.ToString(c.StateReason), c.StateReasonCode, c.LastUpdateStatus)
	}
	// The function waiters stop with a failure.
	in := &lambda.GetFunctionInput{FunctionName: aws.String("bad")}
	if err := lambda.NewFunctionActiveV2Waiter(e.client).Wait(ctx, in, time.Minute); err == nil || !strings.Contains(err.Error(), "Failure") {
		t.Fatalf("FunctionActiveV2 on a Failed function: %v", err)
	}
	// An update with good code repairs it.
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("bad"), ZipFile: MustZip(t, "good")}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "bad")
	if c := e.getConfig(t, "bad"); c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusSuccessful || c.StateReason != nil {
		t.Fatalf("after a repair: %s/%s %v", c.State, c.LastUpdateStatus, c.StateReason)
	}
	// An update that does not unpack leaves the function Active, its last
	// update Failed.
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("bad"), ZipFile: MustZip(t, "broken again")}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "bad")
	if c := e.getConfig(t, "bad"); c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusFailed || aws.ToString(c.LastUpdateStatusReason) != zip.Reason {
		t.Fatalf("after a failed update: %s/%s %q", c.State, c.LastUpdateStatus, aws.ToString(c.LastUpdateStatusReason))
	}
}

// TestCreateFunction_PublishRevisions: the version CreateFunction publishes
// is Pending with the function, and every configuration ends with its own
// RevisionId (test_publish_version_on_create).
func TestCreateFunction_PublishRevisions(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	release := e.code.hold()
	in := createInput(t, "born")
	in.Publish = true
	created, err := e.client.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.Version) != "1" || aws.ToString(created.FunctionArn) != arn("born") || created.State != types.StatePending {
		t.Fatalf("create answer: version %s %s %s", aws.ToString(created.Version), aws.ToString(created.FunctionArn), created.State)
	}
	v1, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("born"), Qualifier: aws.String("1")})
	if err != nil || v1.Configuration.State != types.StatePending {
		t.Fatalf("version 1 while the function is created: %v", err)
	}
	release()
	e.MustSettle(t, "born")
	v1, err = e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("born"), Qualifier: aws.String("1")})
	if err != nil || v1.Configuration.State != types.StateActive || v1.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Fatalf("version 1 once prepared: %v", err)
	}
	latest := e.getConfig(t, "born")
	revs := map[string]bool{aws.ToString(created.RevisionId): true, aws.ToString(v1.Configuration.RevisionId): true, aws.ToString(latest.RevisionId): true}
	if len(revs) != 3 {
		t.Fatalf("RevisionIds: create %s, version 1 %s, $LATEST %s: want three different", aws.ToString(created.RevisionId), aws.ToString(v1.Configuration.RevisionId), aws.ToString(latest.RevisionId))
	}
	// A version published from a ready $LATEST is Active at once.
	e.MustDescribe(t, "born", "two")
	v2 := e.MustPublish(t, "born")
	if v2.State != types.StateActive || v2.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Fatalf("PublishVersion: %s/%s", v2.State, v2.LastUpdateStatus)
	}
}

// TestFunction_Wire checks the raw configuration: RuntimeVersionConfig in
// every single configuration (not in list items, which have no state
// either), and Environment {"Variables": {}} kept when a request gave it.
func TestFunction_Wire(t *testing.T) {
	e := newFnEnv(t, nil)
	body := func(method, path, req string) map[string]any {
		t.Helper()
		status, _, b := e.do(t, method, path, req)
		var got map[string]any
		if err := json.Unmarshal([]byte(b), &got); err != nil || status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
		return got
	}
	zip, _ := json.Marshal(MustZip(t, "x"))
	create := func(name, extra string) map[string]any {
		return body("POST", "/2015-03-31/functions", `{"FunctionName":"`+name+`","Role":"`+fnRole+`","Runtime":"provided.al2023","Handler":"bootstrap","Code":{"ZipFile":`+string(zip)+`}`+extra+`}`)
	}
	runtimeARN := func(c map[string]any) string {
		rv, _ := c["RuntimeVersionConfig"].(map[string]any)
		s, _ := rv["RuntimeVersionArn"].(string)
		return s
	}
	created := create("env", `,"Environment":{"Variables":{}}`)
	plain := create("plain", "")
	e.MustSettle(t, "env")
	e.MustSettle(t, "plain")
	arn := runtimeARN(created)
	if len(arn) != len("arn:aws:lambda:us-east-1::runtime:")+64 || !strings.HasPrefix(arn, "arn:aws:lambda:us-east-1::runtime:") || strings.Trim(arn[len(arn)-64:], "0123456789abcdef") != "" {
		t.Fatalf("RuntimeVersionArn %q", arn)
	}
	if env, ok := created["Environment"].(map[string]any); !ok || env["Variables"] == nil || len(env["Variables"].(map[string]any)) != 0 {
		t.Fatalf("Environment {Variables: {}} answered %v", created["Environment"])
	}
	if _, ok := plain["Environment"]; ok {
		t.Fatalf("a function created without Environment answered %v", plain["Environment"])
	}
	for _, c := range []map[string]any{
		plain,
		body("GET", "/2015-03-31/functions/env/configuration", ""),
		body("GET", "/2015-03-31/functions/env", "")["Configuration"].(map[string]any),
		body("PUT", "/2015-03-31/functions/env/configuration", `{"Description":"d"}`),
	} {
		if runtimeARN(c) != arn {
			t.Fatalf("RuntimeVersionArn %q, want the same %q for every provided.al2023 function", runtimeARN(c), arn)
		}
		if c["FunctionName"] == "env" && c["Environment"] == nil {
			t.Fatalf("Environment lost: %v", c)
		}
	}
	e.MustSettle(t, "env")
	if v := body("POST", "/2015-03-31/functions/env/versions", `{}`); runtimeARN(v) != arn {
		t.Fatalf("PublishVersion's RuntimeVersionArn %q", runtimeARN(v))
	}
	// Another runtime has another ARN.
	other := body("PUT", "/2015-03-31/functions/plain/configuration", `{"Runtime":"provided.al2"}`)
	if o := runtimeARN(other); o == arn || len(o) != len(arn) {
		t.Fatalf("provided.al2's RuntimeVersionArn %q", o)
	}
	for _, list := range []map[string]any{body("GET", "/2015-03-31/functions", ""), body("GET", "/2015-03-31/functions/env/versions", "")} {
		items, _ := list["Functions"].([]any)
		if items == nil {
			items, _ = list["Versions"].([]any)
		}
		for _, it := range items {
			item := it.(map[string]any)
			if _, ok := item["RuntimeVersionConfig"]; ok {
				t.Fatalf("a list item has RuntimeVersionConfig: %v", item)
			}
			if _, ok := item["State"]; ok {
				t.Fatalf("a list item has a State: %v", item)
			}
		}
	}
}
