package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lambada-dev/lambada/internal/testfn"
)

// signedDo sends a request with headers, signed with key and secret for
// service (unsigned when key is ""), and returns its status and body.
func signedDo(t *testing.T, m *Main, key, secret, service, method, path string, headers map[string]string, body string) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, "http://"+m.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	if key != "" {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r,
			hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every request is decided on the resource it really acts on, written the
// one way IAM matches: a Qualifier a route ignores does not change it, an
// ARN in another partition's spelling is the same function, a layer named
// by its ARN is its account's; CreateFunction is decided on the new
// function's ARN, a function's layers need lambda:GetLayerVersion, a role
// must be of the function's account; and with --auth the metrics need a
// signature and cloudwatch:GetMetricData.
func TestAuth_Resources(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	allowAll := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	carolPolicy := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Effect":"Deny","Action":["lambda:UpdateFunctionConfiguration","lambda:TagResource"],"Resource":"arn:aws:lambda:us-east-1:000000000000:function:secret"},
		{"Effect":"Deny","Action":"lambda:CreateFunction","Resource":"arn:aws:lambda:*:*:function:prod-*"},
		{"Effect":"Deny","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:secretlayer:1"}]}`)
	b, _ := json.Marshal(map[string]any{"principals": []map[string]any{
		{"accessKeyId": "AKIAALICE", "secretAccessKey": "a", "account": "000000000000", "arn": "arn:aws:iam::000000000000:user/alice", "policies": []any{allowAll}},
		{"accessKeyId": "AKIACAROL", "secretAccessKey": "c", "account": "000000000000", "arn": "arn:aws:iam::000000000000:user/carol", "policies": []any{carolPolicy}},
		{"accessKeyId": "AKIADAN", "secretAccessKey": "d", "account": "000000000000", "arn": "arn:aws:iam::000000000000:user/dan",
			"policies": []any{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}`)}},
		{"accessKeyId": "AKIABOB", "secretAccessKey": "b", "account": "111111111111", "arn": "arn:aws:iam::111111111111:user/bob", "policies": []any{allowAll}},
		{"account": "000000000000", "arn": "arn:aws:iam::000000000000:role/sender", "policies": []any{json.RawMessage(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:dlq"},
			{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:secret"}]}`)}},
	}})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	carol := []string{"AWS_ACCESS_KEY_ID=AKIACAROL", "AWS_SECRET_ACCESS_KEY=c"}
	zip := writeFile(t, fnZip)
	createAs(t, m, alice, "secret", "provided.al2023", "bootstrap", zip)
	layerZip, err := testfn.ZipFiles(map[string]string{"data.txt": "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"secretlayer", "lib"} {
		if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "publish-layer-version", "--layer-name", layer, "--zip-file", "fileb://"+writeFile(t, layerZip)); code != 0 {
			t.Fatalf("publish %s: %s %s", layer, out, stderr)
		}
	}
	denied := func(what string, status int, body string) {
		t.Helper()
		if status != 403 || !strings.Contains(body, "is not authorized") && !strings.Contains(body, "not allowed") {
			t.Errorf("%s: %d %s, want 403 AccessDenied", what, status, body)
		}
	}
	// Each API on the listener is its own service: a Lambda request signed
	// for SQS is refused as AWS refuses it.
	status, body := signedDo(t, m, "AKIAALICE", "a", "sqs", "GET", "/2015-03-31/functions/secret", nil, "")
	if status != 403 || !strings.Contains(body, "Credential should be scoped to correct service: 'lambda'.") {
		t.Errorf("a Lambda request signed for sqs: %d %s", status, body)
	}
	// A Qualifier UpdateFunctionConfiguration ignores does not escape a
	// deny on the function.
	status, body = signedDo(t, m, "AKIACAROL", "c", "lambda", "PUT", "/2015-03-31/functions/secret/configuration?Qualifier=x", nil, `{"Description":"changed"}`)
	denied("carol updates secret with ?Qualifier=x", status, body)
	// Another partition's spelling of the ARN is the same function.
	status, body = signedDo(t, m, "AKIACAROL", "c", "lambda", "POST", "/2017-03-31/tags/arn:aws-cn:lambda:us-east-1:000000000000:function:secret", nil, `{"Tags":{"k":"v"}}`)
	denied("carol tags secret by an aws-cn ARN", status, body)
	// However long its partition, a tag ARN names the function the tag
	// handlers act on.
	status, body = signedDo(t, m, "AKIACAROL", "c", "lambda", "POST", "/2017-03-31/tags/arn:aws"+strings.Repeat("x", 300)+":lambda:us-east-1:000000000000:function:secret",
		nil, `{"Tags":{"k":"v"}}`)
	denied("carol tags secret by an over-long ARN", status, body)
	// A layer version written "01" is version 1.
	status, body = signedDo(t, m, "AKIACAROL", "c", "lambda", "GET", "/2018-10-31/layers/secretlayer/versions/01", nil, "")
	denied("carol reads secretlayer:01", status, body)
	// A layer named by another account's ARN is that account's.
	status, body = signedDo(t, m, "AKIABOB", "b", "lambda", "GET", "/2018-10-31/layers/arn:aws:lambda:us-east-1:000000000000:layer:lib/versions/1", nil, "")
	denied("bob reads alice's layer by its ARN", status, body)
	// CreateFunction on the new function's ARN.
	if _, stderr, code := awsCLIWith(t, m, carol, "lambda", "create-function", "--function-name", "prod-x", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/any", "--zip-file", "fileb://"+zip); code == 0 ||
		!strings.Contains(stderr, "lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:prod-x with an explicit deny in an identity-based policy") {
		t.Errorf("carol creates prod-x: %d %q", code, stderr)
	}
	createAs(t, m, carol, "dev-x", "provided.al2023", "bootstrap", zip)
	// A function's layers need lambda:GetLayerVersion.
	if _, stderr, code := awsCLIWith(t, m, carol, "lambda", "update-function-configuration", "--function-name", "dev-x",
		"--layers", "arn:aws:lambda:us-east-1:000000000000:layer:secretlayer:1"); code == 0 ||
		!strings.Contains(stderr, "lambda:GetLayerVersion on resource: arn:aws:lambda:us-east-1:000000000000:layer:secretlayer:1") {
		t.Errorf("carol gives dev-x secretlayer: %d %s", code, stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, carol, "lambda", "update-function-configuration", "--function-name", "dev-x",
		"--layers", "arn:aws:lambda:us-east-1:000000000000:layer:lib:1"); code != 0 {
		t.Errorf("carol gives dev-x lib: %s %s", out, stderr)
	}
	// A role of another account cannot be passed, even by a caller who may
	// act in it.
	if _, stderr, code := awsCLIWith(t, m, alice, "lambda", "update-function-configuration", "--function-name", "secret",
		"--role", "arn:aws:iam::111111111111:role/any"); code == 0 || !strings.Contains(stderr, "Cross-account pass role is not allowed.") {
		t.Errorf("alice gives secret a role of another account: %d %s", code, stderr)
	}
	// A function's dead-letter queue and destinations are what its
	// execution role may send to.
	createAs(t, m, alice, "src", "provided.al2023", "bootstrap", zip, "--role", "arn:aws:iam::000000000000:role/sender")
	for _, tc := range []struct {
		args []string
		want string // "": allowed
	}{
		{[]string{"create-function", "--function-name", "src2", "--runtime", "provided.al2023", "--handler", "bootstrap", "--zip-file", "fileb://" + zip,
			"--role", "arn:aws:iam::000000000000:role/sender", "--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:other"},
			"(InvalidParameterValueException) when calling the CreateFunction operation: The provided execution role does not have permissions to call SendMessage on SQS"},
		{[]string{"update-function-configuration", "--function-name", "src", "--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:dlq"}, ""},
		{[]string{"update-function-configuration", "--function-name", "src", "--dead-letter-config", "TargetArn=arn:aws:sqs:us-east-1:000000000000:other"},
			"(InvalidParameterValueException) when calling the UpdateFunctionConfiguration operation: The provided execution role does not have permissions to call SendMessage on SQS"},
		{[]string{"put-function-event-invoke-config", "--function-name", "src", "--destination-config", "OnSuccess={Destination=arn:aws:lambda:us-east-1:000000000000:function:secret}"}, ""},
		{[]string{"put-function-event-invoke-config", "--function-name", "src", "--destination-config", "OnSuccess={Destination=arn:aws:lambda:us-east-1:000000000000:function:dev-x}"},
			"The function's execution role does not have permissions to call InvokeFunction on arn:aws:lambda:us-east-1:000000000000:function:dev-x"},
		{[]string{"put-function-event-invoke-config", "--function-name", "src", "--destination-config", "OnFailure={Destination=arn:aws:sqs:us-east-1:000000000000:other}"},
			"The function's execution role does not have permissions to call SendMessage on arn:aws:sqs:us-east-1:000000000000:other"},
	} {
		out, stderr, code := awsCLIWith(t, m, alice, append([]string{"lambda"}, tc.args...)...)
		switch {
		case tc.want == "" && code != 0:
			t.Errorf("%v: %s %s", tc.args[:3], out, stderr)
		case tc.want != "" && (code == 0 || !strings.Contains(stderr, tc.want)):
			t.Errorf("%v: %d %s\nwant %s", tc.args[:3], code, stderr, tc.want)
		}
	}

	// The metrics: a signature, and cloudwatch:GetMetricData.
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned /metrics: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	if status, body := signedDo(t, m, "AKIAALICE", "a", "lambda", "GET", "/metrics", nil, ""); status != 200 || !strings.Contains(body, "aws_lambda_invocations_total") && !strings.Contains(body, "lambada_environments") {
		t.Errorf("alice's /metrics: %d %.200s", status, body)
	}
	status, body = signedDo(t, m, "AKIADAN", "d", "lambda", "GET", "/metrics", nil, "")
	denied("dan's /metrics", status, body)
	// They name every account's functions: another account's principal,
	// allowed everything in its own, may not read them.
	status, body = signedDo(t, m, "AKIABOB", "b", "lambda", "GET", "/metrics", nil, "")
	denied("bob's /metrics", status, body)
}
