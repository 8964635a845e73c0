package main

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/runtimes"
)

// pythonZip is a deployment package of Python files.
func pythonZip(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, text := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fn.zip")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A Python function written for AWS runs unchanged on Lambada's runtime
// client, through the AWS CLI: its answer and context, and a handler's
// exception as AWS's awslambdaric reports it.
func TestPython(t *testing.T) {
	t.Parallel()
	// python3.11 is the host's /usr/bin one here, python3.12 pyenv's,
	// which the walls show at its own path.
	for _, runtime := range []string{"python3.11", "python3.12"} {
		t.Run(runtime, func(t *testing.T) {
			t.Parallel()
			if !slices.Contains(runtimes.Available(), runtime) {
				t.Skipf("no interpreter for %s", runtime)
			}
			testPython(t, runtime)
		})
	}
}

func testPython(t *testing.T, runtime string) {
	m := MustOpenMain(t, "")
	zip := pythonZip(t, map[string]string{"app.py": `import os, random

def handler(event, context):
    print("hello from python")
    return {"event": event, "requestId": context.aws_request_id, "function": context.function_name,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(), "cwd": os.getcwd(), "random": random.random()}

def keeps(event, context):
    # /tmp lasts as long as the environment: a count of its invocations
    try:
        n = int(open("/tmp/count").read())
    except FileNotFoundError:
        n = 0
    open("/tmp/count", "w").write(str(n + 1))
    return {"count": n + 1}

def fails(event, context):
    raise ValueError("bad " + event["what"])
`, "broken.py": "def handler(event, context) return 1\n"})
	if out, stderr, code := awsCLI(t, m, "lambda", "create-function", "--function-name", "py", "--runtime", runtime,
		"--handler", "app.handler", "--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+zip); code != 0 {
		t.Fatalf("create (%d): %s %s", code, out, stderr)
	}
	MustSettle(t, client(m), "py")
	outfile := filepath.Join(t.TempDir(), "out.json")
	stdout, stderr, code := awsCLI(t, m, "lambda", "invoke", "--function-name", "py", "--payload", `{"x":1}`, "--log-type", "Tail", outfile)
	if code != 0 || strings.Contains(stdout, "FunctionError") {
		t.Fatalf("invoke: %s %s", stdout, stderr)
	}
	b, _ := os.ReadFile(outfile)
	var got struct {
		Event     map[string]int
		RequestID string
		Function  string
		Arn       string
		Memory    string
		Remaining int
		Cwd       string
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Event["x"] != 1 || got.RequestID == "" || got.Function != "py" ||
		got.Arn != "arn:aws:lambda:us-east-1:000000000000:function:py" || got.Memory != "128" || got.Remaining <= 0 || got.Remaining > 3000 || got.Cwd != "/var/task" {
		t.Errorf("the handler answered %s", b)
	}
	var inv struct{ LogResult string }
	_ = json.Unmarshal([]byte(stdout), &inv)
	if tail := mustBase64(t, inv.LogResult); !strings.Contains(tail, "hello from python\n") {
		t.Errorf("the log tail lacks the print: %q", tail)
	}

	if out, stderr, code := awsCLI(t, m, "lambda", "update-function-configuration", "--function-name", "py", "--handler", "app.fails"); code != 0 {
		t.Fatalf("update: %s %s", out, stderr)
	}
	MustSettle(t, client(m), "py")
	stdout, _, _ = awsCLI(t, m, "lambda", "invoke", "--function-name", "py", "--payload", `{"what":"day"}`, outfile)
	b, _ = os.ReadFile(outfile)
	var e struct {
		ErrorMessage, ErrorType, RequestID string
		StackTrace                         []string
	}
	if !strings.Contains(stdout, `"FunctionError": "Unhandled"`) || json.Unmarshal(b, &e) != nil || e.ErrorMessage != "bad day" || e.ErrorType != "ValueError" ||
		e.RequestID == "" || len(e.StackTrace) != 1 || !strings.Contains(e.StackTrace[0], `File "/var/task/app.py", line 19, in fails`) {
		t.Errorf("a handler's exception: %s %s", stdout, b)
	}

	// /tmp lasts across the invocations of an environment.
	if out, stderr, code := awsCLI(t, m, "lambda", "update-function-configuration", "--function-name", "py", "--handler", "app.keeps"); code != 0 {
		t.Fatalf("update: %s %s", out, stderr)
	}
	MustSettle(t, client(m), "py")
	type kept struct{ Count int }
	invokeKeeps := func() kept {
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("py")})
		var k kept
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &k) != nil {
			t.Fatalf("keeps: %s", out.Payload)
		}
		return k
	}
	if a, b := invokeKeeps(), invokeKeeps(); a.Count != 1 || b.Count != 2 {
		t.Errorf("/tmp across two invocations: counts %d, %d", a.Count, b.Count)
	}

	// Handlers that cannot be found fail the init, with awslambdaric's
	// types and texts.
	for handler, want := range map[string][2]string{
		"app.nothere":    {"Runtime.HandlerNotFound", "Handler 'nothere' missing on module 'app'"},
		"nomod.handler":  {"Runtime.ImportModuleError", "Unable to import module 'nomod': No module named 'nomod'"},
		"nodot":          {"Runtime.MalformedHandlerName", "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"},
		"broken.handler": {"Runtime.UserCodeSyntaxError", "Syntax error in module 'broken': "},
	} {
		if out, stderr, code := awsCLI(t, m, "lambda", "update-function-configuration", "--function-name", "py", "--handler", handler); code != 0 {
			t.Fatalf("update: %s %s", out, stderr)
		}
		MustSettle(t, client(m), "py")
		stdout, _, _ = awsCLI(t, m, "lambda", "invoke", "--function-name", "py", outfile)
		b, _ = os.ReadFile(outfile)
		e.ErrorType, e.ErrorMessage = "", ""
		if !strings.Contains(stdout, `"FunctionError": "Unhandled"`) || json.Unmarshal(b, &e) != nil || e.ErrorType != want[0] || !strings.Contains(e.ErrorMessage, want[1]) {
			t.Errorf("handler %s: %s %s, want %s %q", handler, stdout, b, want[0], want[1])
		}
	}
}

