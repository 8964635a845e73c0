package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSQS_Boto3 runs testdata/sqs.py: every operation through boto3 (AWS
// JSON 1.0), one subtest per case.
func TestSQS_Boto3(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	runCases(t, "testdata/sqs.py", 7, "LAMBADA_ENDPOINT=http://"+m.Addr())
}

// TestSQS_CLI drives a queue with the real AWS CLI (a few calls: each costs
// nearly a second; TestSQS_Boto3 covers the rest). aws-cli v1 sends SQS
// requests in us-east-1 to queue.amazonaws.com whatever AWS_ENDPOINT_URL
// says (awscli/customizations/overridesslcommonname.py): only
// --endpoint-url reaches the node.
func TestSQS_CLI(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	sqs := func(args ...string) (map[string]any, string, int) {
		t.Helper()
		stdout, stderr, code := awsCLI(t, m, append([]string{"sqs", "--endpoint-url", "http://" + m.Addr()}, args...)...)
		out := map[string]any{}
		if strings.TrimSpace(stdout) != "" {
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("aws sqs %v printed %q", args, stdout)
			}
		}
		return out, stderr, code
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		out, stderr, code := sqs(args...)
		if code != 0 {
			t.Fatalf("aws sqs %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	queueURL := "http://" + m.Addr() + "/000000000000/cli"
	if out := must("create-queue", "--queue-name", "cli", "--attributes", "VisibilityTimeout=1"); out["QueueUrl"] != queueURL {
		t.Fatalf("create-queue: %v", out)
	}
	// A name is a queue's name: no "<account>/" of the store's keys.
	if _, stderr, code := sqs("create-queue", "--queue-name", "111111111111/cli"); code == 0 || !strings.Contains(stderr, "InvalidParameterValue") {
		t.Errorf("create-queue 111111111111/cli: %d %s", code, stderr)
	}
	sent := must("send-message", "--queue-url", queueURL, "--message-body", "hello",
		"--message-attributes", `{"kind":{"DataType":"String","StringValue":"greeting"}}`)
	if sum := md5.Sum([]byte("hello")); sent["MD5OfMessageBody"] != hex.EncodeToString(sum[:]) || sent["MD5OfMessageAttributes"] == nil {
		t.Fatalf("send-message: %v", sent)
	}
	receive := func(wait string) map[string]any {
		t.Helper()
		out := must("receive-message", "--queue-url", queueURL, "--attribute-names", "All", "--message-attribute-names", "All", "--wait-time-seconds", wait)
		msgs, _ := out["Messages"].([]any)
		if len(msgs) == 0 {
			return nil
		}
		return msgs[0].(map[string]any)
	}
	got := receive("5")
	if got == nil || got["Body"] != "hello" || got["MD5OfMessageAttributes"] != sent["MD5OfMessageAttributes"] || got["Attributes"].(map[string]any)["ApproximateReceiveCount"] != "1" {
		t.Fatalf("receive-message: %v", got)
	}
	must("delete-message", "--queue-url", queueURL, "--receipt-handle", got["ReceiptHandle"].(string))
	attrs := must("get-queue-attributes", "--queue-url", queueURL, "--attribute-names", "All")["Attributes"].(map[string]any)
	if attrs["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:cli" || attrs["VisibilityTimeout"] != "1" ||
		attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("get-queue-attributes: %v", attrs)
	}
	must("delete-queue", "--queue-url", queueURL)
	_, stderr, code := sqs("get-queue-url", "--queue-name", "cli")
	if code == 0 || !strings.Contains(stderr, "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: The specified queue does not exist.") {
		t.Fatalf("get-queue-url of a deleted queue: %d %s", code, stderr)
	}
}

// TestSQS_Query speaks the query protocol as older SDKs do: form-encoded
// POSTs to / and to the queue's URL, answered in XML.
func TestSQS_Query(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	base := "http://" + m.Addr()
	post := func(path string, form url.Values) (int, []byte) {
		t.Helper()
		form.Set("Version", "2012-11-05")
		resp, err := http.Post(base+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	decode := func(b []byte, v any) {
		t.Helper()
		if err := xml.Unmarshal(b, v); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}

	status, b := post("/", url.Values{"Action": {"CreateQueue"}, "QueueName": {"query"}, "Attribute.1.Name": {"VisibilityTimeout"}, "Attribute.1.Value": {"5"}})
	var created struct {
		QueueURL  string `xml:"CreateQueueResult>QueueUrl"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	decode(b, &created)
	if status != 200 || created.QueueURL != base+"/000000000000/query" || created.RequestID == "" {
		t.Fatalf("CreateQueue: %d %s", status, b)
	}
	path := "/000000000000/query"
	status, b = post(path, url.Values{"Action": {"SendMessage"}, "MessageBody": {"via query"},
		"MessageAttribute.1.Name": {"color"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"red"},
		"MessageAttribute.2.Name": {"raw"}, "MessageAttribute.2.Value.DataType": {"Binary"}, "MessageAttribute.2.Value.BinaryValue": {"AAH/"}})
	var sent struct {
		MD5Body  string `xml:"SendMessageResult>MD5OfMessageBody"`
		MD5Attrs string `xml:"SendMessageResult>MD5OfMessageAttributes"`
		ID       string `xml:"SendMessageResult>MessageId"`
	}
	decode(b, &sent)
	if sum := md5.Sum([]byte("via query")); status != 200 || sent.MD5Body != hex.EncodeToString(sum[:]) || sent.MD5Attrs == "" || sent.ID == "" {
		t.Fatalf("SendMessage: %d %s", status, b)
	}

	status, b = post(path, url.Values{"Action": {"ReceiveMessage"}, "AttributeName.1": {"ApproximateReceiveCount"},
		"MessageAttributeName.1": {"All"}, "WaitTimeSeconds": {"5"}, "MaxNumberOfMessages": {"10"}})
	type msgAttr struct {
		Name  string
		Value struct{ DataType, StringValue, BinaryValue string }
	}
	var received struct {
		Messages []struct {
			ID                string    `xml:"MessageId"`
			Handle            string    `xml:"ReceiptHandle"`
			Text              string    `xml:"Body"`
			MD5Attrs          string    `xml:"MD5OfMessageAttributes"`
			Attributes        []attr    `xml:"Attribute"`
			MessageAttributes []msgAttr `xml:"MessageAttribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	decode(b, &received)
	if status != 200 || len(received.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %d %s", status, b)
	}
	got := received.Messages[0]
	if got.ID != sent.ID || got.Text != "via query" || got.MD5Attrs != sent.MD5Attrs || len(got.Attributes) != 1 || got.Attributes[0] != (attr{"ApproximateReceiveCount", "1"}) ||
		len(got.MessageAttributes) != 2 || got.MessageAttributes[0].Name != "color" || got.MessageAttributes[1].Value.BinaryValue != "AAH/" {
		t.Fatalf("ReceiveMessage: %s", b)
	}

	status, b = post("/", url.Values{"Action": {"DeleteMessage"}, "QueueUrl": {created.QueueURL}, "ReceiptHandle": {got.Handle}})
	if status != 200 || !bytes.Contains(b, []byte("<DeleteMessageResponse")) {
		t.Fatalf("DeleteMessage: %d %s", status, b)
	}
	status, b = post(path, url.Values{"Action": {"GetQueueAttributes"}, "AttributeName.1": {"All"}})
	var attrs struct {
		Attributes []attr `xml:"GetQueueAttributesResult>Attribute"`
	}
	decode(b, &attrs)
	if status != 200 || !containsAttr(attrs.Attributes, "VisibilityTimeout", "5") || !containsAttr(attrs.Attributes, "ApproximateNumberOfMessagesNotVisible", "0") {
		t.Fatalf("GetQueueAttributes: %d %s", status, b)
	}

	status, b = post("/000000000000/missing", url.Values{"Action": {"SendMessage"}, "MessageBody": {"x"}})
	var failed struct {
		Type      string `xml:"Error>Type"`
		Code      string `xml:"Error>Code"`
		Message   string `xml:"Error>Message"`
		RequestID string `xml:"RequestId"`
	}
	decode(b, &failed)
	if status != 400 || failed.Type != "Sender" || failed.Code != "AWS.SimpleQueueService.NonExistentQueue" || failed.Message != "The specified queue does not exist." || failed.RequestID == "" {
		t.Fatalf("SendMessage to a missing queue: %d %s", status, b)
	}

	// A form the Lambda API receives is still the Lambda API's.
	status, b = post("/2015-03-31/functions", url.Values{"Action": {"NotSQS"}})
	if status == 200 || bytes.Contains(b, []byte("ErrorResponse")) {
		t.Fatalf("a non-SQS form: %d %s", status, b)
	}
}

// attr is a query protocol <Attribute>.
type attr struct{ Name, Value string }

func containsAttr(attrs []attr, name, value string) bool {
	for _, a := range attrs {
		if a.Name == name && a.Value == value {
			return true
		}
	}
	return false
}
