package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada/lambdaapi"
)

// With --auth the SQS API is decided by identity-based policies too (the
// action sqs:<Operation> on the queue's ARN, * for ListQueues), and its
// refusals, of a signature or of a policy, come in SQS's own error shapes:
// through the AWS CLI (SQS's JSON protocol) and in XML to a form-encoded
// request (its query protocol).
func TestAuth_SQS(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "auth.json")
	qARN := "arn:aws:sqs:us-east-1:000000000000:q"
	authFileWith(t, path, map[string]string{"AKIAALICE": "a", "AKIACAROL": "c"}, map[string]string{
		"AKIAALICE": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`,
		"AKIACAROL": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sqs:GetQueueUrl"],"Resource":"` + qARN + `"}]}`,
	})
	m := MustOpenMain(t, "", func(m *Main) { m.Auth = path })
	alice := []string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=a"}
	carol := []string{"AWS_ACCESS_KEY_ID=AKIACAROL", "AWS_SECRET_ACCESS_KEY=c"}
	queueURL := func(name string) string { return "http://" + m.Addr() + "/000000000000/" + name }
	for _, name := range []string{"q", "q2"} {
		if out, stderr, code := awsCLIWith(t, m, alice, "sqs", "create-queue", "--queue-name", name, "--endpoint-url", "http://"+m.Addr()); code != 0 {
			t.Fatalf("alice creates %s: %s %s", name, out, stderr)
		}
	}
	denied := func(op, action, resource string) string {
		return "An error occurred (AccessDenied) when calling the " + op + " operation: User: arn:aws:iam::000000000000:user/akiacarol is not authorized to perform: " +
			action + " on resource: " + resource + " because no identity-based policy allows the " + action + " action"
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string // "": allowed; else the CLI's error
	}{
		{carol, []string{"sqs", "send-message", "--queue-url", queueURL("q"), "--message-body", "hi"}, ""},
		{carol, []string{"sqs", "get-queue-url", "--queue-name", "q"}, ""},
		{carol, []string{"sqs", "send-message", "--queue-url", queueURL("q2"), "--message-body", "hi"}, denied("SendMessage", "sqs:SendMessage", qARN+"2")},
		{carol, []string{"sqs", "receive-message", "--queue-url", queueURL("q")}, denied("ReceiveMessage", "sqs:ReceiveMessage", qARN)},
		{carol, []string{"sqs", "list-queues"}, denied("ListQueues", "sqs:ListQueues", "*")},
		{alice, []string{"sqs", "receive-message", "--queue-url", queueURL("q")}, ""},
		{[]string{"AWS_ACCESS_KEY_ID=AKIAALICE", "AWS_SECRET_ACCESS_KEY=guess"}, []string{"sqs", "list-queues"},
			"An error occurred (SignatureDoesNotMatch) when calling the ListQueues operation: The request signature we calculated does not match"},
		{[]string{"AWS_ACCESS_KEY_ID=AKIAMALLORY", "AWS_SECRET_ACCESS_KEY=x"}, []string{"sqs", "list-queues"},
			"An error occurred (InvalidClientTokenId) when calling the ListQueues operation: The security token included in the request is invalid."},
		{alice, []string{"sqs", "list-queues", "--no-sign-request"},
			"An error occurred (MissingAuthenticationToken) when calling the ListQueues operation: Missing Authentication Token"},
	} {
		// The AWS CLI here takes no AWS_ENDPOINT_URL for SQS: the URL is given.
		out, stderr, code := awsCLIWith(t, m, tc.env, append(tc.args, "--endpoint-url", "http://"+m.Addr())...)
		switch {
		case tc.want == "" && code != 0:
			t.Errorf("%s: %s %s", tc.args[:2], out, stderr)
		case tc.want != "" && (code == 0 || !strings.Contains(stderr, tc.want)):
			t.Errorf("%s: %d %s %s\nwant %s", tc.args[:2], code, out, stderr, tc.want)
		}
	}

	// A queue the request does not name plainly is decided on the
	// caller's account's "*", never let through: a CreateQueue with a junk
	// QueueUrl beside its QueueName, and an unsigned one posted to the code
	// links' path.
	if out, stderr, code := awsCLIWith(t, m, carol, "sqs", "create-queue", "--queue-name", "carols", "--endpoint-url", "http://"+m.Addr()); code == 0 ||
		!strings.Contains(stderr, "(AccessDenied)") {
		t.Errorf("carol creates a queue: %s %s", out, stderr)
	}
	sqsJSON := map[string]string{"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"}
	if status, body := signedDo(t, m, "AKIACAROL", "c", "sqs", "POST", "/", sqsJSON, `{"QueueName":"carols","QueueUrl":"x"}`); status != 403 ||
		!strings.Contains(body, "AccessDenied") {
		t.Errorf("carol creates a queue with a junk QueueUrl beside: %d %s", status, body)
	}
	if status, body := signedDo(t, m, "", "", "", "POST", lambdaapi.CodePath+"x", sqsJSON, `{"QueueName":"pwned","QueueUrl":"x"}`); status != 403 ||
		!strings.Contains(body, "MissingAuthenticationToken") {
		t.Errorf("an unsigned CreateQueue on the code links' path: %d %s", status, body)
	}

	// The query protocol's answers are XML.
	query := func(key, secret string, form url.Values) (int, string) {
		return signedDo(t, m, key, secret, "sqs", "POST", "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
	}
	receive := url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {queueURL("q")}}
	if status, body := query("AKIACAROL", "c", receive); status != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") ||
		!strings.Contains(body, "is not authorized to perform: sqs:ReceiveMessage on resource: "+qARN) {
		t.Errorf("carol receives, query protocol: %d %s", status, body)
	}
	if status, body := query("AKIACAROL", "guess", receive); status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("a wrong secret, query protocol: %d %s", status, body)
	}
	if status, body := query("AKIAALICE", "a", receive); status != 200 || !strings.Contains(body, "<ReceiveMessageResponse") {
		t.Errorf("alice receives, query protocol: %d %s", status, body)
	}
}
