package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ricDir is where .ci/install-aws-lambda-ric put AWS's runtime interface
// client for Node.js.
func ricDir() string {
	if d := os.Getenv("LAMBADA_RIC_DIR"); d != "" {
		return d
	}
	return "/var/cache/lambada/aws-lambda-ric-3.3.0"
}

// ricLayer is a layer holding AWS's client at /opt/aws-lambda-ric and a
// bootstrap (/opt/bootstrap) that runs the function's handler with it.
func ricLayer(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	add := func(name string, mode fs.FileMode, data []byte) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add("bootstrap", 0o755, []byte("#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\" || exit 1\nexec /usr/bin/node /opt/aws-lambda-ric/bin/index.mjs \"$_HANDLER\"\n"))
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".complete" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		add("aws-lambda-ric/"+rel, 0o755, data)
		return nil
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ric.zip")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// AWS's own runtime interface client for Node.js, unchanged, serves a
// function through Lambada's Runtime API: a custom runtime whose bootstrap
// comes from a layer. Its answers and its errors are the ones Lambada's own
// Node.js client gives.
func TestAWSRuntimeInterfaceClient(t *testing.T) {
	t.Parallel()
	dir := ricDir()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Skipf("aws-lambda-ric is not installed in %s: run .ci/install-aws-lambda-ric (%v)", dir, err)
	}
	if _, err := os.Stat("/usr/bin/node"); err != nil {
		t.Skip(err)
	}
	m := MustOpenMain(t, "")
	stdout, stderr, code := awsCLI(t, m, "lambda", "publish-layer-version", "--layer-name", "aws-lambda-ric", "--zip-file", "fileb://"+ricLayer(t, dir))
	var layer struct{ LayerVersionArn string }
	if code != 0 || json.Unmarshal([]byte(stdout), &layer) != nil {
		t.Fatalf("publish: %s %s", stdout, stderr)
	}
	fn := zipOf(t, map[string]string{"index.js": `exports.handler = async (event, context) => ({ echo: event, name: context.functionName, id: context.awsRequestId });
exports.fails = async () => { throw new TypeError('boom'); };
`})
	if out, stderr, code := awsCLI(t, m, "lambda", "create-function", "--function-name", "ric", "--runtime", "provided.al2023", "--handler", "index.handler",
		"--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+fn, "--layers", layer.LayerVersionArn); code != 0 {
		t.Fatalf("create: %s %s", out, stderr)
	}
	MustSettle(t, client(m), "ric")
	outfile := filepath.Join(t.TempDir(), "out.json")
	stdout, stderr, code = awsCLI(t, m, "lambda", "invoke", "--function-name", "ric", "--payload", `{"x":1}`, outfile)
	b, _ := os.ReadFile(outfile)
	var got struct {
		Echo     map[string]int
		Name, ID string
	}
	if code != 0 || strings.Contains(stdout, "FunctionError") || json.Unmarshal(b, &got) != nil || got.Echo["x"] != 1 || got.Name != "ric" || got.ID == "" {
		t.Fatalf("invoke: %s %s %s", stdout, stderr, b)
	}

	if out, stderr, code := awsCLI(t, m, "lambda", "update-function-configuration", "--function-name", "ric", "--handler", "index.fails"); code != 0 {
		t.Fatalf("update: %s %s", out, stderr)
	}
	MustSettle(t, client(m), "ric")
	stdout, _, _ = awsCLI(t, m, "lambda", "invoke", "--function-name", "ric", outfile)
	b, _ = os.ReadFile(outfile)
	var e struct {
		ErrorType, ErrorMessage string
		Trace                   []string
	}
	if !strings.Contains(stdout, `"FunctionError": "Unhandled"`) || json.Unmarshal(b, &e) != nil || e.ErrorType != "TypeError" || e.ErrorMessage != "boom" ||
		len(e.Trace) < 2 || e.Trace[0] != "TypeError: boom" || !strings.Contains(e.Trace[1], "/var/task/index.js") {
		t.Errorf("a handler's exception through AWS's client: %s %s", stdout, b)
	}
}