// mustBase64 decodes a base64 text.
func mustBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A Python runtime without an interpreter on the host fails CreateFunction,
// naming the flag that gives it one; --runtime-path gives it one.
func TestPython_RuntimePath(t *testing.T) {
	const runtime = "python3.14"
	if slices.Contains(runtimes.Available(), runtime) {
		t.Skipf("this host has an interpreter for %s", runtime)
	}
	interp := "/usr/bin/python3.11" // stands for a 3.14 one
	if _, err := os.Stat(interp); err != nil {
		t.Skip(err)
	}
	zip := pythonZip(t, map[string]string{"app.py": "import sys\n\ndef handler(event, context):\n    return sys.executable\n"})
	create := func(m *Main) (string, int) {
		_, stderr, code := awsCLI(t, m, "lambda", "create-function", "--function-name", "py14", "--runtime", runtime,
			"--handler", "app.handler", "--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+zip)
		return stderr, code
	}
	m := MustOpenMain(t, "")
	if stderr, code := create(m); code == 0 || !strings.Contains(stderr, "The runtime python3.14 is not available on Lambada: no interpreter for it was found on this host; give one with lambada serve --runtime-path python3.14=/path/to/python3.14.") {
		t.Errorf("without an interpreter: %d %s", code, stderr)
	}
	m = MustOpenMain(t, "", func(m *Main) { m.RuntimePaths = map[string]string{runtime: interp} })
	if stderr, code := create(m); code != 0 {
		t.Fatalf("with --runtime-path: %s", stderr)
	}
	MustSettle(t, client(m), "py14")
	out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("py14")})
	if out.FunctionError != nil || string(out.Payload) != `"`+interp+`"` {
		t.Errorf("python3.14 ran on %s, want %s", out.Payload, interp)
	}
}
