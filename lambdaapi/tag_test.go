package lambdaapi_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// tagsOf returns ListTags of the function name.
func (e *fnEnv) tagsOf(tb testing.TB, name string) map[string]string {
	tb.Helper()
	out, err := e.client.ListTags(context.Background(), &lambda.ListTagsInput{Resource: aws.String(arn(name))})
	if err != nil {
		tb.Fatalf("ListTags %s: %v", name, err)
	}
	return out.Tags
}

func TestTags_Lifecycle(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "tagged", func(in *lambda.CreateFunctionInput) { in.Tags = map[string]string{"team": "a"} })
	got, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("tagged")})
	if err != nil || !maps.Equal(got.Tags, map[string]string{"team": "a"}) {
		t.Fatalf("GetFunction Tags %v (%v)", got.Tags, err)
	}
	rev := aws.ToString(got.Configuration.RevisionId)
	if _, err := e.client.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn("tagged")), Tags: map[string]string{"team": "b", "env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	if tags := e.tagsOf(t, "tagged"); !maps.Equal(tags, map[string]string{"team": "b", "env": "prod"}) {
		t.Fatalf("after TagResource: %v", tags)
	}
	// Tagging is a new revision of $LATEST.
	if after := e.latestRevision(t, "tagged"); after == rev {
		t.Fatal("TagResource kept the RevisionId")
	}
	if _, err := e.client.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn("tagged")), TagKeys: []string{"team", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if tags := e.tagsOf(t, "tagged"); !maps.Equal(tags, map[string]string{"env": "prod"}) {
		t.Fatalf("after UntagResource: %v", tags)
	}
	if _, err := e.client.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn("tagged")), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	// No tags: ListTags answers {}, GetFunction has no Tags.
	if status, _, body := e.do(t, "GET", "/2017-03-31/tags/"+arn("tagged"), ""); status != 200 || body != `{"Tags":{}}` {
		t.Fatalf("ListTags without tags: %d %s", status, body)
	}
	if status, _, body := e.do(t, "GET", "/2015-03-31/functions/tagged", ""); status != 200 || strings.Contains(body, `"Tags"`) {
		t.Fatalf("GetFunction without tags: %s", body)
	}
	if status, _, body := e.do(t, "POST", "/2017-03-31/tags/"+arn("tagged"), `{"Tags":{"k":"v"}}`); status != 204 || body != "" {
		t.Fatalf("TagResource answered %d %q", status, body)
	}
}

func TestTags_Errors(t *testing.T) {
	e := newFnEnv(t, nil)
	ctx := context.Background()
	e.MustCreate(t, "tg")
	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprint("k", i)] = "v"
	}
	const aliasMsg = "Tags on function aliases and versions are not supported. Please specify a function ARN."
	tag := func(resource string, tags map[string]string) error {
		_, err := e.client.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(resource), Tags: tags})
		return err
	}
	wantAPIError(t, tag(arn("tg")+":1", map[string]string{"a": "b"}), "InvalidParameterValueException", aliasMsg)
	wantAPIError(t, tag(arn("tg")+":$LATEST", map[string]string{"a": "b"}), "InvalidParameterValueException", aliasMsg)
	// The qualifier is refused before anything is looked up.
	wantAPIError(t, tag(arn("nope")+":live", map[string]string{"a": "b"}), "InvalidParameterValueException", aliasMsg)
	wantAPIError(t, tag(arn("nope"), map[string]string{"a": "b"}), "ResourceNotFoundException", "Function not found: "+arn("nope"))
	_, err := e.client.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(arn("nope"))})
	wantAPIError(t, err, "ResourceNotFoundException", "Function not found: "+arn("nope"))
	wantAPIError(t, tag("arn:aws:something", map[string]string{"a": "b"}), "ValidationException", "1 validation error detected: Value 'arn:aws:something' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:…")
	wantAPIError(t, tag(arn("tg"), map[string]string{}), "InvalidParameterValueException", "An error occurred and the request cannot be processed.")
	wantAPIError(t, tag(arn("tg"), map[string]string{"aws:owner": "x"}), "InvalidParameterValueException", "Invalid tag key. Tag keys cannot start with 'aws:' (case insensitive)")
	wantAPIError(t, tag(arn("tg"), map[string]string{"k": strings.Repeat("v", 257)}), "ValidationException", "1 validation error detected: Value '{k="+strings.Repeat("v", 257)+"}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 256, …")
	wantAPIError(t, tag(arn("tg"), map[string]string{strings.Repeat("k", 129): "v"}), "ValidationException", "1 validation error detected: Value '{"+strings.Repeat("k", 129)+"=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, …")

	// At most 50, counted after the merge.
	fiftyOne := maps.Clone(fifty)
	fiftyOne["one-more"] = "v"
	wantAPIError(t, tag(arn("tg"), fiftyOne), "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
	if err := tag(arn("tg"), fifty); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	if err := tag(arn("tg"), map[string]string{"k0": "replaced"}); err != nil {
		t.Fatalf("replacing one of 50: %v", err)
	}
	wantAPIError(t, tag(arn("tg"), map[string]string{"extra": "v"}), "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
	_, err = e.client.CreateFunction(ctx, func() *lambda.CreateFunctionInput {
		in := createInput(t, "many-tags")
		in.Tags = fiftyOne
		return in
	}())
	wantAPIError(t, err, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")

	status, _, body := e.do(t, "DELETE", "/2017-03-31/tags/"+arn("tg"), "")
	if status != 400 || !strings.Contains(body, "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null") {
		t.Fatalf("UntagResource without keys: %d %s", status, body)
	}
}
