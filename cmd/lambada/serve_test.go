package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/lambada-dev/lambada/codecache"
)

// echoed is what the test function answers to {"action":"echo"}.
type echoed struct {
	Event         json.RawMessage   `json:"event"`
	RequestID     string            `json:"requestId"`
	InvokedArn    string            `json:"invokedArn"`
	Env           map[string]string `json:"env"`
	EnvID         string            `json:"envId"` // the runtime's own: in walls every runtime is pid 1
	Invocations   int               `json:"invocations"`
	ClientContext struct {
		Client struct {
			InstallationID string `json:"installation_id"`
		} `json:"Client"`
		Custom map[string]string `json:"custom"`
	} `json:"clientContext"`
}

// envIn finds the runtime's id in the "pid=N env=ID" line the test
// function prints.
func envIn(t *testing.T, log []byte) string {
	t.Helper()
	i := bytes.Index(log, []byte(" env="))
	if i < 0 {
		t.Fatalf("no env id in log %q", log)
	}
	id, _, _ := bytes.Cut(log[i+len(" env="):], []byte("\n"))
	return string(id)
}

func sdkInvoke(t *testing.T, c *lambda.Client, in *lambda.InvokeInput) (*lambda.InvokeOutput, string) {
	t.Helper()
	out, err := c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("invoke %s: %v", aws.ToString(in.FunctionName), err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return out, id
}

func TestServe_InvokeWithAWSCLI(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "fn.zip")
	if err := os.WriteFile(zipPath, fnZip, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := awsCLI(t, m, "lambda", "create-function", "--function-name", "hello", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+zipPath)
	if code != 0 || !strings.Contains(stdout, `"State": "Pending"`) {
		t.Fatalf("create-function: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, stderr, code := awsCLI(t, m, "lambda", "wait", "function-active-v2", "--function-name", "hello"); code != 0 {
		t.Fatalf("wait function-active-v2: %d %s", code, stderr)
	}

	out := filepath.Join(dir, "out.json")
	stdout, stderr, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "hello", "--payload", `{"name":"world"}`, out)
	if code != 0 {
		t.Fatalf("invoke: %d %s", code, stderr)
	}
	var printed map[string]any
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil || printed["StatusCode"] != float64(200) || printed["ExecutedVersion"] != "$LATEST" || printed["FunctionError"] != nil {
		t.Fatalf("invoke printed %s", stdout)
	}
	var e echoed
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &e); err != nil || string(e.Event) != `{"name":"world"}` {
		t.Fatalf("outfile %s", b)
	}

	// The log tail, still base64 as the CLI prints it.
	stdout, _, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "hello", "--log-type", "Tail",
		"--payload", `{"action":"print","msg":"printed-by-hello"}`, out)
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil || code != 0 {
		t.Fatalf("invoke --log-type Tail: %d %s", code, stdout)
	}
	tail, err := base64.StdEncoding.DecodeString(printed["LogResult"].(string))
	if err != nil || !bytes.Contains(tail, []byte("printed-by-hello\n")) || !bytes.Contains(tail, []byte("\nREPORT RequestId: ")) {
		t.Fatalf("LogResult %q decodes to %q", printed["LogResult"], tail)
	}

	// A function error is a 200 with FunctionError.
	stdout, _, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "hello", "--payload", `{"action":"error","msg":"bad day"}`, out)
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil || code != 0 || printed["FunctionError"] != "Unhandled" {
		t.Fatalf("function error: %d %s", code, stdout)
	}
	if b, _ := os.ReadFile(out); !bytes.Contains(b, []byte(`"errorMessage":"bad day"`)) {
		t.Fatalf("error payload %s", b)
	}

	// DryRun: 204, nothing run.
	stdout, _, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "hello", "--invocation-type", "DryRun", out)
	if code != 0 || !strings.Contains(stdout, `"StatusCode": 204`) {
		t.Fatalf("DryRun: %d %s", code, stdout)
	}

	// Not found, with the exact message.
	_, stderr, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "nope", out)
	want := "An error occurred (ResourceNotFoundException) when calling the Invoke operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST"
	if code == 0 || !strings.Contains(stderr, want) {
		t.Fatalf("not found: %d %s", code, stderr)
	}
}

