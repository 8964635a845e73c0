package lambdaapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada"
)

// TestGetFunction_Qualified covers versions and aliases by Qualifier and by
// name suffix: an alias reports its version's configuration under the
// alias ARN (test_alias_lifecycle).
func TestGetFunction_Qualified(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "q", func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"testenv": "staging"}}
	})
	v1 := e.MustPublish(t, "q")
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("q"), ZipFile: MustZip(t, "new")}); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "q")
	e.MustAlias(t, "q", "live", "1")
	e.MustAlias(t, "q", "edge", "$LATEST")
	latest, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("q")})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct{ name, fn, qualifier, arn, version string }{
		{"version", "q", "1", arn("q") + ":1", "1"},
		{"version suffix", "q:1", "", arn("q") + ":1", "1"},
		{"alias", "q", "live", arn("q") + ":live", "1"},
		{"alias ARN", arn("q") + ":live", "", arn("q") + ":live", "1"},
		{"alias ARN and qualifier", arn("q") + ":live", "live", arn("q") + ":live", "1"},
		{"alias of $LATEST", "q", "edge", arn("q") + ":edge", "$LATEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.GetFunctionInput{FunctionName: aws.String(tc.fn)}
			if tc.qualifier != "" {
				in.Qualifier = aws.String(tc.qualifier)
			}
			out, err := e.client.GetFunction(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			wantRevision, wantSha := latest.RevisionId, latest.CodeSha256
			if tc.version == "1" {
				wantRevision, wantSha = v1.RevisionId, v1.CodeSha256
			}
			c := out.Configuration
			if aws.ToString(c.FunctionArn) != tc.arn || aws.ToString(c.Version) != tc.version || aws.ToString(c.RevisionId) != aws.ToString(wantRevision) ||
				c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusSuccessful {
				t.Errorf("ARN %s Version %s RevisionId %s State %s", aws.ToString(c.FunctionArn), aws.ToString(c.Version), aws.ToString(c.RevisionId), c.State)
			}
			if aws.ToString(c.CodeSha256) != aws.ToString(wantSha) || !strings.Contains(aws.ToString(out.Code.Location), "/lambada/code/"+lambada.CodeKey(aws.ToString(wantSha))+"?") {
				t.Errorf("CodeSha256 %s, Location %s", aws.ToString(c.CodeSha256), aws.ToString(out.Code.Location))
			}
			conf, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: in.FunctionName, Qualifier: in.Qualifier})
			if err != nil || aws.ToString(conf.FunctionArn) != tc.arn || aws.ToString(conf.Version) != tc.version {
				t.Errorf("GetFunctionConfiguration: %v", err)
			}
		})
	}
	for _, q := range []string{"2", "nolive", "$LATEST.PUBLISHED"} {
		_, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("q"), Qualifier: aws.String(q)})
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("q")+":"+q)
		_, err = e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("q:" + q)})
		wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("q")+":"+q)
	}
}

// TestDeleteFunction_Version: a version qualifier deletes only that version;
// AWS refuses $LATEST, aliases and a version an alias routes to.
func TestDeleteFunction_Version(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "del")
	for _, d := range []string{"a", "b", "c"} {
		e.MustDescribe(t, "del", d)
		e.MustPublish(t, "del")
	}
	e.MustAlias(t, "del", "live", "1")
	e.MustAlias(t, "del", "canary", "1", func(in *lambda.CreateAliasInput) {
		in.RoutingConfig = &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"3": 0.1}}
	})
	del := func(fn, q string) error {
		_, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn), Qualifier: aws.String(q)})
		return err
	}
	wantAPIError(t, del("del", "1"), "ResourceConflictException", "Unable to delete version because the following aliases reference it: [canary, live]")
	wantAPIError(t, del("del", "3"), "ResourceConflictException", "Unable to delete version because the following aliases reference it: [canary]")
	wantAPIError(t, del("del", "$LATEST"), "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function.")
	wantAPIError(t, del("del", "live"), "InvalidParameterValueException", "Deletion of aliases is not currently supported.")
	if err := del("del", "2"); err != nil {
		t.Fatal(err)
	}
	if err := del("del", "2"); err != nil {
		t.Fatalf("deleting a deleted version: %v, want success", err)
	}
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("del:2")}); err != nil {
		t.Fatalf("version as a name suffix: %v", err)
	}
	want := []string{"$LATEST " + arn("del") + ":$LATEST", "1 " + arn("del") + ":1", "3 " + arn("del") + ":3"}
	if got := versionsOf(e.listVersions(t, "del", 50)); !slices.Equal(got, want) {
		t.Fatalf("versions = %q, want %q", got, want)
	}
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("del")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("del"), Qualifier: aws.String("1")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("del")+":1")
}

// TestListFunctions_AllVersions: FunctionVersion=ALL lists each function's
// $LATEST and then its versions, all qualified, across pages.
func TestListFunctions_AllVersions(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "fa")
	e.MustPublish(t, "fa")
	e.MustDescribe(t, "fa", "two")
	e.MustPublish(t, "fa")
	e.MustCreate(t, "fb")
	want := []string{"fa:$LATEST", "fa:1", "fa:2", "fb:$LATEST"}
	for _, size := range []int32{1, 3, 50} {
		var got []string
		p := lambda.NewListFunctionsPaginator(e.client, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll, MaxItems: aws.Int32(size)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Functions {
				got = append(got, strings.TrimPrefix(aws.ToString(f.FunctionArn), arn("")))
				if !strings.HasSuffix(aws.ToString(f.FunctionArn), ":"+aws.ToString(f.Version)) {
					t.Errorf("ARN %s for Version %s", aws.ToString(f.FunctionArn), aws.ToString(f.Version))
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: %q, want %q", size, got, want)
		}
	}
	latest, err := e.client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(latest.Functions) != 2 || aws.ToString(latest.Functions[0].Version) != "$LATEST" {
		t.Fatalf("without ALL: %v", err)
	}
}
