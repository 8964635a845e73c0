package lambdaapi_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/inmem"
)

// MustPublish publishes $LATEST of the function name.
func (e *fnEnv) MustPublish(tb testing.TB, name string) *lambda.PublishVersionOutput {
	tb.Helper()
	out, err := e.client.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		tb.Fatalf("PublishVersion %s: %v", name, err)
	}
	return out
}

// MustDescribe changes the description of $LATEST of the function name.
func (e *fnEnv) MustDescribe(tb testing.TB, name, description string) {
	tb.Helper()
	_, err := e.client.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Description: aws.String(description)})
	if err != nil {
		tb.Fatalf("UpdateFunctionConfiguration %s: %v", name, err)
	}
	e.MustSettle(tb, name)
}

// latestRevision returns the RevisionId of $LATEST of the function name.
func (e *fnEnv) latestRevision(tb testing.TB, name string) string {
	tb.Helper()
	out, err := e.client.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	if err != nil {
		tb.Fatal(err)
	}
	return aws.ToString(out.RevisionId)
}

// listVersions returns the Versions ListVersionsByFunction pages through.
func (e *fnEnv) listVersions(tb testing.TB, name string, pageSize int32) []types.FunctionConfiguration {
	tb.Helper()
	var all []types.FunctionConfiguration
	p := lambda.NewListVersionsByFunctionPaginator(e.client, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name), MaxItems: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page.Versions...)
	}
	return all
}

func versionsOf(list []types.FunctionConfiguration) []string {
	var vs []string
	for _, c := range list {
		vs = append(vs, aws.ToString(c.Version)+" "+aws.ToString(c.FunctionArn))
	}
	return vs
}

// TestPublishVersion_Lifecycle follows AWS's test_version_lifecycle: numbers
// increase and are never reused, an unchanged $LATEST publishes nothing, and
// a version keeps what it snapshotted.
func TestPublishVersion_Lifecycle(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "life", func(in *lambda.CreateFunctionInput) { in.Description = aws.String("No version :(") })
	e.MustDescribe(t, "life", "First version :)")
	before := e.latestRevision(t, "life")

	v1, err := e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("life"), Description: aws.String("First version description :)")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != arn("life")+":1" || aws.ToString(v1.Description) != "First version description :)" ||
		v1.State != types.StateActive || v1.LastUpdateStatus != types.LastUpdateStatusSuccessful || len(aws.ToString(v1.RevisionId)) != 36 {
		t.Fatalf("first publish: %+v", v1)
	}
	if after := e.latestRevision(t, "life"); after == before || after == aws.ToString(v1.RevisionId) {
		t.Errorf("publishing did not give $LATEST a new RevisionId of its own: %s -> %s", before, after)
	}
	got, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(got.RevisionId) != aws.ToString(v1.RevisionId) || aws.ToString(got.FunctionArn) != arn("life")+":1" {
		t.Fatalf("GetFunctionConfiguration :1 = %v %+v", err, got)
	}

	e.MustDescribe(t, "life", "Second version :))")
	v2 := e.MustPublish(t, "life")
	// Unchanged $LATEST: the newest version again, whatever the description.
	again, err := e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("life"), Description: aws.String("Third version description :)))")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v2.Version) != "2" || aws.ToString(again.Version) != "2" || aws.ToString(again.RevisionId) != aws.ToString(v2.RevisionId) ||
		aws.ToString(again.Description) != "Second version :))" {
		t.Fatalf("publish 2 then no-op: %s, %s %q", aws.ToString(v2.Version), aws.ToString(again.Version), aws.ToString(again.Description))
	}
	first, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(first.Configuration.Description) != "First version description :)" {
		t.Fatalf("version 1 changed after $LATEST did: %v", err)
	}

	want := []string{"$LATEST " + arn("life") + ":$LATEST", "1 " + arn("life") + ":1", "2 " + arn("life") + ":2"}
	if got := versionsOf(e.listVersions(t, "life", 50)); !slices.Equal(got, want) {
		t.Fatalf("versions = %q, want %q", got, want)
	}

	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("life")+":1")
	e.MustDescribe(t, "life", "after the delete")
	if v3 := e.MustPublish(t, "life"); aws.ToString(v3.Version) != "3" {
		t.Fatalf("publish after deleting 1 = version %s, want 3", aws.ToString(v3.Version))
	}
	want = []string{"$LATEST " + arn("life") + ":$LATEST", "2 " + arn("life") + ":2", "3 " + arn("life") + ":3"}
	if got := versionsOf(e.listVersions(t, "life", 1)); !slices.Equal(got, want) {
		t.Fatalf("versions = %q, want %q", got, want)
	}
}

