package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/internal/testfn"
	"github.com/lambada-dev/lambada/runtimes"
)

// zipOf is a deployment package of the files given (a name and its text),
// written to a file.
func zipOf(t *testing.T, files map[string]string) string {
	t.Helper()
	b, err := testfn.ZipFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fn.zip")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
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

// A managed runtime without an interpreter on the host fails
// CreateFunction, naming the flag that gives it one; --runtime-path gives it
// one.
func TestRuntimePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime, interp, file, code string
	}{
		// Interpreters of this host stand for versions it lacks.
		{"python3.14", "/usr/bin/python3.11", "app.py", "import sys\n\ndef handler(event, context):\n    return sys.executable\n"},
		{"nodejs22.x", "/usr/bin/node", "app.js", "exports.handler = async () => process.execPath;\n"},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			t.Parallel()
			if slices.Contains(runtimes.Available(), tc.runtime) {
				t.Skipf("this host has an interpreter for %s", tc.runtime)
			}
			if _, err := os.Stat(tc.interp); err != nil {
				t.Skip(err)
			}
			zip := zipOf(t, map[string]string{tc.file: tc.code})
			create := func(m *Main) (string, int) {
				_, stderr, code := awsCLI(t, m, "lambda", "create-function", "--function-name", "fn", "--runtime", tc.runtime,
					"--handler", "app.handler", "--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+zip)
				return stderr, code
			}
			m := MustOpenMain(t, "")
			want := "The runtime " + tc.runtime + " is not available on Lambada: no interpreter for it was found on this host; give one with lambada serve --runtime-path " +
				tc.runtime + "=/path/to/" + tc.runtime + "."
			if stderr, code := create(m); code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("without an interpreter: %d %s", code, stderr)
			}
			m = MustOpenMain(t, "", func(m *Main) { m.RuntimePaths = map[string]string{tc.runtime: tc.interp} })
			if stderr, code := create(m); code != 0 {
				t.Fatalf("with --runtime-path: %s", stderr)
			}
			MustSettle(t, client(m), "fn")
			out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("fn")})
			if out.FunctionError != nil || string(out.Payload) != `"`+tc.interp+`"` {
				t.Errorf("%s ran on %s, want %s", tc.runtime, out.Payload, tc.interp)
			}
		})
	}
}

// needWalls skips a test where walls cannot be made or an interpreter of
// one of the runtimes is missing.
func needWalls(t *testing.T, runtimes_ ...string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the walls need root")
	}
	for _, r := range runtimes_ {
		if !slices.Contains(runtimes.Available(), r) {
			t.Skipf("no interpreter for %s", r)
		}
	}
}

// openWalled starts a node whose environments are walled in, with
// interpreters for runtimes; it skips where the host allows neither.
func openWalled(t *testing.T, runtimes_ ...string) *Main {
	t.Helper()
	needWalls(t, runtimes_...)
	m := MustOpenMain(t, "")
	if m.jail == nil {
		t.Skipf("no jail here: %v", m.noJail)
	}
	return m
}

// createWithCLI creates function name of runtime through the AWS CLI, from
// the zip file at zip, with more create-function arguments, and waits
// until it is Active.
func createWithCLI(t *testing.T, m *Main, name, runtime, handler, zip string, more ...string) {
	t.Helper()
	args := append([]string{"lambda", "create-function", "--function-name", name, "--runtime", runtime, "--handler", handler,
		"--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://" + zip}, more...)
	if out, stderr, code := awsCLI(t, m, args...); code != 0 {
		t.Fatalf("create %s: %s %s", name, out, stderr)
	}
	MustSettle(t, client(m), name)
}

// createAs is createWithCLI as the caller whose key env gives (a node with
// --auth), waiting with the AWS CLI's own waiter.
func createAs(t *testing.T, m *Main, env []string, name, runtime, handler, zip string, more ...string) {
	t.Helper()
	args := append([]string{"lambda", "create-function", "--function-name", name, "--runtime", runtime, "--handler", handler,
		"--zip-file", "fileb://" + zip}, more...)
	if !slices.Contains(more, "--role") { // a role of the account the tests' principals are of
		args = append(args, "--role", "arn:aws:iam::000000000000:role/any")
	}
	if out, stderr, code := awsCLIWith(t, m, env, args...); code != 0 {
		t.Fatalf("create %s: %s %s", name, out, stderr)
	}
	if out, stderr, code := awsCLIWith(t, m, env, "lambda", "wait", "function-active-v2", "--function-name", name); code != 0 {
		t.Fatalf("wait for %s: %s %s", name, out, stderr)
	}
}
