package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada/internal/testfn"
)

// With --auth each principal acts in its own account: two accounts each
// create a function of the same name, and each sees, invokes, limits and
// deletes its own; ARNs carry the account; a caller of one account reaches
// the other's function only by its ARN, and only as policies allow.
func TestAuth_Accounts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	allowAll := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	principals := []map[string]any{
		{"accessKeyId": "AKIAALICE", "secretAccessKey": "a", "account": "000000000000", "arn": "arn:aws:iam::000000000000:user/alice", "policies": []any{allowAll}},
		{"accessKeyId": "AKIAERIN", "secretAccessKey": "e", "account": "111111111111", "arn": "arn:aws:iam::111111111111:user/erin", "policies": []any{allowAll}},
		{"accessKeyId": "AKIAFRANK", "secretAccessKey": "f", "account": "111111111111", "arn": "arn:aws:iam::111111111111:user/frank",
			"policies": []any{json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111111111111:function:fn"}]}`)}},
	}
	b, _ := json.Marshal(map[string]any{"principals": principals})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	erin := []string{"AWS_ACCESS_KEY_ID=AKIAERIN", "AWS_SECRET_ACCESS_KEY=e"}
	frank := []string{"AWS_ACCESS_KEY_ID=AKIAFRANK", "AWS_SECRET_ACCESS_KEY=f"}
	zip := writeFile(t, fnZip)
	createAs(t, m, alice, "fn", "provided.al2023", "bootstrap", zip, "--environment", "Variables={WHO=alice}")
	createAs(t, m, erin, "fn", "provided.al2023", "bootstrap", zip, "--environment", "Variables={WHO=erin}", "--role", "arn:aws:iam::111111111111:role/any")
	const aliceARN, erinARN = "arn:aws:lambda:us-east-1:000000000000:function:fn", "arn:aws:lambda:us-east-1:111111111111:function:fn"
	// A role of another account may not be passed: erin's function may not
	// act as alice's account.
	if _, stderr, code := awsCLIWith(t, m, erin, "lambda", "create-function", "--function-name", "borrowed", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/any", "--zip-file", "fileb://"+zip); code == 0 ||
		!strings.Contains(stderr, "(AccessDeniedException) when calling the CreateFunction operation: Cross-account pass role is not allowed.") {
		t.Errorf("erin passes a role of alice's account: %d %s", code, stderr)
	}

	cli := func(who []string, args ...string) string {
		t.Helper()
		out, stderr, code := awsCLIWith(t, m, who, args...)
		if code != 0 {
			t.Fatalf("%v: %s %s", args, out, stderr)
		}
		return out
	}
	// Each lists and gets its own.
	for _, tc := range []struct {
		who []string
		arn string
	}{{alice, aliceARN}, {erin, erinARN}} {
		var list struct {
			Functions []struct{ FunctionArn string }
		}
		if err := json.Unmarshal([]byte(cli(tc.who, "lambda", "list-functions")), &list); err != nil || len(list.Functions) != 1 || list.Functions[0].FunctionArn != tc.arn {
			t.Errorf("%s lists %+v (%v)", tc.arn, list, err)
		}
		var got struct{ Configuration struct{ FunctionArn string } }
		if err := json.Unmarshal([]byte(cli(tc.who, "lambda", "get-function", "--function-name", "fn")), &got); err != nil || got.Configuration.FunctionArn != tc.arn {
			t.Errorf("%s gets %+v (%v)", tc.arn, got, err)
		}
	}
	// Each invokes its own: its environment, its ARN.
	outfile := filepath.Join(t.TempDir(), "out.json")
	invoked := func(who []string, name string) (echoed, string) {
		t.Helper()
		out, stderr, code := awsCLIWith(t, m, who, "lambda", "invoke", "--function-name", name,
			"--payload", `{"action":"echo"}`, outfile)
		var e echoed
		if code == 0 {
			b, _ := os.ReadFile(outfile)
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("%s: %s", name, b)
			}
			return e, ""
		}
		return e, fmt.Sprintf("exit %d: %s%s", code, out, stderr)
	}
	for _, tc := range []struct {
		who       []string
		name, arn string
		env       string
	}{{alice, "fn", aliceARN, "alice"}, {erin, "fn", erinARN, "erin"}, {frank, "fn", erinARN, "erin"}} {
		e, failed := invoked(tc.who, tc.name)
		if failed != "" || e.Env["WHO"] != tc.env || e.InvokedArn != tc.arn || e.Env["AWS_LAMBDA_FUNCTION_NAME"] != "fn" {
			b, _ := os.ReadFile(outfile)
			t.Errorf("%s invokes %s: WHO=%q, %s %s %s", tc.who[0], tc.name, e.Env["WHO"], e.InvokedArn, failed, b)
		}
	}
	// frank may invoke only his account's fn; erin's identity policy
	// allows her alice's fn, whose policy does not.
	if _, failed := invoked(frank, aliceARN); !strings.Contains(failed, "User: arn:aws:iam::111111111111:user/frank is not authorized to perform: lambda:InvokeFunction on resource: "+aliceARN) {
		t.Errorf("frank invokes alice's fn: %s", failed)
	}
	if _, failed := invoked(erin, aliceARN); !strings.Contains(failed, "because no resource-based policy allows the lambda:InvokeFunction action") {
		t.Errorf("erin invokes alice's fn: %s", failed)
	}
	// Once erin's function's policy names alice's account, alice may
	// invoke it by its ARN.
	if _, failed := invoked(alice, erinARN); !strings.Contains(failed, "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: lambda:InvokeFunction on resource: "+erinARN+" because no resource-based policy allows") {
		t.Errorf("alice invokes erin's fn before erin allows it: %s", failed)
	}
	cli(erin, "lambda", "add-permission", "--function-name", "fn", "--statement-id", "alice", "--action", "lambda:InvokeFunction", "--principal", "000000000000")
	if e, failed := invoked(alice, erinARN); failed != "" || e.Env["WHO"] != "erin" || e.InvokedArn != erinARN {
		t.Errorf("alice invokes erin's fn, allowed by both: %q %s %s", e.Env["WHO"], e.InvokedArn, failed)
	}

	// Each account has its own concurrency limit: both may reserve all
	// but the unreserved minimum of theirs.
	var settings struct {
		AccountLimit struct{ ConcurrentExecutions int }
	}
	if err := json.Unmarshal([]byte(cli(alice, "lambda", "get-account-settings")), &settings); err != nil {
		t.Fatal(err)
	}
	reserve := settings.AccountLimit.ConcurrentExecutions - 100
	for _, who := range [][]string{alice, erin} {
		if out, stderr, code := awsCLIWith(t, m, who, "lambda", "put-function-concurrency", "--function-name", "fn",
			"--reserved-concurrent-executions", strconv.Itoa(reserve)); code != 0 {
			t.Errorf("%s reserves %d: %s %s", who[0], reserve, out, stderr)
		}
	}
	var erinSettings struct {
		AccountLimit struct{ UnreservedConcurrentExecutions int }
	}
	if err := json.Unmarshal([]byte(cli(erin, "lambda", "get-account-settings")), &erinSettings); err != nil || erinSettings.AccountLimit.UnreservedConcurrentExecutions != 100 {
		t.Errorf("erin's unreserved: %+v %v", erinSettings, err)
	}

	// Layers are the account's too: both publish "lib", each sees its own.
	layerZip, err := testfn.ZipFiles(map[string]string{"lib/data.txt": "x"})
	if err != nil {
		t.Fatal(err)
	}
	layerFile := writeFile(t, layerZip)
	for _, tc := range []struct {
		who     []string
		account string
	}{{alice, "000000000000"}, {erin, "111111111111"}} {
		cli(tc.who, "lambda", "publish-layer-version", "--layer-name", "lib", "--zip-file", "fileb://"+layerFile)
		var list struct{ Layers []struct{ LayerArn string } }
		want := "arn:aws:lambda:us-east-1:" + tc.account + ":layer:lib"
		if err := json.Unmarshal([]byte(cli(tc.who, "lambda", "list-layers")), &list); err != nil || len(list.Layers) != 1 || list.Layers[0].LayerArn != want {
			t.Errorf("%s lists layers %+v, want only %s (%v)", tc.who[0], list, want, err)
		}
		var got struct{ LayerVersionArn string }
		if err := json.Unmarshal([]byte(cli(tc.who, "lambda", "get-layer-version", "--layer-name", "lib", "--version-number", "1")), &got); err != nil || got.LayerVersionArn != want+":1" {
			t.Errorf("%s gets its lib: %+v (%v)", tc.who[0], got, err)
		}
	}
	cli(erin, "lambda", "update-function-configuration", "--function-name", "fn", "--layers", "arn:aws:lambda:us-east-1:111111111111:layer:lib:1")
	if out, stderr, code := awsCLIWith(t, m, alice, "lambda", "update-function-configuration", "--function-name", "fn",
		"--layers", "arn:aws:lambda:us-east-1:111111111111:layer:lib:1"); code == 0 || !strings.Contains(stderr, "Layer version arn:aws:lambda:us-east-1:111111111111:layer:lib:1 does not exist.") {
		t.Errorf("alice uses erin's layer: %s %s", out, stderr)
	}

	// So are queues: each account's "q" is its own.
	sqs := func(who []string, args ...string) string {
		t.Helper()
		return cli(who, append(append([]string{"sqs"}, args...), "--endpoint-url", "http://"+m.Addr())...)
	}
	queueURL := func(account string) string { return "http://" + m.Addr() + "/" + account + "/q" }
	for _, tc := range []struct {
		who     []string
		account string
	}{{alice, "000000000000"}, {erin, "111111111111"}} {
		var created, list struct {
			QueueUrl  string
			QueueUrls []string
		}
		_ = json.Unmarshal([]byte(sqs(tc.who, "create-queue", "--queue-name", "q")), &created)
		_ = json.Unmarshal([]byte(sqs(tc.who, "list-queues")), &list)
		if created.QueueUrl != queueURL(tc.account) || len(list.QueueUrls) != 1 || list.QueueUrls[0] != queueURL(tc.account) {
			t.Errorf("%s's queue: created %s, listed %v", tc.who[0], created.QueueUrl, list.QueueUrls)
		}
	}
	sqs(erin, "send-message", "--queue-url", queueURL("111111111111"), "--message-body", "erin's")
	var received struct{ Messages []struct{ Body string } }
	if err := json.Unmarshal([]byte(sqs(alice, "receive-message", "--queue-url", queueURL("000000000000"))), &received); err == nil && len(received.Messages) > 0 {
		t.Errorf("alice's q got erin's message: %+v", received)
	}
	if err := json.Unmarshal([]byte(sqs(erin, "receive-message", "--queue-url", queueURL("111111111111"))), &received); err != nil || len(received.Messages) != 1 || received.Messages[0].Body != "erin's" {
		t.Errorf("erin's q: %+v %v", received, err)
	}
	if out, stderr, code := awsCLIWith(t, m, alice, "sqs", "send-message", "--queue-url", queueURL("111111111111"), "--message-body", "x",
		"--endpoint-url", "http://"+m.Addr()); code == 0 || !strings.Contains(stderr, "(AccessDenied)") {
		t.Errorf("alice sends to erin's q: %s %s", out, stderr)
	}

	// erin deletes her fn; alice's stays.
	cli(erin, "lambda", "delete-function", "--function-name", "fn")
	if _, failed := invoked(erin, "fn"); !strings.Contains(failed, "Function not found: "+erinARN) {
		t.Errorf("erin's fn after its deletion: %s", failed)
	}
	if e, failed := invoked(alice, "fn"); failed != "" || e.Env["WHO"] != "alice" {
		t.Errorf("alice's fn after erin's deletion: %q %s", e.Env["WHO"], failed)
	}
}
