package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambada-dev/lambada/internal/poll"
)

// wallsJS reports what a Node.js environment sees of its walls.
const wallsJS = `const fs = require('fs');
const tryw = (p) => { try { fs.writeFileSync(p, 'x'); return 'writable'; } catch (e) { return e.code; } };
exports.handler = async (event) => {
  if (event.action === 'grow') {
    const chunks = [];
    for (let i = 0; i < 32; i++) { chunks.push(Buffer.alloc(16 << 20, 1)); }
    return 'survived 512 MB';
  }
  return { spare: globalThis[Symbol.for('lambada.spare')] === true, uid: process.getuid(), gid: process.getgid(),
    groups: process.getgroups(), pid: process.pid, cwd: process.cwd(), task: fs.readdirSync('/var/task'), here: fs.readdirSync('.'),
    root: fs.readdirSync('/').sort(), taskw: tryw('/var/task/x'), tmpw: tryw('/tmp/x'),
    env: process.env, status: fs.readFileSync('/proc/self/status', 'utf8').split('\n').filter((l) => /^(NSpid|NSsid)/.test(l)),
    limits: fs.readFileSync('/proc/self/limits', 'utf8').split('\n').filter((l) => /open files|processes/.test(l)) };
};
`

// A Node.js environment made from a spare (a process of Lambada's client
// started ahead of time, in walls without code) is in the walls of any
// other: its own uid, pid 1, its code read-only at /var/task, its
// function's variables and no others, its function's memory limit.
func TestSpare(t *testing.T) {
	t.Parallel()
	const runtime = "nodejs20.x"
	m := openWalled(t, runtime)
	zip := zipOf(t, map[string]string{"index.js": wallsJS})
	create := func(name string) {
		t.Helper()
		createWithCLI(t, m, name, runtime, "index.handler", zip, "--environment", "Variables={GREETING=hi}")
	}
	type seen struct {
		Spare            bool
		UID, GID, PID    int
		Groups           []int
		Cwd, TaskW, TmpW string
		Task, Here, Root []string
		Env              map[string]string
		Status, Limits   []string
	}
	look := func(name string) seen {
		t.Helper()
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String(name)})
		var s seen
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &s) != nil {
			t.Fatalf("%s: %s", name, out.Payload)
		}
		return s
	}
	create("first")
	first := look("first")
	poll.Until(t, 30*time.Second, "a spare of "+runtime, func() bool { ready, _ := m.sandboxes.Spares(); return ready == 1 })
	create("second")
	second := look("second")
	if first.Spare || !second.Spare {
		t.Errorf("from a spare: the first environment %v, the second %v; want false, true", first.Spare, second.Spare)
	}
	for _, s := range []seen{first, second} {
		if s.UID < int(m.FirstUID) || s.UID != s.GID || len(s.Groups) != 1 || s.Groups[0] != s.GID || s.PID != 1 || s.Cwd != "/var/task" ||
			strings.Join(s.Task, " ") != "index.js" || strings.Join(s.Here, " ") != "index.js" || strings.Join(s.Root, " ") != "bin dev etc lib lib64 opt proc sbin tmp usr var" ||
			s.TaskW != "EROFS" || s.TmpW != "writable" || s.Env["GREETING"] != "hi" || s.Env["LAMBADA_SPARE"] != "" ||
			s.Env["NODE_PATH"] != "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task" ||
			len(s.Limits) != 2 || !strings.Contains(s.Limits[0]+s.Limits[1], "1024                 1024") {
			t.Errorf("an environment (spare %v) sees %+v", s.Spare, s)
		}
	}
	if first.UID == second.UID {
		t.Errorf("two environments share uid %d", first.UID)
	}
	out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("second"), Payload: []byte(`{"action":"grow"}`)})
	if !strings.Contains(string(out.Payload), `"errorType":"Runtime.OutOfMemory"`) {
		t.Errorf("past its function's 128 MB, an environment from a spare answered %s", out.Payload)
	}
}

// What an interpreter reads only when it starts (its variables, the
// loader's library path) is honoured: a function that sets such a variable
// or brings libraries starts by exec, not from a zygote or a spare.
func TestFastStart_Fallback(t *testing.T) {
	t.Parallel()
	libz, _ := filepath.Glob("/usr/lib/x86_64-linux-gnu/libz.so.1.*")
	if len(libz) == 0 {
		t.Skip("no libz to ship")
	}
	lib, err := os.ReadFile(libz[0])
	if err != nil {
		t.Fatal(err)
	}
	m := openWalled(t, "python3.11", "nodejs20.x")
	create := func(name, runtime string, files map[string]string, env string) {
		t.Helper()
		var more []string
		if env != "" {
			more = []string{"--environment", "Variables={" + env + "}"}
		}
		createWithCLI(t, m, name, runtime, "app.handler", zipOf(t, files), more...)
	}
	invoke := func(name string) string {
		t.Helper()
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String(name)})
		return string(out.Payload)
	}
	// A zygote and a spare are ready once a function of each runtime ran.
	create("py", "python3.11", map[string]string{"app.py": "def handler(e, c):\n    return 1\n"}, "")
	create("js", "nodejs20.x", map[string]string{"app.js": "exports.handler = async () => 1;\n"}, "")
	invoke("py")
	invoke("js")
	poll.Until(t, 30*time.Second, "a spare of nodejs20.x", func() bool { ready, _ := m.sandboxes.Spares(); return ready == 1 })

	create("pylib", "python3.11", map[string]string{"lib/libshipped.so": string(lib),
		"app.py": "import ctypes\n\ndef handler(e, c):\n    ctypes.CDLL('libshipped.so')\n    return 'loaded'\n"}, "")
	create("pypath", "python3.11", map[string]string{"vendor/vendored.py": "X = 'vendored'\n",
		"app.py": "def handler(e, c):\n    import vendored\n    return vendored.X\n"}, "PYTHONPATH=/var/task/vendor")
	create("jsopts", "nodejs20.x", map[string]string{"pre.js": "globalThis.preloaded = 'preloaded';\n",
		"app.js": "exports.handler = async () => globalThis.preloaded;\n"}, "NODE_OPTIONS=--require=/var/task/pre.js")
	for name, want := range map[string]string{"pylib": `"loaded"`, "pypath": `"vendored"`, "jsopts": `"preloaded"`} {
		if got := invoke(name); got != want {
			t.Errorf("%s answered %s, want %s", name, got, want)
		}
	}
	// The spare stayed ready for the next cold start that can take it: one
	// spare, none lost on the way.
	for range 2 {
		if out, stderr, code := awsCLI(t, m, "lambda", "update-function-configuration", "--function-name", "jsopts", "--description", "again"+t.Name()); code != 0 {
			t.Fatalf("update: %s %s", out, stderr)
		}
		MustSettle(t, client(m), "jsopts")
		invoke("jsopts")
	}
	if ready, live := m.sandboxes.Spares(); ready != 1 || live != 1 {
		t.Errorf("after cold starts that could not take the spare: %d ready, %d alive without an environment; want 1 and 1", ready, live)
	}
}
