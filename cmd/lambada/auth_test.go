package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/internal/poll"
)

// authFile writes an --auth file of principals (access key → secret),
// each of account 000000000000 and allowed everything.
func authFile(t *testing.T, path string, keys map[string]string) {
	t.Helper()
	policies := map[string]string{}
	for id := range keys {
		policies[id] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	}
	authFileWith(t, path, keys, policies)
}

// authFileWith is authFile with each principal's policy (access key →
// policy document).
func authFileWith(t *testing.T, path string, keys, policies map[string]string) {
	t.Helper()
	type principal struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		Account         string `json:"account"`
		ARN             string `json:"arn"`
		Policies        []any  `json:"policies"`
	}
	var f struct {
		Principals []principal `json:"principals"`
	}
	for id, secret := range keys {
		f.Principals = append(f.Principals, principal{id, secret, "000000000000", "arn:aws:iam::000000000000:user/" + strings.ToLower(id),
			[]any{json.RawMessage(policies[id])}})
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// With --auth, every request must be signed with a principal's key:
// through the AWS CLI and boto3, a good key works, for Lambda and SQS; a
// wrong secret, an unknown key, no signature and a signature for another
// region get AWS's errors. Code links need no signature. The file is read
// again on demand.
func TestAuth(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	authFile(t, path, map[string]string{"AKIAALICE": "alice-secret"})
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=alice-secret"}
	createAs(t, m, alice, "fn", "provided.al2023", "bootstrap", writeFile(t, fnZip))
	if out, stderr, code := awsCLIWith(t, m, alice, "sqs", "list-queues", "--endpoint-url", "http://"+m.Addr()); code != 0 {
		t.Errorf("alice, SQS: %s %s", out, stderr)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong secret", []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=guess"}, nil,
			"An error occurred (InvalidSignatureException) when calling the GetFunction operation: The request signature we calculated does not match the signature you provided."},
		{"unknown key", []string{"AWS_ACCESS_KEY_ID=AKIAMALLORY", "AWS_SECRET_ACCESS_KEY=x"}, nil,
			"An error occurred (UnrecognizedClientException) when calling the GetFunction operation: The security token included in the request is invalid."},
		{"no signature", alice, []string{"--no-sign-request"},
			"An error occurred (MissingAuthenticationTokenException) when calling the GetFunction operation: Missing Authentication Token"},
		{"another region", append(alice, "AWS_DEFAULT_REGION=eu-west-1"), nil,
			"An error occurred (InvalidSignatureException) when calling the GetFunction operation: Credential should be scoped to a valid region."},
	} {
		_, stderr, code := awsCLIWith(t, m, tc.env, append([]string{"lambda", "get-function", "--function-name", "fn"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: %d %s\nwant %s", tc.name, code, stderr, tc.want)
		}
	}

	// boto3, as a Python program would call.
	script := `
import sys, boto3, botocore
def call(key, secret):
    c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
                     config=botocore.config.Config(retries={"max_attempts": 0}))
    try:
        return c.get_function(FunctionName="fn")["Configuration"]["FunctionName"]
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
print(call("AKIAALICE", "alice-secret"), call("AKIAALICE", "guess"), call("AKIAMALLORY", "x"))

# Presigned URLs (generate_presigned_url): a good one, a wrong secret's,
# and one that expires after a second, fetched until it has.
import json, time, urllib.request, urllib.error
def fetch(url):
    try:
        with urllib.request.urlopen(url) as r:
            return json.load(r)["Configuration"]["FunctionName"]
    except urllib.error.HTTPError as e:
        return e.headers["x-amzn-ErrorType"] + ": " + json.load(e)["message"]
def presign(key, secret, expires):
    c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    return c.generate_presigned_url("get_function", Params={"FunctionName": "fn"}, ExpiresIn=expires)
print(fetch(presign("AKIAALICE", "alice-secret", 60)), fetch(presign("AKIAALICE", "guess", 60)).split(":")[0])
short, deadline = presign("AKIAALICE", "alice-secret", 1), time.monotonic() + 10
while time.monotonic() < deadline:
    got = fetch(short)
    if got != "fn":
        break
    time.sleep(0.05)
print(got)
`
	out, err := exec.Command("python3", "-c", script, "http://"+m.Addr()).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	switch {
	case err != nil || len(lines) != 3:
		t.Errorf("boto3: %v %s", err, out)
	case lines[0] != "fn InvalidSignatureException UnrecognizedClientException":
		t.Errorf("boto3: %s", lines[0])
	case lines[1] != "fn InvalidSignatureException":
		t.Errorf("boto3's presigned URLs: %s", lines[1])
	case !strings.HasPrefix(lines[2], "InvalidSignatureException: Signature expired: "):
		t.Errorf("boto3's presigned URL after it expired: %s", lines[2])
	}

	// GetFunction's code link carries a signature of its own.
	stdout, stderr, code := awsCLIWith(t, m, alice, "lambda", "get-function", "--function-name", "fn")
	var got struct{ Code struct{ Location string } }
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil {
		t.Fatalf("get-function: %s %s", stdout, stderr)
	}
	resp, err := http.Get(got.Code.Location)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("the code link: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	// Read again: alice gone, bob there.
	authFile(t, path, map[string]string{"AKIABOB": "bob-secret"})
	if err := m.ReloadAuth(); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := awsCLIWith(t, m, alice, "lambda", "get-function", "--function-name", "fn"); code == 0 || !strings.Contains(stderr, "UnrecognizedClientException") {
		t.Errorf("alice after she left: %d %s", code, stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, []string{"AWS_ACCESS_KEY_ID=AKIABOB", "AWS_SECRET_ACCESS_KEY=bob-secret"}, "lambda", "get-function", "--function-name", "fn"); code != 0 {
		t.Errorf("bob: %s %s", out, stderr)
	}
}

// lambada serve reads --auth again on SIGHUP.
func TestAuth_SIGHUP(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	authFile(t, path, map[string]string{"AKIAALICE": "alice-secret"})
	s, _ := childNode(t, t.TempDir(), "--auth", path)
	defer s.Close()
	as := func(key, secret string) error {
		c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), RetryMaxAttempts: 1})
		_, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
		return err
	}
	if err := as("AKIAALICE", "alice-secret"); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := as("AKIABOB", "bob-secret"); apiErrorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("bob before: %v", err)
	}
	authFile(t, path, map[string]string{"AKIAALICE": "alice-secret", "AKIABOB": "bob-secret"})
	if err := syscall.Kill(s.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "bob is let in", func() bool { return as("AKIABOB", "bob-secret") == nil })
}

