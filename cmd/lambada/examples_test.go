package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lambada-dev/lambada/runtimes"
)

// The README's Python and Node.js examples run as it says.
func TestExamples(t *testing.T) {
	t.Parallel()
	for _, ex := range []struct{ runtime, dir, file, handler string }{
		{"python3.11", "python", "app.py", "app.handler"},
		{"nodejs20.x", "nodejs", "index.mjs", "index.handler"},
	} {
		t.Run(ex.dir, func(t *testing.T) {
			t.Parallel()
			if !slices.Contains(runtimes.Available(), ex.runtime) {
				t.Skipf("no interpreter for %s", ex.runtime)
			}
			code, err := os.ReadFile(filepath.Join("..", "..", "examples", ex.dir, ex.file))
			if err != nil {
				t.Fatal(err)
			}
			m := MustOpenMain(t, "")
			if out, stderr, c := awsCLI(t, m, "lambda", "create-function", "--function-name", "hello", "--runtime", ex.runtime, "--handler", ex.handler,
				"--role", "arn:aws:iam::123456789012:role/any", "--zip-file", "fileb://"+zipOf(t, map[string]string{ex.file: string(code)})); c != 0 {
				t.Fatalf("create: %s %s", out, stderr)
			}
			if out, stderr, c := awsCLI(t, m, "lambda", "wait", "function-active-v2", "--function-name", "hello"); c != 0 {
				t.Fatalf("wait: %s %s", out, stderr)
			}
			outfile := filepath.Join(t.TempDir(), "out.json")
			if out, stderr, c := awsCLI(t, m, "lambda", "invoke", "--function-name", "hello", "--payload", `{"name":"Lambada"}`, outfile); c != 0 {
				t.Fatalf("invoke: %s %s", out, stderr)
			}
			b, _ := os.ReadFile(outfile)
			var got struct {
				Greeting, RequestID string
				RemainingMs         int
			}
			if json.Unmarshal(b, &got) != nil || got.Greeting != "Hello, Lambada!" || got.RequestID == "" || got.RemainingMs <= 0 {
				t.Errorf("the example answered %s", b)
			}
		})
	}
}
