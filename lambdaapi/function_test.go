package lambdaapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestCreateFunction(t *testing.T) {
	e := newFnEnv(t, nil)
	in := createInput(t, "hello")
	out, err := e.client.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(in.Code.ZipFile)
	checks := []struct{ name, got, want string }{
		{"FunctionName", aws.ToString(out.FunctionName), "hello"},
		{"FunctionArn", aws.ToString(out.FunctionArn), arn("hello")},
		{"Runtime", string(out.Runtime), "provided.al2023"},
		{"Role", aws.ToString(out.Role), fnRole},
		{"Handler", aws.ToString(out.Handler), "bootstrap"},
		{"CodeSha256", aws.ToString(out.CodeSha256), base64.StdEncoding.EncodeToString(sum[:])},
		{"CodeSize", fmt.Sprint(out.CodeSize), fmt.Sprint(len(in.Code.ZipFile))},
		{"Description", fmt.Sprintf("%q", aws.ToString(out.Description)), `""`},
		{"Timeout", fmt.Sprint(aws.ToInt32(out.Timeout)), "3"},
		{"MemorySize", fmt.Sprint(aws.ToInt32(out.MemorySize)), "128"},
		{"LastModified", aws.ToString(out.LastModified), "2024-03-01T12:00:00.123+0000"},
		{"Version", aws.ToString(out.Version), "$LATEST"},
		{"State", string(out.State), "Pending"},
		{"StateReason", aws.ToString(out.StateReason), "The function is being created."},
		{"StateReasonCode", string(out.StateReasonCode), "Creating"},
		{"LastUpdateStatus", string(out.LastUpdateStatus), ""},
		{"PackageType", string(out.PackageType), "Zip"},
		{"Architectures", fmt.Sprint(out.Architectures), "[x86_64]"},
		{"EphemeralStorage", fmt.Sprint(aws.ToInt32(out.EphemeralStorage.Size)), "512"},
		{"TracingConfig", string(out.TracingConfig.Mode), "PassThrough"},
		{"SnapStart", string(out.SnapStart.ApplyOn) + "/" + string(out.SnapStart.OptimizationStatus), "None/Off"},
		{"LoggingConfig", string(out.LoggingConfig.LogFormat) + " " + aws.ToString(out.LoggingConfig.LogGroup), "Text /aws/lambda/hello"},
		{"Environment", fmt.Sprint(out.Environment), "<nil>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if len(aws.ToString(out.RevisionId)) != 36 {
		t.Errorf("RevisionId = %q, want a UUID", aws.ToString(out.RevisionId))
	}
	if _, err := e.code.Code(context.Background(), hex.EncodeToString(sum[:])); err != nil {
		t.Errorf("code not stored under its hex SHA-256: %v", err)
	}
	if status, _, _ := e.do(t, "POST", "/2015-03-31/functions", ""); status != http.StatusBadRequest {
		t.Errorf("empty body: status %d, want 400", status)
	}
}

func TestCreateFunction_Settings(t *testing.T) {
	e := newFnEnv(t, nil)
	out := e.MustCreate(t, "arn:aws:lambda:us-east-1:123456789012:function:full", func(in *lambda.CreateFunctionInput) {
		in.Runtime = types.RuntimeProvidedal2
		in.Timeout, in.MemorySize = aws.Int32(900), aws.Int32(10240)
		in.Description = aws.String("a function")
		in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hi"}}
		in.Architectures = []types.Architecture{types.ArchitectureArm64}
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(10240)}
		in.Tags = map[string]string{"team": "a"}
	})
	if aws.ToString(out.FunctionName) != "full" || aws.ToInt32(out.Timeout) != 900 || aws.ToInt32(out.MemorySize) != 10240 ||
		out.Environment.Variables["GREETING"] != "hi" || out.Architectures[0] != types.ArchitectureArm64 ||
		aws.ToInt32(out.EphemeralStorage.Size) != 10240 || aws.ToString(out.Description) != "a function" {
		t.Fatalf("settings not kept: %+v", out)
	}
	e.MustCreate(t, "123456789012:function:partial")
	if _, err := e.client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("partial")}); err != nil {
		t.Fatalf("function created by partial ARN: %v", err)
	}
}

func TestCreateFunction_Exists(t *testing.T) {
	e := newFnEnv(t, nil)
	e.MustCreate(t, "twice")
	_, err := e.client.CreateFunction(context.Background(), createInput(t, "twice"))
	wantAPIError(t, err, "ResourceConflictException", "Function already exist: twice")
}

