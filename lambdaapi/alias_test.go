package lambdaapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// MustAlias creates the alias name of the function fn pointing to version,
// changed by the mods.
func (e *fnEnv) MustAlias(tb testing.TB, fn, name, version string, mods ...func(*lambda.CreateAliasInput)) *lambda.CreateAliasOutput {
	tb.Helper()
	in := &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String(name), FunctionVersion: aws.String(version)}
	for _, m := range mods {
		m(in)
	}
	out, err := e.client.CreateAlias(context.Background(), in)
	if err != nil {
		tb.Fatalf("CreateAlias %s:%s: %v", fn, name, err)
	}
	return out
}

// newAliasEnv is a server with the function name published twice: version
// 1 and version 2.
func newAliasEnv(t *testing.T, name string) *fnEnv {
	t.Helper()
	e := newFnEnv(t, nil)
	e.MustCreate(t, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"testenv": "staging"}}
	})
	e.MustPublish(t, name)
	e.MustDescribe(t, name, "prod")
	e.MustPublish(t, name)
	return e
}

func weights(w map[string]float64) *types.AliasRoutingConfiguration {
	return &types.AliasRoutingConfiguration{AdditionalVersionWeights: w}
}

func aliasNames(list []types.AliasConfiguration) []string {
	var names []string
	for _, a := range list {
		names = append(names, aws.ToString(a.Name))
	}
	return names
}

// TestAlias_Lifecycle follows AWS's test_alias_lifecycle.
func TestAlias_Lifecycle(t *testing.T) {
	e := newAliasEnv(t, "al")
	ctx := context.Background()
	latestBefore := e.latestRevision(t, "al")

	a11 := e.MustAlias(t, "al", "aliasname1_1", "1", func(in *lambda.CreateAliasInput) {
		in.Description = aws.String("custom-alias")
		in.RoutingConfig = weights(map[string]float64{"2": 0.2})
	})
	if aws.ToString(a11.AliasArn) != arn("al")+":aliasname1_1" || aws.ToString(a11.Name) != "aliasname1_1" || aws.ToString(a11.FunctionVersion) != "1" ||
		aws.ToString(a11.Description) != "custom-alias" || a11.RoutingConfig.AdditionalVersionWeights["2"] != 0.2 || len(aws.ToString(a11.RevisionId)) != 36 {
		t.Fatalf("CreateAlias: %+v", a11)
	}
	got, err := e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("aliasname1_1")})
	if err != nil || aws.ToString(got.RevisionId) != aws.ToString(a11.RevisionId) || got.RoutingConfig.AdditionalVersionWeights["2"] != 0.2 {
		t.Fatalf("GetAlias: %v %+v", err, got)
	}
	if after := e.latestRevision(t, "al"); after != latestBefore {
		t.Errorf("CreateAlias changed $LATEST's RevisionId")
	}
	a13 := e.MustAlias(t, "al", "aliasname1_3", "1")
	if aws.ToString(a13.Description) != "" || a13.RoutingConfig != nil {
		t.Errorf("alias without description or routing: %q %+v", aws.ToString(a13.Description), a13.RoutingConfig)
	}
	e.MustAlias(t, "al", "aliasname1_2", "1", func(in *lambda.CreateAliasInput) { in.Description = aws.String("custom-alias") })
	e.MustAlias(t, "al", "aliasname2", "2", func(in *lambda.CreateAliasInput) { in.RoutingConfig = weights(map[string]float64{}) })
	e.MustAlias(t, "al", "2024-01-02", "2") // digits are fine, all digits are not

	var listed []types.AliasConfiguration
	p := lambda.NewListAliasesPaginator(e.client, &lambda.ListAliasesInput{FunctionName: aws.String("al"), MaxItems: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page.Aliases...)
	}
	if want := []string{"2024-01-02", "aliasname1_1", "aliasname1_2", "aliasname1_3", "aliasname2"}; !slices.Equal(aliasNames(listed), want) {
		t.Fatalf("ListAliases = %q, want %q", aliasNames(listed), want)
	}
	v1, err := e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al"), FunctionVersion: aws.String("1")})
	if want := []string{"aliasname1_1", "aliasname1_2", "aliasname1_3"}; err != nil || !slices.Equal(aliasNames(v1.Aliases), want) {
		t.Fatalf("ListAliases FunctionVersion=1: %v %q", err, aliasNames(v1.Aliases))
	}

	// An empty RoutingConfig removes the routing; every update is a new revision.
	updated, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("aliasname1_1"), RoutingConfig: weights(map[string]float64{})})
	if err != nil || updated.RoutingConfig != nil || aws.ToString(updated.Description) != "custom-alias" || aws.ToString(updated.RevisionId) == aws.ToString(a11.RevisionId) {
		t.Fatalf("remove routing: %v %+v", err, updated)
	}
	same, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("aliasname1_1")})
	if err != nil || aws.ToString(same.RevisionId) == aws.ToString(updated.RevisionId) {
		t.Fatalf("update without changes kept the RevisionId: %v", err)
	}
	_, err = e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("aliasname1_1"), Description: aws.String("x"), RevisionId: updated.RevisionId})
	wantAPIError(t, err, "PreconditionFailedException", staleRevision)
	moved, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String("al"), Name: aws.String("aliasname1_1"), RevisionId: same.RevisionId,
		FunctionVersion: aws.String("2"), Description: aws.String(""), RoutingConfig: weights(map[string]float64{"1": 0.5}),
	})
	if err != nil || aws.ToString(moved.FunctionVersion) != "2" || aws.ToString(moved.Description) != "" || moved.RoutingConfig.AdditionalVersionWeights["1"] != 0.5 {
		t.Fatalf("move alias: %v %+v", err, moved)
	}
	if e.latestRevision(t, "al") != latestBefore {
		t.Errorf("alias updates changed $LATEST's RevisionId")
	}

	for range 2 { // deleting a missing alias succeeds too
		if status, _, body := e.do(t, "DELETE", "/2015-03-31/functions/al/aliases/aliasname1_1", ""); status != 204 || body != "" {
			t.Fatalf("DeleteAlias: %d %q", status, body)
		}
	}
	_, err = e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("aliasname1_1")})
	wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+arn("al")+":aliasname1_1")
}