// writeFile writes b to a temporary file and returns its path.
func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("f%d", len(b)))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Identity-based policies decide every call: one user may invoke a
// function and nothing else, so DryRun says 204 for it and 403 for
// another function; another is allowed everything but a deny. Giving a
// function a role needs iam:PassRole on it.
func TestAuth_Policies(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	fnARN := "arn:aws:lambda:us-east-1:000000000000:function:fn"
	authFileWith(t, path, map[string]string{"AKIAALICE": "a", "AKIACAROL": "c", "AKIADAVE": "d", "AKIAPAT": "p"}, map[string]string{
		"AKIAALICE": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"}]}`,
		"AKIAPAT":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}`,
		"AKIACAROL": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":["` + fnARN + `","` + fnARN + `:*"]}]}`,
		"AKIADAVE":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"lambda:Delete*","Resource":"*"}]}`,
	})
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	as := func(id string) []string {
		return []string{"AWS_ACCESS_KEY_ID=AKIA" + id, "AWS_SECRET_ACCESS_KEY=" + strings.ToLower(id[:1])}
	}
	for _, name := range []string{"fn", "other"} {
		createAs(t, m, as("ALICE"), name, "provided.al2023", "bootstrap", writeFile(t, fnZip))
	}
	// pat may do anything in Lambda but pass a role.
	passRole := "An error occurred (AccessDeniedException) when calling the %s operation: User: arn:aws:iam::000000000000:user/akiapat is not authorized to perform: " +
		"iam:PassRole on resource: arn:aws:iam::000000000000:role/any because no identity-based policy allows the iam:PassRole action"
	if _, stderr, code := awsCLIWith(t, m, as("PAT"), "lambda", "create-function", "--function-name", "pats", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/any", "--zip-file", "fileb://"+writeFile(t, fnZip)); code == 0 ||
		!strings.Contains(stderr, fmt.Sprintf(passRole, "CreateFunction")) {
		t.Errorf("pat creates a function: %d %s", code, stderr)
	}
	if _, stderr, code := awsCLIWith(t, m, as("PAT"), "lambda", "update-function-configuration", "--function-name", "fn",
		"--role", "arn:aws:iam::000000000000:role/any"); code == 0 || !strings.Contains(stderr, fmt.Sprintf(passRole, "UpdateFunctionConfiguration")) {
		t.Errorf("pat gives fn a role: %d %s", code, stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, as("PAT"), "lambda", "update-function-configuration", "--function-name", "fn", "--timeout", "5"); code != 0 {
		t.Errorf("pat changes fn's timeout: %s %s", out, stderr)
	}
	outfile := filepath.Join(t.TempDir(), "out.json")
	denied := func(who, action, resource, because string) string {
		op := strings.TrimPrefix(action, "lambda:")
		if op == "InvokeFunction" {
			op = "Invoke" // the API's name of the operation
		}
		return "An error occurred (AccessDeniedException) when calling the " + op + " operation: User: arn:aws:iam::000000000000:user/akia" +
			strings.ToLower(who) + " is not authorized to perform: " + action + " on resource: " + resource + " " + because
	}
	for _, tc := range []struct {
		who  string
		args []string
		want string // "": allowed; else the CLI's error
	}{
		{"CAROL", []string{"lambda", "invoke", "--function-name", "fn", outfile}, ""},
		{"CAROL", []string{"lambda", "invoke", "--function-name", "fn", "--qualifier", "$LATEST", outfile}, ""},
		{"CAROL", []string{"lambda", "invoke", "--function-name", "fn", "--invocation-type", "DryRun", outfile}, ""},
		{"CAROL", []string{"lambda", "invoke", "--function-name", "other", outfile},
			denied("CAROL", "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:other", "because no identity-based policy allows the lambda:InvokeFunction action")},
		{"CAROL", []string{"lambda", "invoke", "--function-name", "other", "--invocation-type", "DryRun", outfile},
			denied("CAROL", "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:other", "because no identity-based policy allows the lambda:InvokeFunction action")},
		{"CAROL", []string{"lambda", "get-function", "--function-name", "fn"},
			denied("CAROL", "lambda:GetFunction", fnARN, "because no identity-based policy allows the lambda:GetFunction action")},
		{"DAVE", []string{"lambda", "get-function", "--function-name", "fn"}, ""},
		{"DAVE", []string{"lambda", "delete-function", "--function-name", "fn"},
			denied("DAVE", "lambda:DeleteFunction", fnARN, "with an explicit deny in an identity-based policy")},
	} {
		out, stderr, code := awsCLIWith(t, m, as(tc.who), tc.args...)
		switch {
		case tc.want == "" && code != 0:
			t.Errorf("%s %v: refused: %s %s", tc.who, tc.args, out, stderr)
		case tc.want != "" && (code == 0 || !strings.Contains(stderr, tc.want)):
			t.Errorf("%s %v: %d %s\nwant %s", tc.who, tc.args, code, stderr, tc.want)
		}
	}
}

// Resource-based policies (AddPermission through the AWS CLI): within the
// account a statement naming a user lets it invoke without an identity
// policy; across accounts the caller's identity policy and the function's
// policy must both allow.
func TestAuth_ResourcePolicy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	allowAll := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	authFileWith(t, path, map[string]string{"AKIAALICE": "a", "AKIAEVE": "e"}, map[string]string{
		"AKIAALICE": allowAll, "AKIAEVE": `{"Version":"2012-10-17","Statement":[]}`})
	// erin is in another account, allowed everything by her own policy.
	b, _ := os.ReadFile(path)
	var f map[string][]map[string]any
	_ = json.Unmarshal(b, &f)
	f["principals"] = append(f["principals"], map[string]any{"accessKeyId": "AKIAERIN", "secretAccessKey": "r", "account": "111111111111",
		"arn": "arn:aws:iam::111111111111:user/erin", "policies": []any{json.RawMessage(allowAll)}})
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	eve := []string{"AWS_ACCESS_KEY_ID=AKIAEVE", "AWS_SECRET_ACCESS_KEY=e"}
	erin := []string{"AWS_ACCESS_KEY_ID=AKIAERIN", "AWS_SECRET_ACCESS_KEY=r"}
	createAs(t, m, alice, "fn", "provided.al2023", "bootstrap", writeFile(t, fnZip))
	outfile := filepath.Join(t.TempDir(), "out.json")
	fnARN := "arn:aws:lambda:us-east-1:000000000000:function:fn"
	// Another account's caller names the function by its ARN: its plain
	// name is a function of the caller's own account.
	invoke := func(who []string) string {
		name := "fn"
		if who[0] == erin[0] {
			name = fnARN
		}
		_, stderr, code := awsCLIWith(t, m, who, "lambda", "invoke", "--function-name", name, outfile)
		if code == 0 {
			return ""
		}
		return stderr
	}
	if got := invoke(eve); !strings.Contains(got, "User: arn:aws:iam::000000000000:user/akiaeve is not authorized to perform: lambda:InvokeFunction on resource: "+fnARN+" because no identity-based policy allows the lambda:InvokeFunction action") {
		t.Errorf("eve before: %s", got)
	}
	if got := invoke(erin); !strings.Contains(got, "User: arn:aws:iam::111111111111:user/erin is not authorized to perform: lambda:InvokeFunction on resource: "+fnARN+" because no resource-based policy allows the lambda:InvokeFunction action") {
		t.Errorf("erin before: %s", got)
	}
	for _, p := range [][2]string{{"eve", "arn:aws:iam::000000000000:user/akiaeve"}, {"erin", "111111111111"}} {
		if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "add-permission", "--function-name", "fn", "--statement-id", p[0],
			"--action", "lambda:InvokeFunction", "--principal", p[1]); code != 0 {
			t.Fatalf("add-permission %s: %s %s", p[0], out, stderr)
		}
	}
	if got := invoke(eve); got != "" {
		t.Errorf("eve, named by the function's policy: %s", got)
	}
	if got := invoke(erin); got != "" {
		t.Errorf("erin, allowed by both: %s", got)
	}
	if _, stderr, _ := awsCLIWith(t, m, erin, "lambda", "invoke", "--function-name", "fn", outfile); !strings.Contains(stderr,
		"(ResourceNotFoundException) when calling the Invoke operation: Function not found: arn:aws:lambda:us-east-1:111111111111:function:fn:$LATEST") {
		t.Errorf("erin's own fn, which she has not created: %s", stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "get-policy", "--function-name", "fn"); code != 0 || !strings.Contains(out, `\"Sid\":\"erin\"`) {
		t.Errorf("get-policy: %s %s", out, stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "remove-permission", "--function-name", "fn", "--statement-id", "eve"); code != 0 {
		t.Fatalf("remove-permission: %s %s", out, stderr)
	}
	if got := invoke(eve); got == "" {
		t.Errorf("eve, no longer named: allowed")
	}
}