func TestServe_InvokeWithSDK(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, "")
	c := client(m)
	MustCreateFunction(t, c, "fn", 1, map[string]string{"COLOR": "blue"})
	ctx := context.Background()

	t.Run("success", func(t *testing.T) {
		out, reqID := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"echo"}`)})
		var e echoed
		if err := json.Unmarshal(out.Payload, &e); err != nil || out.StatusCode != 200 || out.FunctionError != nil {
			t.Fatalf("%d %v %s", out.StatusCode, out.FunctionError, out.Payload)
		}
		if e.RequestID == "" || e.RequestID != reqID {
			t.Errorf("function saw request id %q, x-amzn-RequestId is %q", e.RequestID, reqID)
		}
		if aws.ToString(out.ExecutedVersion) != "$LATEST" || e.Env["COLOR"] != "blue" || e.Env["AWS_LAMBDA_FUNCTION_VERSION"] != "$LATEST" {
			t.Errorf("version %q env %v", aws.ToString(out.ExecutedVersion), e.Env)
		}
		if e.InvokedArn != "arn:aws:lambda:us-east-1:000000000000:function:fn" {
			t.Errorf("invoked arn %q", e.InvokedArn)
		}
	})
	t.Run("empty payload is {}", func(t *testing.T) {
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn")})
		var e echoed
		if err := json.Unmarshal(out.Payload, &e); err != nil || string(e.Event) != "{}" {
			t.Fatalf("event %s", out.Payload)
		}
	})
	t.Run("client context", func(t *testing.T) {
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"},"client":{"installation_id":"i1"}}`))
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), ClientContext: aws.String(cc)})
		var e echoed
		if err := json.Unmarshal(out.Payload, &e); err != nil || e.ClientContext.Custom["k"] != "v" || e.ClientContext.Client.InstallationID != "i1" {
			t.Fatalf("client context not delivered: %s", out.Payload)
		}
	})
	t.Run("log tail", func(t *testing.T) {
		out, reqID := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), LogType: types.LogTypeTail,
			Payload: []byte(`{"action":"print","msg":"` + strings.Repeat("z", 100) + `","count":100}`)})
		tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		if err != nil || len(tail) != 4096 || !bytes.Contains(tail, []byte("END RequestId: "+reqID+"\nREPORT RequestId: "+reqID+"\tDuration: ")) {
			t.Fatalf("tail of %d bytes: %q", len(tail), tail)
		}
	})
	failures := []struct{ name, payload, want string }{
		{"panic", `{"action":"panic","msg":"kaboom"}`, `"errorMessage":"kaboom"`},
		{"exit", `{"action":"exit","code":7}`, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ID Error: Runtime exited with error: exit status 7"}`},
		{"timeout", `{"action":"sleep","ms":3000}`, `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ID Error: Task timed out after 1.00 seconds"}`},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			// A Tail invocation answers once its environment is idle again,
			// so the failing invocation runs in the environment echo used.
			sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), LogType: types.LogTypeTail, Payload: []byte(`{"action":"echo"}`)})
			out, reqID := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), LogType: types.LogTypeTail, Payload: []byte(tc.payload)})
			want := strings.ReplaceAll(tc.want, "ID", reqID)
			if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || !bytes.Contains(out.Payload, []byte(want)) {
				t.Fatalf("%d %q %s, want %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload, want)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			failed := envIn(t, tail)
			// The failed environment is gone: the next invocation runs elsewhere and succeeds.
			after, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"echo"}`)})
			var e echoed
			if json.Unmarshal(after.Payload, &e) != nil || after.FunctionError != nil || e.EnvID == failed {
				t.Fatalf("after %s in environment %s: %s", tc.name, failed, after.Payload)
			}
		})
	}
	t.Run("response too large", func(t *testing.T) {
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"big","size":6300000}`)})
		if aws.ToString(out.FunctionError) != "Unhandled" || !bytes.Contains(out.Payload, []byte(`"errorType":"Function.ResponseSizeTooLarge"`)) {
			t.Fatalf("%q %.200s", aws.ToString(out.FunctionError), out.Payload)
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeDryRun})
		if out.StatusCode != 204 || len(out.Payload) != 0 {
			t.Fatalf("%d %s", out.StatusCode, out.Payload)
		}
	})
	errorCases := []struct {
		name string
		in   *lambda.InvokeInput
		code string
		msg  string
	}{
		{"not found", &lambda.InvokeInput{FunctionName: aws.String("missing")}, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST"},
		{"65-char name is not found", &lambda.InvokeInput{FunctionName: aws.String(strings.Repeat("a", 65))}, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:000000000000:function:" + strings.Repeat("a", 65) + ":$LATEST"},
		{"unknown qualifier", &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String("live")}, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:live"},
		{"bad json", &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"a":`)}, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json: "},
		{"too large", &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: bytes.Repeat([]byte(" "), 6291457)}, "RequestEntityTooLargeException",
			"Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
		{"bad name", &lambda.InvokeInput{FunctionName: aws.String("my-function!")}, "ValidationException",
			"1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: "},
		{"bad client context", &lambda.InvokeInput{FunctionName: aws.String("fn"), ClientContext: aws.String("bm90IGpzb24=")}, "InvalidRequestContentException",
			"Client context must be a valid Base64-encoded JSON object."},
		{"other region", &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:eu-west-1:000000000000:function:fn")}, "ResourceNotFoundException",
			"Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Invoke(ctx, tc.in)
			if apiErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %s: %s", err, tc.code, tc.msg)
			}
		})
	}
	t.Run("function name forms", func(t *testing.T) {
		for _, name := range []string{"fn", "fn:$LATEST", "000000000000:function:fn", "arn:aws:lambda:us-east-1:000000000000:function:fn", "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"} {
			out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"noop"}`)})
			if out.StatusCode != 200 || string(out.Payload) != "null" {
				t.Errorf("%s: %d %s", name, out.StatusCode, out.Payload)
			}
		}
	})
}

