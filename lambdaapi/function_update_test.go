package lambdaapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
)

const staleRevision = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"

func wantUpdating(t *testing.T, status types.LastUpdateStatus, reason *string, code types.LastUpdateStatusReasonCode, state types.State) {
	t.Helper()
	if status != types.LastUpdateStatusInProgress || aws.ToString(reason) != "The function is being created." || code != "Creating" || state != types.StateActive {
		t.Errorf("update answer: LastUpdateStatus %s %q %s, State %s", status, aws.ToString(reason), code, state)
	}
}

func TestUpdateFunctionCode(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	created := e.MustCreate(t, "coded")
	rev := e.latestRevision(t, "coded")
	zip := MustZip(t, "new code")
	sum := sha256.Sum256(zip)

	_, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), ZipFile: zip, RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", staleRevision)

	dry, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), ZipFile: zip, DryRun: true})
	if err != nil || aws.ToString(dry.CodeSha256) != aws.ToString(created.CodeSha256) || aws.ToString(dry.RevisionId) != rev {
		t.Fatalf("DryRun changed the function: %v", err)
	}

	out, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
		FunctionName:  aws.String("coded"),
		ZipFile:       zip,
		RevisionId:    aws.String(rev),
		Architectures: []types.Architecture{types.ArchitectureArm64},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantUpdating(t, out.LastUpdateStatus, out.LastUpdateStatusReason, out.LastUpdateStatusReasonCode, out.State)
	if aws.ToString(out.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || out.CodeSize != int64(len(zip)) ||
		aws.ToString(out.RevisionId) == rev || out.Architectures[0] != types.ArchitectureArm64 ||
		aws.ToString(out.Handler) != "bootstrap" || aws.ToString(out.LastModified) != "2024-03-01T12:00:00.123+0000" {
		t.Fatalf("after UpdateFunctionCode: %+v", out)
	}
	// InProgress → Successful is a transition of its own.
	e.MustSettle(t, "coded")
	got, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("coded")})
	if err != nil || aws.ToString(got.Configuration.CodeSha256) != aws.ToString(out.CodeSha256) || aws.ToString(got.Configuration.RevisionId) == aws.ToString(out.RevisionId) ||
		got.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful || got.Configuration.LastUpdateStatusReason != nil {
		t.Fatalf("GetFunction after update: %v %+v", err, got.Configuration)
	}

	errs := []struct {
		name string
		in   lambda.UpdateFunctionCodeInput
		code string
		msg  string
	}{
		{"missing", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("nope"), ZipFile: zip}, "ResourceNotFoundException", "Function not found: " + arn("nope")},
		{"s3", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), S3Bucket: aws.String("b"), S3Key: aws.String("k")}, "InvalidParameterValueException", "Only ZipFile code is supported…"},
		{"image", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), ImageUri: aws.String("repo/image:1")}, "InvalidParameterValueException", "Only ZipFile code is supported…"},
		{"no code", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded")}, "InvalidParameterValueException", "Please provide a source for function code."},
		{"bad zip", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), ZipFile: []byte("not a zip")}, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"qualified", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded:1"), ZipFile: zip}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."},
		{"architectures", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("coded"), ZipFile: zip, Architectures: []types.Architecture{"x86_64", "arm64"}}, "ValidationException", "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"},
		{"dotted name", lambda.UpdateFunctionCodeInput{FunctionName: aws.String("a.b"), ZipFile: zip}, "ValidationException", "1 validation error detected: Value 'a.b' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + lambada.NewFunctionNamePattern},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.UpdateFunctionCode(ctx, &tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func TestUpdateFunctionConfiguration(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	created := e.MustCreate(t, "configured", func(in *lambda.CreateFunctionInput) {
		in.Description = aws.String("kept")
		in.Environment = &types.Environment{Variables: map[string]string{"OLD": "1"}}
	})
	out, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("configured"),
		Timeout:      aws.Int32(30),
		MemorySize:   aws.Int32(512),
		Environment:  &types.Environment{Variables: map[string]string{"NEW": "2"}},
		RevisionId:   aws.String(e.latestRevision(t, "configured")),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantUpdating(t, out.LastUpdateStatus, out.LastUpdateStatusReason, out.LastUpdateStatusReasonCode, out.State)
	if aws.ToInt32(out.Timeout) != 30 || aws.ToInt32(out.MemorySize) != 512 || aws.ToString(out.Description) != "kept" ||
		aws.ToString(out.Handler) != "bootstrap" || len(out.Environment.Variables) != 1 || out.Environment.Variables["NEW"] != "2" ||
		aws.ToString(out.RevisionId) == aws.ToString(created.RevisionId) || aws.ToString(out.CodeSha256) != aws.ToString(created.CodeSha256) {
		t.Fatalf("partial update: %+v", out)
	}

	e.MustSettle(t, "configured")
	_, err = e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Description: aws.String("x"), RevisionId: created.RevisionId})
	wantAPIError(t, err, "PreconditionFailedException", staleRevision)

	cleared, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(arn("configured")),
		Environment:  &types.Environment{},
		Runtime:      types.RuntimeProvidedal2,
		Handler:      aws.String("main"),
	})
	if err != nil || cleared.Environment == nil || len(cleared.Environment.Variables) != 0 || cleared.Runtime != types.RuntimeProvidedal2 || aws.ToString(cleared.Handler) != "main" || aws.ToInt32(cleared.Timeout) != 30 {
		t.Fatalf("second update: %v %+v", err, cleared)
	}

	errs := []struct {
		name string
		in   lambda.UpdateFunctionConfigurationInput
		code string
		msg  string
	}{
		{"missing", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("nope"), Timeout: aws.Int32(5)}, "ResourceNotFoundException", "Function not found: " + arn("nope")},
		{"runtime", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Runtime: "non-existent-runtime"}, "InvalidParameterValueException", "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: …"},
		{"go1.x", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Runtime: types.RuntimeGo1x}, "InvalidParameterValueException", "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."},
		{"role", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Role: aws.String("r1")}, "ValidationException", "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"},
		{"timeout", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Timeout: aws.Int32(901)}, "ValidationException", "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"memory", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), MemorySize: aws.Int32(10241)}, "ValidationException", "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"reserved", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("configured"), Environment: &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}}, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION"},
		{"qualified", lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(arn("configured") + ":$LATEST"), Timeout: aws.Int32(5)}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.UpdateFunctionConfiguration(ctx, &tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func TestDeleteFunction(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "doomed")
	errs := []struct{ name, fn, qualifier, code, msg string }{
		{"latest", "doomed", "$LATEST", "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function."},
		{"latest of missing", "arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST", "$LATEST", "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function."},
		{"mismatch", "doomed:1", "$LATEST", "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."},
		{"alias", "doomed", "live", "InvalidParameterValueException", "Deletion of aliases is not currently supported."},
		{"missing with qualifier", "nope", "1", "ResourceNotFoundException", "Function not found: " + arn("nope")},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(tc.fn), Qualifier: aws.String(tc.qualifier)})
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	// AWS: deleting a version that does not exist succeeds (test_delete_on_nonexisting_version).
	if status, _, body := e.do(t, "DELETE", "/2015-03-31/functions/doomed?Qualifier=1233", ""); status != 204 || body != "" {
		t.Fatalf("DeleteFunction of a missing version: %d %q, want 204 and no body", status, body)
	}
	if status, _, body := e.do(t, "DELETE", "/2015-03-31/functions/doomed", ""); status != 204 || body != "" {
		t.Fatalf("DeleteFunction: %d %q, want 204 and no body", status, body)
	}
	_, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("doomed"))
	_, err = e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("doomed")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("doomed"))
}

