package lambdaapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/lambdaapi"
)

// newLayerEnv is a server with a layer store.
func newLayerEnv(t *testing.T) *fnEnv {
	t.Helper()
	layers := &inmem.Store{}
	return newFnEnvWith(t, nil, func(s *lambdaapi.Server) { s.Layers = layers })
}

func layerARN(name string, v int) string {
	return lambada.LayerVersionARN(fnRegion, fnAccount, name, int64(v))
}

func (e *fnEnv) mustPublish(t *testing.T, name string, mods ...func(*lambda.PublishLayerVersionInput)) *lambda.PublishLayerVersionOutput {
	t.Helper()
	in := &lambda.PublishLayerVersionInput{LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: MustZip(t, "layer "+name)}}
	for _, m := range mods {
		m(in)
	}
	out, err := e.client.PublishLayerVersion(context.Background(), in)
	if err != nil {
		t.Fatalf("PublishLayerVersion %s: %v", name, err)
	}
	return out
}

// PublishLayerVersion answers as AWS does: numbers that are never reused,
// the members given and only those, a link to the archive.
func TestLayer_Publish(t *testing.T) {
	e := newLayerEnv(t)
	ctx := context.Background()
	status, _, body := e.do(t, "POST", "/2018-10-31/layers/lib/versions",
		`{"Content":{"ZipFile":"`+b64(MustZip(t, "v1"))+`"},"CompatibleRuntimes":["python3.12","nodejs20.x"],"CompatibleArchitectures":[]}`)
	var got map[string]any
	if status != 201 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("publish: %d %s", status, body)
	}
	if got["LayerArn"] != lambada.LayerARN(fnRegion, fnAccount, "lib") || got["LayerVersionArn"] != layerARN("lib", 1) || got["Version"] != 1.0 ||
		got["Description"] != "" || got["CreatedDate"] != "2024-03-01T12:00:00.123+0000" {
		t.Errorf("publish answered %s", body)
	}
	if _, ok := got["LicenseInfo"]; ok {
		t.Errorf("LicenseInfo shown though not given: %s", body)
	}
	if rs, _ := json.Marshal(got["CompatibleRuntimes"]); string(rs) != `["python3.12","nodejs20.x"]` {
		t.Errorf("CompatibleRuntimes %s, want the order given", rs)
	}
	if as, ok := got["CompatibleArchitectures"].([]any); !ok || len(as) != 0 {
		t.Errorf("CompatibleArchitectures given empty: %s", body)
	}
	content, _ := got["Content"].(map[string]any)
	resp, err := http.Get(content["Location"].(string))
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(zipped) != string(MustZip(t, "v1")) || content["CodeSize"] != float64(len(zipped)) || content["CodeSha256"] == "" {
		t.Errorf("Content %v: the link gave %d bytes", content, len(zipped))
	}

	second := e.mustPublish(t, "lib", func(in *lambda.PublishLayerVersionInput) { in.LicenseInfo = aws.String("MIT") })
	if second.Version != 2 || aws.ToString(second.LicenseInfo) != "MIT" || second.CompatibleRuntimes != nil {
		t.Errorf("second version: %+v", second)
	}
	for _, v := range []int64{1, 2} {
		if _, err := e.client.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if third := e.mustPublish(t, "lib"); third.Version != 3 {
		t.Errorf("after deleting 1 and 2, the next version is %d, want 3", third.Version)
	}
	// Deleting what is not there is no error.
	if _, err := e.client.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("none"), VersionNumber: aws.Int64(7)}); err != nil {
		t.Errorf("delete a missing version: %v", err)
	}

	_, err = e.client.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &types.LayerVersionContentInput{ZipFile: MustZip(t, "x")}, CompatibleRuntimes: []types.Runtime{"invalidruntime", "nodejs16.x"}})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '[invalidruntime, nodejs16.x]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: "+lambada.RuntimeEnum())
	_, err = e.client.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &types.LayerVersionContentInput{ZipFile: MustZip(t, "x")}, CompatibleArchitectures: []types.Architecture{"invalidarch", "x86_64"}})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '[invalidarch, x86_64]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
	_, err = e.client.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("bad.name"), Content: &types.LayerVersionContentInput{ZipFile: MustZip(t, "x")}})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'bad.name' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: "+lambada.LayerNamePattern)
}