func TestServe_Restart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	m := MustOpenMain(t, dir)
	MustCreateFunction(t, client(m), "keeper", 3, nil)
	got, err := client(m).GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("keeper")})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Wipe the code cache too: the code must come back from the store.
	if err := codecache.RemoveAll(filepath.Join(dir, "code")); err != nil {
		t.Fatal(err)
	}
	m = MustOpenMain(t, dir)
	c := client(m)
	// The code link issued before the restart still works: its key is in
	// the store, shared by every node.
	link, _ := url.Parse(aws.ToString(got.Code.Location))
	link.Host = m.Addr()
	resp, err := http.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	zip, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(zip, fnZip) {
		t.Fatalf("code link after a restart: %d, %d bytes", resp.StatusCode, len(zip))
	}
	out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("keeper"), Payload: []byte(`{"action":"echo"}`)})
	if out.FunctionError != nil || !bytes.Contains(out.Payload, []byte(`"AWS_LAMBDA_FUNCTION_NAME":"keeper"`)) {
		t.Fatalf("after restart: %s", out.Payload)
	}
	fns, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if err != nil || len(fns.Functions) != 1 || aws.ToString(fns.Functions[0].FunctionName) != "keeper" {
		t.Fatalf("list after restart: %v %+v", err, fns)
	}
}