// TestAlias_Wire checks the raw JSON: Description "" when unset,
// RoutingConfig omitted when empty, and the $LATEST routing error without
// its "Type" (test_notfound_and_invalid_routingconfigs).
func TestAlias_Wire(t *testing.T) {
	e := newAliasEnv(t, "wire")
	status, _, body := e.do(t, "POST", "/2015-03-31/functions/wire/aliases", `{"Name":"plain","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{}}}`)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 201 {
		t.Fatalf("CreateAlias: %d %s", status, body)
	}
	if _, ok := got["RoutingConfig"]; ok || got["Description"] != "" || len(got) != 5 {
		t.Errorf("alias JSON = %s", body)
	}
	status, typ, body := e.do(t, "POST", "/2015-03-31/functions/wire/aliases", `{"Name":"latest","FunctionVersion":"$LATEST","RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}`)
	if status != 400 || typ != "InvalidParameterValueException" || strings.TrimSpace(body) != `{"message":"$LATEST is not supported for an alias pointing to more than 1 version"}` {
		t.Errorf("$LATEST with routing: %d %s %s", status, typ, body)
	}
	status, _, body = e.do(t, "POST", "/2015-03-31/functions/wire/aliases", `{"Name":"nullweight","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":null}}}`)
	if want := "1 validation error detected: Value '{2=null}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"; status != 400 || !strings.Contains(body, want) {
		t.Errorf("null weight: %d %s", status, body)
	}
}