func TestPublishVersion_Errors(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	created := e.MustCreate(t, "pub")
	sha := aws.ToString(created.CodeSha256)
	tests := []struct {
		name string
		in   lambda.PublishVersionInput
		code string
		msg  string
	}{
		{"revision", lambda.PublishVersionInput{FunctionName: aws.String("pub"), RevisionId: aws.String("wrong")}, "PreconditionFailedException", staleRevision},
		{"sha256", lambda.PublishVersionInput{FunctionName: aws.String("pub"), CodeSha256: aws.String("somenonexistentsha256")}, "InvalidParameterValueException",
			"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST (" + sha + "). Please try again with the CodeSHA256 in $LATEST."},
		{"missing", lambda.PublishVersionInput{FunctionName: aws.String("nope")}, "ResourceNotFoundException", "Function not found: " + arn("nope")},
		{"qualified", lambda.PublishVersionInput{FunctionName: aws.String("pub:1")}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."},
		{"description", lambda.PublishVersionInput{FunctionName: aws.String("pub"), Description: aws.String(strings.Repeat("d", 257))}, "ValidationException",
			"1 validation error detected: Value '" + strings.Repeat("d", 257) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"region", lambda.PublishVersionInput{FunctionName: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:pub")}, "ResourceNotFoundException", "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.PublishVersion(ctx, &tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	out, err := e.client.PublishVersion(ctx, &lambda.PublishVersionInput{
		FunctionName: aws.String(arn("pub")),
		CodeSha256:   aws.String(sha),
		RevisionId:   aws.String(e.latestRevision(t, "pub")),
	})
	if err != nil || aws.ToString(out.Version) != "1" {
		t.Fatalf("publish with matching CodeSha256 and RevisionId: %v", err)
	}
	if status, _, _ := e.do(t, "POST", "/2015-03-31/functions/pub/versions", ""); status != 201 {
		t.Errorf("publish without a body: %d, want 201", status)
	}
}

// TestPublishVersion_LostRace: a publish that loses the compare-and-set
// publishes what the winner wrote.
func TestPublishVersion_LostRace(t *testing.T) {
	store := &racingStore{Store: &inmem.Store{}}
	e := newFnEnv(t, store)
	ctx := context.Background()
	e.MustCreate(t, "raced")
	store.race = func() {
		f, _ := store.Store.Function(ctx, "raced")
		c := f.Clone()
		c.Latest.Description = "written by the other writer"
		if _, err := store.Store.PutFunction(ctx, c); err != nil {
			t.Error(err)
		}
	}
	out := e.MustPublish(t, "raced")
	if aws.ToString(out.Version) != "1" || aws.ToString(out.Description) != "written by the other writer" {
		t.Fatalf("publish after a lost race: version %s %q", aws.ToString(out.Version), aws.ToString(out.Description))
	}
}

func TestListVersionsByFunction(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "many")
	for i := range 5 {
		e.MustDescribe(t, "many", strings.Repeat("x", i+1))
		e.MustPublish(t, "many")
	}
	list := e.listVersions(t, "many", 2)
	if got := len(list); got != 6 {
		t.Fatalf("listed %d versions, want $LATEST and 5", got)
	}
	for i, c := range list {
		if c.State != "" || c.LastUpdateStatus != "" || (i > 0 && aws.ToString(c.Version) != strconv.Itoa(i)) {
			t.Errorf("version %d: Version %s State %q LastUpdateStatus %q", i, aws.ToString(c.Version), c.State, c.LastUpdateStatus)
		}
	}
	page, err := e.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("123456789012:function:many"), MaxItems: aws.Int32(6)})
	if err != nil || len(page.Versions) != 6 || page.NextMarker != nil {
		t.Fatalf("one page of 6 by partial ARN: %v", err)
	}
	_, err = e.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("nope"))
	_, err = e.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("many"), MaxItems: aws.Int32(0)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")
	_, err = e.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("many"), Marker: aws.String("%%%")})
	wantAPIError(t, err, "InvalidParameterValueException", "Invalid Marker: %%%")
}