// The default --data is relative (.lambada); functions still find their code.
func TestServe_RelativeDataDir(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	t.Chdir(dir)
	m := MustOpenMain(t, ".lambada")
	c := client(m)
	MustCreateFunction(t, c, "rel", 3, nil)
	out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("rel"), Payload: []byte(`{"action":"echo"}`)})
	var e echoed
	_ = json.Unmarshal(out.Payload, &e)
	want := "/var/task" // in walls, which need root
	if os.Getuid() != 0 {
		want = filepath.Join(dir, ".lambada", "code")
	}
	if json.Unmarshal(out.Payload, &e) != nil || out.FunctionError != nil || !strings.HasPrefix(e.Env["LAMBDA_TASK_ROOT"], want) {
		t.Fatalf("%s", out.Payload)
	}
}

// A synchronous invocation outlives every server timeout once its headers
// are read.
func TestServe_InvokeLongerThanServerTimeouts(t *testing.T) {
	t.Parallel()
	// The function is deployed before the timeouts are set this short:
	// reading its 6 MB upload may take longer on a busy machine.
	dir := t.TempDir()
	t.Cleanup(func() { codecache.RemoveAll(dir) })
	m := MustOpenMain(t, dir)
	MustCreateFunction(t, client(m), "slow", 10, nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	const limit = 100 * time.Millisecond
	m = MustOpenMain(t, dir, func(m *Main) {
		m.ReadHeaderTimeout, m.ReadTimeout, m.WriteTimeout, m.IdleTimeout = limit, limit, limit, limit
	})
	c := client(m)
	start := time.Now()
	out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{"action":"sleep","ms":300}`)})
	if out.FunctionError != nil || out.StatusCode != 200 || time.Since(start) < 3*limit {
		t.Fatalf("%d %q %s after %v", out.StatusCode, aws.ToString(out.FunctionError), out.Payload, time.Since(start))
	}

	// A payload that arrives slowly after its headers is read to its end.
	body, w := io.Pipe()
	go func() {
		io.WriteString(w, `{"action":`)
		<-time.After(3 * limit) // the client is slow on purpose
		io.WriteString(w, `"echo"}`)
		w.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, invokeURL("http://"+m.Addr(), "slow"), body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(`{"action":"echo"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("slow payload: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("slow payload: %d %s", resp.StatusCode, b)
	}
}

// lambada invoke against a real node.
func TestServe_LambadaInvoke(t *testing.T) {
	m := MustOpenMain(t, "")
	MustCreateFunction(t, client(m), "fn", 3, nil)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"invoke", "--endpoint-url", "http://" + m.Addr(), "--function-name", "fn",
		"--qualifier", "$LATEST", "--log-type", "Tail", "--payload", `{"action":"print","msg":"via-lambada-invoke"}`, out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("lambada invoke: %v\n%s", err, stderr.String())
	}
	var printed struct {
		StatusCode      int
		LogResult       string
		ExecutedVersion string
	}
	if err := json.Unmarshal(stdout.Bytes(), &printed); err != nil || printed.StatusCode != 200 || printed.ExecutedVersion != "$LATEST" {
		t.Fatalf("printed %s", stdout.String())
	}
	if tail, _ := base64.StdEncoding.DecodeString(printed.LogResult); !bytes.Contains(tail, []byte("via-lambada-invoke\n")) {
		t.Fatalf("tail %q", tail)
	}
	var e echoed
	if b, _ := os.ReadFile(out); json.Unmarshal(b, &e) != nil || e.InvokedArn != "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST" {
		t.Fatalf("outfile %s", b)
	}
	err = run(context.Background(), []string{"invoke", "--endpoint-url", "http://" + m.Addr(), "--function-name", "missing", out}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "An error occurred (ResourceNotFoundException) when calling the Invoke operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST") {
		t.Fatalf("missing function: %v", err)
	}
}

func TestParseMemTotalMB(t *testing.T) {
	if got := parseMemTotalMB("MemTotal:       24576000 kB\nMemFree:        1000 kB\n"); got != 24000 {
		t.Fatalf("got %d", got)
	}
	if got := parseMemTotalMB("nothing"); got != 0 {
		t.Fatalf("got %d", got)
	}
}