func TestCreateAlias_Errors(t *testing.T) {
	e := newAliasEnv(t, "ae")
	e.MustAlias(t, "ae", "custom", "1")
	v1 := "1 validation error detected: "
	in := func(name, version string, w map[string]float64) lambda.CreateAliasInput {
		c := lambda.CreateAliasInput{FunctionName: aws.String("ae"), Name: aws.String(name), FunctionVersion: aws.String(version)}
		if w != nil {
			c.RoutingConfig = weights(w)
		}
		return c
	}
	long := strings.Repeat("a", 129)
	tests := []struct {
		name string
		in   lambda.CreateAliasInput
		code string
		msg  string
	}{
		{"all digits", in("2024", "1", nil), "ValidationException", v1 + "Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{"bad chars", in("a.b", "1", nil), "ValidationException", v1 + "Value 'a.b' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{"long name", in(long, "1", nil), "ValidationException", v1 + "Value '" + long + "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"bad version", in("x", "one", nil), "ValidationException", v1 + "Value 'one' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST(\\.PUBLISHED)?|[0-9]+)"},
		{"two errors", in("7", "one", nil), "ValidationException", "2 validation errors detected: Value '7' at 'name' failed to satisfy constraint: …"},
		{"exists", in("custom", "1", nil), "ResourceConflictException", "Alias already exists: " + arn("ae") + ":custom"},
		{"target missing", in("x", "10", map[string]float64{"2": 0.5}), "ResourceNotFoundException", "Function not found: " + arn("ae") + ":10"},
		{"function missing", lambda.CreateAliasInput{FunctionName: aws.String("ae-unknown"), Name: aws.String("x"), FunctionVersion: aws.String("1")}, "ResourceNotFoundException", "Function not found: " + arn("ae-unknown") + ":1"},
		{"too many", in("x", "1", map[string]float64{"1": 0.8, "2": 0.2}), "InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1"},
		{"too high", in("x", "1", map[string]float64{"2": 2}), "ValidationException", v1 + "Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"},
		{"sub zero", in("x", "1", map[string]float64{"2": -1}), "ValidationException", v1 + "Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: …"},
		{"same version", in("x", "1", map[string]float64{"1": 0.5}), "InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in routing configuration."},
		{"routed missing", in("x", "1", map[string]float64{"10": 0.5}), "ResourceNotFoundException", "Function not found: " + arn("ae") + ":10"},
		{"latest with routing", in("x", "$LATEST", map[string]float64{"1": 0.5}), "InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version"},
		{"latest key", in("x", "1", map[string]float64{"$LATEST": 0.5}), "ValidationException", v1 + "Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"},
		{"qualified function", lambda.CreateAliasInput{FunctionName: aws.String("ae:1"), Name: aws.String("x"), FunctionVersion: aws.String("1")}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."},
		{"dotted function", lambda.CreateAliasInput{FunctionName: aws.String("a.b"), Name: aws.String("x"), FunctionVersion: aws.String("1")}, "ValidationException", v1 + "Value 'a.b' at 'functionName' failed to satisfy constraint: …"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreateAlias(context.Background(), &tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	if status, _, body := e.do(t, "POST", "/2015-03-31/functions/ae/aliases", `{}`); status != 400 ||
		!strings.Contains(body, "2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; Value null at 'functionVersion' failed to satisfy constraint: Member must not be null") {
		t.Errorf("empty body: %d %s", status, body)
	}
	list, _ := e.client.ListAliases(context.Background(), &lambda.ListAliasesInput{FunctionName: aws.String("ae")})
	if names := aliasNames(list.Aliases); !slices.Equal(names, []string{"custom"}) {
		t.Fatalf("failed creates left aliases %q", names)
	}
}

func TestAlias_OtherOperationErrors(t *testing.T) {
	e := newAliasEnv(t, "ao")
	e.MustAlias(t, "ao", "live", "1", func(in *lambda.CreateAliasInput) { in.RoutingConfig = weights(map[string]float64{"2": 0.1}) })
	ctx := context.Background()
	update := func(name string, mod func(*lambda.UpdateAliasInput)) error {
		in := &lambda.UpdateAliasInput{FunctionName: aws.String("ao"), Name: aws.String(name)}
		if mod != nil {
			mod(in)
		}
		_, err := e.client.UpdateAlias(ctx, in)
		return err
	}
	wantAPIError(t, update("nolive", nil), "ResourceNotFoundException", "Alias not found: "+arn("ao")+":nolive")
	wantAPIError(t, update("live", func(in *lambda.UpdateAliasInput) { in.FunctionVersion = aws.String("2") }),
		"InvalidParameterValueException", "Invalid function version 2. Function version 2 is already included in routing configuration.")
	wantAPIError(t, update("live", func(in *lambda.UpdateAliasInput) { in.FunctionVersion = aws.String("9") }),
		"ResourceNotFoundException", "Function not found: "+arn("ao")+":9")
	wantAPIError(t, update("live", func(in *lambda.UpdateAliasInput) { in.FunctionVersion = aws.String("$LATEST") }),
		"InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version")
	wantAPIError(t, update("live", func(in *lambda.UpdateAliasInput) { in.RoutingConfig = weights(map[string]float64{"2": 1.5}) }),
		"ValidationException", "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: …")
	wantAPIError(t, update("12", nil), "ValidationException", "1 validation error detected: Value '12' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")

	_, err := e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("ao"), Name: aws.String("nolive")})
	wantAPIError(t, err, "ResourceNotFoundException", "Cannot find alias arn: "+arn("ao")+":nolive")
	_, err = e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("gone"), Name: aws.String("live")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("gone"))
	_, err = e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(arn("ao") + ":live"), Name: aws.String("live")})
	wantAPIError(t, err, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. …")
	_, err = e.client.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("gone"), Name: aws.String("live")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("gone"))
	_, err = e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("gone")})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("gone"))
	_, err = e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("ao"), FunctionVersion: aws.String("live")})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'live' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST(\\.PUBLISHED)?|[0-9]+)")
	_, err = e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("ao"), MaxItems: aws.Int32(10001)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '10001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000")
}

// TestAlias_NameForms: the alias operations take a name, a full ARN or a
// partial ARN.
func TestAlias_NameForms(t *testing.T) {
	e := newAliasEnv(t, "nf")
	ctx := context.Background()
	e.MustAlias(t, arn("nf"), "byarn", "1")
	e.MustAlias(t, "123456789012:function:nf", "bypartial", "2")
	for _, fn := range []string{"nf", arn("nf"), "123456789012:function:nf"} {
		got, err := e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String("bypartial")})
		if err != nil || aws.ToString(got.AliasArn) != arn("nf")+":bypartial" || aws.ToString(got.FunctionVersion) != "2" {
			t.Errorf("GetAlias via %s: %v", fn, err)
		}
	}
	_, err := e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("arn:aws:lambda:ap-southeast-1:123456789012:function:nf"), Name: aws.String("byarn")})
	wantAPIError(t, err, "ResourceNotFoundException", "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')")
	if _, err := e.client.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(arn("nf")), Name: aws.String("byarn")}); err != nil {
		t.Fatal(err)
	}
	list, err := e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("123456789012:function:nf")})
	if err != nil || !slices.Equal(aliasNames(list.Aliases), []string{"bypartial"}) {
		t.Fatalf("ListAliases by partial ARN: %v", err)
	}
}