// A function calls the node with its execution role's credentials, which
// its environment gets (temporary, with a session token): it may invoke
// what its role allows, and is refused the rest.
func TestAuth_RoleCredentials(t *testing.T) {
	t.Parallel()
	// A Python with boto3, for the function (its installation is shown in
	// the walls).
	out, err := exec.Command("python3", "-c", "import sys, boto3; print(sys.executable, sys.version_info.minor)").Output()
	if err != nil {
		t.Skipf("no python3 with boto3: %v", err)
	}
	var exe string
	var minor int
	if _, err := fmt.Sscan(string(out), &exe, &minor); err != nil {
		t.Fatal(err)
	}
	runtime := fmt.Sprintf("python3.%d", minor)
	path := filepath.Join(t.TempDir(), "auth.json")
	authFileWith(t, path, map[string]string{"AKIAALICE": "a"}, map[string]string{
		"AKIAALICE": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`})
	b, _ := os.ReadFile(path)
	var f map[string][]map[string]any
	_ = json.Unmarshal(b, &f)
	target := "arn:aws:lambda:us-east-1:000000000000:function:target"
	f["principals"] = append(f["principals"], map[string]any{"account": "000000000000", "arn": "arn:aws:iam::000000000000:role/caller",
		"policies": []any{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":["` + target + `","` + target + `:*"]}]}`)}})
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path; m.RuntimePaths = map[string]string{runtime: exe} })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	for _, name := range []string{"target", "secret"} {
		createAs(t, m, alice, name, "provided.al2023", "bootstrap", writeFile(t, fnZip))
	}
	caller := `import os, boto3, botocore

def handler(event, context):
    c = boto3.client("lambda", endpoint_url=os.environ["LAMBADA_URL"], region_name="us-east-1",
                     config=botocore.config.Config(retries={"max_attempts": 0}))
    try:
        c.invoke(FunctionName=event["target"], Payload=b'{"action":"echo"}')
        return "invoked"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
`
	createAs(t, m, alice, "caller", runtime, "app.handler", zipOf(t, map[string]string{"app.py": caller}),
		"--role", "arn:aws:iam::000000000000:role/caller", "--environment", "Variables={LAMBADA_URL=http://"+m.Addr()+"}", "--timeout", "30")
	outfile := filepath.Join(t.TempDir(), "out.json")
	for target, want := range map[string]string{
		"target": `"invoked"`,
		"secret": `"AccessDeniedException: User: arn:aws:iam::000000000000:role/caller is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:secret because no identity-based policy allows the lambda:InvokeFunction action"`,
	} {
		if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "invoke", "--function-name", "caller", "--payload", `{"target":"`+target+`"}`, outfile); code != 0 {
			t.Fatalf("invoke caller: %s %s", out, stderr)
		}
		if b, _ := os.ReadFile(outfile); string(b) != want {
			t.Errorf("the function invoking %s got %s\nwant %s", target, b, want)
		}
	}
}