// TestCreateFunction_Publish: AWS answers with version 1 under the
// unqualified ARN (test_publish_version_on_create).
func TestCreateFunction_Publish(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	out := e.MustCreate(t, "born", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	if aws.ToString(out.Version) != "1" || aws.ToString(out.FunctionArn) != arn("born") || out.State != types.StatePending || out.LastUpdateStatus != "" {
		t.Fatalf("create with Publish: Version %s ARN %s State %s", aws.ToString(out.Version), aws.ToString(out.FunctionArn), out.State)
	}
	v1, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("born"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(v1.Configuration.FunctionArn) != arn("born")+":1" || aws.ToString(v1.Configuration.CodeSha256) != aws.ToString(out.CodeSha256) {
		t.Fatalf("version 1: %v", err)
	}
	if again := e.MustPublish(t, "born"); aws.ToString(again.Version) != "1" {
		t.Errorf("publish of an unchanged function = version %s, want 1", aws.ToString(again.Version))
	}
}

// TestUpdateFunctionCode_Publish: AWS answers with the new version, qualified
// and Pending (test_publish_with_update).
func TestUpdateFunctionCode_Publish(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	created := e.MustCreate(t, "shipped")
	update := func(body string) *lambda.UpdateFunctionCodeOutput {
		t.Helper()
		out, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("shipped"), ZipFile: MustZip(t, body), Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		e.MustSettle(t, "shipped")
		return out
	}
	// Hold the preparation to see the version while it is Pending.
	release := e.code.hold()
	out, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("shipped"), ZipFile: MustZip(t, "v1"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Version) != "1" || aws.ToString(out.FunctionArn) != arn("shipped")+":1" || out.State != types.StatePending ||
		aws.ToString(out.StateReason) != "The function is being created." || out.StateReasonCode != types.StateReasonCodeCreating ||
		out.LastUpdateStatus != "" || aws.ToString(out.CodeSha256) == aws.ToString(created.CodeSha256) {
		t.Fatalf("update with Publish: %+v", out)
	}
	latest, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shipped"), Qualifier: aws.String("$LATEST")})
	if err != nil || aws.ToString(latest.Configuration.CodeSha256) != aws.ToString(out.CodeSha256) || aws.ToString(latest.Configuration.RevisionId) == aws.ToString(out.RevisionId) ||
		latest.Configuration.LastUpdateStatus != types.LastUpdateStatusInProgress || latest.Configuration.State != types.StateActive {
		t.Fatalf("$LATEST after update with Publish: %v", err)
	}
	v1, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shipped"), Qualifier: aws.String("1")})
	if err != nil || v1.Configuration.State != types.StatePending || aws.ToString(v1.Configuration.RevisionId) != aws.ToString(out.RevisionId) || v1.Configuration.LastUpdateStatus != "" {
		t.Fatalf("version 1 while being prepared: %v %+v", err, v1.Configuration)
	}
	release()
	e.MustSettle(t, "shipped")
	v1, err = e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shipped"), Qualifier: aws.String("1")})
	if err != nil || v1.Configuration.State != types.StateActive || aws.ToString(v1.Configuration.RevisionId) == aws.ToString(out.RevisionId) || v1.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Fatalf("version 1 once prepared: %v %+v", err, v1.Configuration)
	}
	if same := update("v1"); aws.ToString(same.Version) != "1" {
		t.Errorf("same code again = version %s, want 1", aws.ToString(same.Version))
	}
	if next := update("v2"); aws.ToString(next.Version) != "2" {
		t.Errorf("new code = version %s, want 2", aws.ToString(next.Version))
	}
}