func TestGetFunction(t *testing.T) {
	e := newFnEnv(t, nil)
	created := e.MustCreate(t, "getme")
	ctx := context.Background()
	out, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("getme")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Configuration
	if c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusSuccessful || c.StateReason != nil {
		t.Errorf("State %s / LastUpdateStatus %s, want Active / Successful", c.State, c.LastUpdateStatus)
	}
	// Pending → Active was a transition: a new RevisionId.
	if aws.ToString(c.FunctionArn) != arn("getme") || aws.ToString(c.RevisionId) == aws.ToString(created.RevisionId) || len(aws.ToString(c.RevisionId)) != 36 {
		t.Errorf("FunctionArn %s RevisionId %s", aws.ToString(c.FunctionArn), aws.ToString(c.RevisionId))
	}
	if aws.ToString(out.Code.RepositoryType) != "S3" {
		t.Errorf("RepositoryType = %q", aws.ToString(out.Code.RepositoryType))
	}
	loc := aws.ToString(out.Code.Location)
	if !strings.HasPrefix(loc, e.srv.URL+"/") {
		t.Fatalf("Location %q is not on %s", loc, e.srv.URL)
	}
	resp, err := e.srv.Client().Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	zip, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(zip) != string(MustZip(t, "#!/bin/sh\ngetme")) {
		t.Errorf("download: status %d, %d bytes", resp.StatusCode, len(zip))
	}
	if status, typ, _ := e.do(t, "GET", "/lambada/code/"+strings.Repeat("ab", 32), ""); status != 403 || typ != "AccessDeniedException" {
		t.Errorf("code without a link: %d %s", status, typ)
	}

	latest, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("getme"), Qualifier: aws.String("$LATEST")})
	if err != nil || aws.ToString(latest.Configuration.FunctionArn) != arn("getme")+":$LATEST" {
		t.Errorf("Qualifier $LATEST: %v %+v", err, latest)
	}
	byARN, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn("getme"))})
	if err != nil || aws.ToString(byARN.Configuration.FunctionName) != "getme" {
		t.Errorf("by ARN: %v", err)
	}

	errs := []struct {
		name, fn, qualifier, code, msg string
	}{
		{"missing", "nope", "", "ResourceNotFoundException", "Function not found: " + arn("nope")},
		{"missing latest", "nope", "$LATEST", "ResourceNotFoundException", "Function not found: " + arn("nope") + ":$LATEST"},
		{"version", "getme", "1", "ResourceNotFoundException", "Function not found: " + arn("getme") + ":1"},
		{"alias", "getme:live", "", "ResourceNotFoundException", "Function not found: " + arn("getme") + ":live"},
		{"mismatch", "getme:1", "$LATEST", "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."},
		{"region", "arn:aws:lambda:ap-southeast-1:123456789012:function:getme", "", "ResourceNotFoundException", "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')"},
		{"account", "arn:aws:lambda:us-east-1:210987654321:function:getme", "", "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction on resource: …"},
		{"pattern", "my-function!", "", "ValidationException", "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: …"},
		{"qualifier pattern", "getme", "bad!", "ValidationException", "1 validation error detected: Value 'bad!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.GetFunctionInput{FunctionName: aws.String(tc.fn)}
			if tc.qualifier != "" {
				in.Qualifier = aws.String(tc.qualifier)
			}
			_, err := e.client.GetFunction(ctx, in)
			wantAPIError(t, err, tc.code, tc.msg)
			_, err = e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: in.FunctionName, Qualifier: in.Qualifier})
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func TestGetFunctionConfiguration(t *testing.T) {
	e := newFnEnv(t, nil)
	e.MustCreate(t, "conf", func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"KEY1": "v"}}
	})
	out, err := e.client.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("conf")})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != types.StateActive || out.LastUpdateStatus != types.LastUpdateStatusSuccessful ||
		out.Environment.Variables["KEY1"] != "v" || aws.ToString(out.FunctionArn) != arn("conf") {
		t.Fatalf("configuration: %+v", out)
	}
}

func TestListFunctions(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	empty, err := e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(empty.Functions) != 0 || empty.NextMarker != nil {
		t.Fatalf("empty list: %v %+v", err, empty)
	}
	var names []string
	for i := range 5 {
		names = append(names, fmt.Sprintf("fn-%d", i))
		e.MustCreate(t, names[i])
	}

	var got []string
	pages := 0
	p := lambda.NewListFunctionsPaginator(e.client, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range page.Functions {
			got = append(got, aws.ToString(f.FunctionName))
			if f.State != "" || f.LastUpdateStatus != "" || aws.ToString(f.FunctionArn) != arn(aws.ToString(f.FunctionName)) {
				t.Errorf("listed %s: State %q LastUpdateStatus %q ARN %s", aws.ToString(f.FunctionName), f.State, f.LastUpdateStatus, aws.ToString(f.FunctionArn))
			}
		}
	}
	if !slices.Equal(got, names) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v in 3", got, pages, names)
	}

	all, err := e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil || len(all.Functions) != 5 || aws.ToString(all.Functions[0].FunctionArn) != arn("fn-0")+":$LATEST" {
		t.Fatalf("FunctionVersion=ALL: %v", err)
	}
	for _, path := range []string{"/2015-03-31/functions/", "/2015-03-31/functions?MaxItems=10000"} {
		if status, _, body := e.do(t, "GET", path, ""); status != 200 || strings.Count(body, `"FunctionName"`) != 5 {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}

	_, err = e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: "invalid"})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]")
	_, err = e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(0)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, err = e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(10001)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '10001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000")
	_, err = e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{Marker: aws.String("%%%")})
	wantAPIError(t, err, "InvalidParameterValueException", "Invalid Marker: %%%")
}