// The Get and List operations, with AWS's errors.
func TestLayer_GetList(t *testing.T) {
	e := newLayerEnv(t)
	ctx := context.Background()
	py := func(in *lambda.PublishLayerVersionInput) { in.CompatibleRuntimes = []types.Runtime{"python3.12"} }
	e.mustPublish(t, "a", py)
	e.mustPublish(t, "a")
	e.mustPublish(t, "b", py)
	e.mustPublish(t, "gone")
	if _, err := e.client.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("gone"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}

	got, err := e.client.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String(lambada.LayerARN(fnRegion, fnAccount, "a")), VersionNumber: aws.Int64(2)})
	if err != nil || aws.ToString(got.LayerVersionArn) != layerARN("a", 2) {
		t.Errorf("get a:2 by the layer's ARN: %v %+v", err, got)
	}
	byArn, err := e.client.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerARN("b", 1))})
	if err != nil || byArn.Version != 1 || aws.ToString(byArn.LayerArn) != lambada.LayerARN(fnRegion, fnAccount, "b") {
		t.Errorf("get by ARN: %v %+v", err, byArn)
	}
	_, err = e.client.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("a"), VersionNumber: aws.Int64(9)})
	wantAPIError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	// A layer named by the ARN of another region is none of this node's.
	_, err = e.client.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String(lambada.LayerARN("eu-west-1", fnAccount, "a")), VersionNumber: aws.Int64(2)})
	wantAPIError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.client.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("gone"), VersionNumber: aws.Int64(1)})
	wantAPIError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.client.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("a"), VersionNumber: aws.Int64(0)})
	wantAPIError(t, err, "InvalidParameterValueException", "Layer Version Cannot be less than 1")
	noVersion := lambada.LayerARN(fnRegion, fnAccount, "a")
	_, err = e.client.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(noVersion)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '"+noVersion+"' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: "+lambada.LayerVersionARNPattern)

	list, err := e.client.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(list.Layers) != 2 || aws.ToString(list.Layers[0].LayerName) != "a" || list.Layers[0].LatestMatchingVersion.Version != 2 ||
		aws.ToString(list.Layers[1].LayerName) != "b" {
		t.Errorf("ListLayers: %v %+v", err, list)
	}
	list, err = e.client.ListLayers(ctx, &lambda.ListLayersInput{CompatibleRuntime: "python3.12", MaxItems: aws.Int32(1)})
	if err != nil || len(list.Layers) != 1 || list.Layers[0].LatestMatchingVersion.Version != 1 || list.NextMarker == nil {
		t.Fatalf("ListLayers for python3.12, one a page: %v %+v", err, list)
	}
	list, err = e.client.ListLayers(ctx, &lambda.ListLayersInput{CompatibleRuntime: "python3.12", Marker: list.NextMarker})
	if err != nil || len(list.Layers) != 1 || aws.ToString(list.Layers[0].LayerName) != "b" || list.NextMarker != nil {
		t.Errorf("ListLayers' second page: %v %+v", err, list)
	}
	versions, err := e.client.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("a")})
	if err != nil || len(versions.LayerVersions) != 2 || versions.LayerVersions[0].Version != 2 || versions.LayerVersions[1].Version != 1 {
		t.Errorf("ListLayerVersions, newest first: %v %+v", err, versions)
	}
	versions, err = e.client.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("nothing")})
	if err != nil || versions.LayerVersions == nil || len(versions.LayerVersions) != 0 {
		t.Errorf("ListLayerVersions of an unknown layer: %v %+v", err, versions)
	}
}

// A function's Layers: checked in AWS's order and with its texts, shown in
// its configuration, removed with an empty list; a version deleted later
// stays with the functions that use it.
func TestLayer_Function(t *testing.T) {
	e := newLayerEnv(t)
	ctx := context.Background()
	e.mustPublish(t, "a")
	e.mustPublish(t, "a")
	e.mustPublish(t, "b")
	out := e.MustCreate(t, "fn", func(in *lambda.CreateFunctionInput) { in.Layers = []string{layerARN("a", 2), layerARN("b", 1)} })
	if len(out.Layers) != 2 || aws.ToString(out.Layers[0].Arn) != layerARN("a", 2) || out.Layers[0].CodeSize == 0 || aws.ToString(out.Layers[1].Arn) != layerARN("b", 1) {
		t.Errorf("created with layers: %+v", out.Layers)
	}
	if _, err := e.client.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("b"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	cfg, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
	if err != nil || len(cfg.Layers) != 2 {
		t.Errorf("a deleted layer version left the function: %v %+v", err, cfg)
	}
	update := func(layers ...string) error {
		_, err := e.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), Layers: layers})
		return err
	}
	wantAPIError(t, update(layerARN("b", 1)), "InvalidParameterValueException", "Layer version "+layerARN("b", 1)+" does not exist.")
	wantAPIError(t, update(layerARN("a", 1), layerARN("a", 2)), "InvalidParameterValueException",
		"Two different versions of the same layer are not allowed to be referenced in the same function. "+layerARN("a", 1)+" and "+layerARN("a", 2)+" are versions of the same layer.")
	six := []string{}
	for i := range 6 {
		six = append(six, layerARN("l"+string(rune('a'+i)), 1))
	}
	wantAPIError(t, update(six...), "InvalidParameterValueException", "Cannot reference more than 5 layers.")
	other := lambada.LayerVersionARN("eu-west-1", fnAccount, "a", 1)
	wantAPIError(t, update(other), "InvalidParameterValueException", "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.")
	noVersion := lambada.LayerARN(fnRegion, fnAccount, "a")
	wantAPIError(t, update(noVersion), "ValidationException", "1 validation error detected: Value '["+noVersion+"]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "+lambada.FunctionLayerPattern+", Member must not be null]")

	if err := update(layerARN("a", 1)); err != nil {
		t.Fatal(err)
	}
	e.MustSettle(t, "fn")
	cfg, _ = e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
	if len(cfg.Layers) != 1 || aws.ToString(cfg.Layers[0].Arn) != layerARN("a", 1) {
		t.Errorf("after an update: %+v", cfg.Layers)
	}
	// The SDK leaves an empty list out: the body says it.
	if status, _, body := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", `{"Layers":[]}`); status != 200 {
		t.Fatalf("remove the layers: %d %s", status, body)
	}
	e.MustSettle(t, "fn")
	_, _, body := e.do(t, "GET", "/2015-03-31/functions/fn/configuration", "")
	if strings.Contains(body, `"Layers"`) {
		t.Errorf("an empty list leaves layers: %s", body)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