// racingStore runs race once, just before the first PutFunction of an
// existing function: a concurrent writer that wins the compare-and-set.
type racingStore struct {
	*inmem.Store
	race  func()
	fails int // when > 0, every PutFunction of an existing function loses this way
}

func (s *racingStore) PutFunction(ctx context.Context, f *lambada.Function) (uint64, error) {
	if f.Revision != 0 && (s.race != nil || s.fails > 0) {
		if s.race != nil {
			race := s.race
			s.race = nil
			race()
		} else {
			s.fails--
			return 0, lambada.Errorf(lambada.EPRECONDITION, "function %s changed", f.Name)
		}
	}
	return s.Store.PutFunction(ctx, f)
}

func TestUpdate_LostRace(t *testing.T) {
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
	out, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("raced"), Timeout: aws.Int32(42)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.Timeout) != 42 || aws.ToString(out.Description) != "written by the other writer" {
		t.Fatalf("an update was lost: Timeout %d Description %q", aws.ToInt32(out.Timeout), aws.ToString(out.Description))
	}
	e.MustSettle(t, "raced")

	// A RevisionId that the other writer made stale is a precondition failure.
	got, _ := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("raced")})
	store.race = func() {
		f, _ := store.Store.Function(ctx, "raced")
		c := f.Clone()
		c.Latest.RevisionID = "changed-meanwhile"
		_, _ = store.Store.PutFunction(ctx, c)
	}
	_, err = e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("raced"), Timeout: aws.Int32(7), RevisionId: got.Configuration.RevisionId})
	wantAPIError(t, err, "PreconditionFailedException", staleRevision)

	store.fails = 100
	_, err = e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("raced"), ZipFile: MustZip(t, "x")})
	wantAPIError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource: "+arn("raced"))
}

// TestUpdate_RacedByAnotherUpdate: an update that starts between this
// update's read and its write wins; this one gets AWS's 409 when it reads
// again.
func TestUpdate_RacedByAnotherUpdate(t *testing.T) {
	store := &racingStore{Store: &inmem.Store{}}
	e := newFnEnv(t, store)
	ctx := context.Background()
	e.MustCreate(t, "raced")
	release := e.code.hold()
	race := func() {
		f, _ := store.Store.Function(ctx, "raced")
		c := f.Clone()
		c.StartUpdate()
		c.Latest.Description = "the other update"
		if _, err := store.Store.PutFunction(ctx, c); err != nil {
			t.Error(err)
		}
	}
	store.race = race
	_, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("raced"), ZipFile: MustZip(t, "mine")})
	wantAPIError(t, err, "ResourceConflictException", inProgress+arn("raced"))
	// Let the other update finish, then race the configuration's.
	e.preparer.Prepare("raced")
	release()
	e.MustSettle(t, "raced")
	if c := e.getConfig(t, "raced"); c.LastUpdateStatus != "Successful" || aws.ToString(c.Description) != "the other update" {
		t.Fatalf("the other update: %s %q", c.LastUpdateStatus, aws.ToString(c.Description))
	}
	store.race = race
	_, err = e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("raced"), Timeout: aws.Int32(8)})
	wantAPIError(t, err, "ResourceConflictException", inProgress+arn("raced"))
}