// TestWaiters checks that the CLI's function-active-v2 and
// function-updated-v2 succeed on the first poll: MaxWait is below the
// waiters' 1 s MinDelay, so a second poll would fail instead of sleeping.
func TestWaiters(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "waited")
	in := &lambda.GetFunctionInput{FunctionName: aws.String("waited")}
	if err := lambda.NewFunctionActiveV2Waiter(e.client).Wait(ctx, in, 500*time.Millisecond); err != nil {
		t.Fatalf("FunctionActiveV2 after create: %v", err)
	}
	if _, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: in.FunctionName, Timeout: aws.Int32(10)}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "waited") // the preparer has finished: the waiter's first poll sees it
	if err := lambda.NewFunctionUpdatedV2Waiter(e.client).Wait(ctx, in, 500*time.Millisecond); err != nil {
		t.Fatalf("FunctionUpdatedV2 after update: %v", err)
	}
	cfg := &lambda.GetFunctionConfigurationInput{FunctionName: in.FunctionName}
	if err := lambda.NewFunctionActiveWaiter(e.client).Wait(ctx, cfg, 500*time.Millisecond); err != nil {
		t.Fatalf("FunctionActive: %v", err)
	}
}

func TestGetAccountSettings(t *testing.T) {
	e := newFnEnv(t, nil)
	a := e.MustCreate(t, "a")
	b := e.MustCreate(t, "b")
	out, err := e.client.GetAccountSettings(context.Background(), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	l, u := out.AccountLimit, out.AccountUsage
	if l.TotalCodeSize != 80530636800 || l.CodeSizeUnzipped != 262144000 || l.CodeSizeZipped != 52428800 ||
		l.ConcurrentExecutions != 1000 || aws.ToInt32(l.UnreservedConcurrentExecutions) != 1000 {
		t.Errorf("AccountLimit = %+v", l)
	}
	if u.FunctionCount != 2 || u.TotalCodeSize != a.CodeSize+b.CodeSize {
		t.Errorf("AccountUsage = %+v, want 2 functions of %d bytes", u, a.CodeSize+b.CodeSize)
	}
	if status, _, body := e.do(t, "GET", "/2016-08-19/account-settings/", ""); status != 200 || !strings.Contains(body, `"FunctionCount":2`) {
		t.Errorf("trailing slash: %d %s", status, body)
	}
}

// TestGetAccountSettings_TotalCodeSize: every published version counts its
// code, even the same archive as $LATEST; a configuration change counts
// nothing (test_account_settings_total_code_size*).
func TestGetAccountSettings_TotalCodeSize(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	created := e.MustCreate(t, "sized")
	usage := func() int64 {
		out, err := e.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out.AccountUsage.TotalCodeSize
	}
	size := created.CodeSize
	if got := usage(); got != size {
		t.Fatalf("after create: %d, want %d", got, size)
	}
	// The same code again, published: one more copy counted.
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("sized"), ZipFile: MustZip(t, "#!/bin/sh\nsized"), Publish: true}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "sized")
	if got := usage(); got != 2*size {
		t.Fatalf("after publishing the same code: %d, want %d", got, 2*size)
	}
	e.MustDescribe(t, "sized", "config only")
	if got := usage(); got != 2*size {
		t.Fatalf("after a configuration change: %d, want %d", got, 2*size)
	}
	e.MustPublish(t, "sized")
	if got := usage(); got != 3*size {
		t.Fatalf("after publishing the configuration change: %d, want %d", got, 3*size)
	}
}

// TestCreateFunction_OtherAccount: AWS answers 403 AccessDeniedException with
// a null message.
func TestCreateFunction_OtherAccount(t *testing.T) {
	e := newFnEnv(t, nil)
	zip, _ := json.Marshal(MustZip(t, "x"))
	status, typ, body := e.do(t, "POST", "/2015-03-31/functions", `{"FunctionName":"arn:aws:lambda:us-east-1:210987654321:function:theirs","Role":"`+fnRole+`","Runtime":"provided.al2023","Handler":"bootstrap","Code":{"ZipFile":`+string(zip)+`}}`)
	if status != 403 || typ != "AccessDeniedException" || body != `{"Message":null,"Type":"User"}`+"\n" {
		t.Fatalf("%d %s %s", status, typ, body)
	}
}

// A path with an empty, "." or ".." segment gets the API's own 404, never
// a redirect to its clean form.
func TestUncleanPath(t *testing.T) {
	e := newFnEnv(t, nil)
	for _, p := range []string{"/2015-03-31//functions", "/2015-03-31/functions/../functions", "/2015-03-31/./functions/", "//2015-03-31/functions"} {
		req, _ := http.NewRequest("GET", e.srv.URL, nil)
		req.URL.Path = p
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Errortype") != "UnknownOperationException" || !strings.Contains(string(body), `"message"`) {
			t.Errorf("%s: %d %s %s", p, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body)
		}
	}
	if status, _, body := e.do(t, "GET", "/2015-03-31/functions/", ""); status != 200 {
		t.Errorf("a trailing slash: %d %s", status, body)
	}
}
