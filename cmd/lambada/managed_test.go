package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/internal/testfn"
	"github.com/lambada-dev/lambada/runtimes"
)

// managedFunction is a function written for AWS in one language, with the
// handlers the managed-runtime tests call:
//
//	app.handler  answers its event, its context, a variable, random values
//	app.fails    raises an exception with "bad " + event.what
//	app.keeps    counts its invocations in /tmp and in a global, sleeping
//	             event.sleep seconds first
type managedFunction struct {
	files map[string]string
	// tail matches the log tail of app.handler: the print or console line
	// and the logging line, in the runtime's own format.
	tail *regexp.Regexp
	// fails checks app.fails's error payload.
	fails func(payload []byte) bool
	// faults maps handlers that cannot be loaded, or fail in ways of the
	// runtime's own, to the error type and a part of the message AWS's
	// client reports.
	faults map[string][2]string
	// more handlers and what each must answer (exactly).
	more map[string]string
	// layers are two layers' files: app.layered imports the module "greet"
	// of the first and "extra" of the second (from the runtime's own
	// directory of it), and reads /opt/which.txt, which both have.
	layers [2]map[string]string
}

var pythonFunction = managedFunction{
	files: map[string]string{
		"app.py": `import json, logging, os, random, time, uuid

logging.getLogger().setLevel(logging.INFO)
calls = 0

def handler(event, context):
    print("hello from python")
    logging.info("logged %s", "info")
    cc = context.client_context
    return {"event": event, "requestId": context.aws_request_id, "function": context.function_name,
            "version": context.function_version, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "remaining": context.get_remaining_time_in_millis(),
            "logGroup": context.log_group_name, "logStream": context.log_stream_name,
            "custom": cc.custom if cc else None, "cwd": os.getcwd(), "greeting": os.environ.get("GREETING"),
            "random": random.random(), "uuid": str(uuid.uuid4()), "sleep": time.sleep(event.get("sleep", 0))}

def fails(event, context):
    raise ValueError("bad " + event["what"])

def layered(event, context):
    import extra, greet
    return {"greet": greet.hello(), "which": open("/opt/which.txt").read(), "extra": extra.VALUE}

def keeps(event, context):
    global calls
    calls += 1
    try:
        n = int(open("/tmp/count").read())
    except FileNotFoundError:
        n = 0
    open("/tmp/count", "w").write(str(n + 1))
    time.sleep(event.get("sleep", 0))
    return {"count": n + 1, "calls": calls}
`,
		"broken.py":           "def handler(event, context) return 1\n",
		"pkg/__init__.py":     "",
		"pkg/sub/__init__.py": "",
		"pkg/sub/deep.py":     "def handler(event, context):\n    return 'deep ' + __name__\n",
	},
	tail: regexp.MustCompile(`(?m)^hello from python\n\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tlogged info\n`),
	fails: func(b []byte) bool {
		var e struct {
			ErrorMessage, ErrorType, RequestID string
			StackTrace                         []string
		}
		return json.Unmarshal(b, &e) == nil && e.ErrorMessage == "bad day" && e.ErrorType == "ValueError" && e.RequestID != "" &&
			len(e.StackTrace) == 1 && e.StackTrace[0] == "  File \"/var/task/app.py\", line 18, in fails\n    raise ValueError(\"bad \" + event[\"what\"])\n"
	},
	faults: map[string][2]string{
		"app.nothere":    {"Runtime.HandlerNotFound", "Handler 'nothere' missing on module 'app'"},
		"nomod.handler":  {"Runtime.ImportModuleError", "Unable to import module 'nomod': No module named 'nomod'"},
		"nodot":          {"Runtime.MalformedHandlerName", "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"},
		"broken.handler": {"Runtime.UserCodeSyntaxError", "Syntax error in module 'broken': "},
		"sys.handler":    {"Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"},
	},
	more: map[string]string{"pkg/sub/deep.handler": `"deep pkg.sub.deep"`, "pkg.sub.deep.handler": `"deep pkg.sub.deep"`},
	layers: [2]map[string]string{
		{"python/greet.py": "def hello():\n    return 'hello from layer one'\n", "which.txt": "one"},
		{"which.txt": "two", "python/lib/python3.11/site-packages/extra.py": "VALUE = 'site'\n",
			"python/lib/python3.12/site-packages/extra.py": "VALUE = 'site'\n"},
	},
}

var nodeFunction = managedFunction{
	files: map[string]string{
		"app.js": `const fs = require('fs');
const crypto = require('crypto');
let calls = 0;

exports.handler = async (event, context) => {
  console.log('hello from node');
  console.info('logged %s', 'info');
  await new Promise((r) => setTimeout(r, (event.sleep || 0) * 1000));
  return { event, requestId: context.awsRequestId, function: context.functionName,
    version: context.functionVersion, arn: context.invokedFunctionArn,
    memory: context.memoryLimitInMB, remaining: context.getRemainingTimeInMillis(),
    logGroup: context.logGroupName, logStream: context.logStreamName,
    custom: context.clientContext ? context.clientContext.custom : null, cwd: process.cwd(),
    greeting: process.env.GREETING, random: Math.random(), uuid: crypto.randomUUID(),
    waits: context.callbackWaitsForEmptyEventLoop };
};

exports.fails = async (event) => {
  throw new TypeError('bad ' + event.what);
};

exports.keeps = async (event) => {
  calls++;
  let n = 0;
  try { n = Number(fs.readFileSync('/tmp/count', 'utf8')); } catch (e) {}
  fs.writeFileSync('/tmp/count', String(n + 1));
  await new Promise((r) => setTimeout(r, (event.sleep || 0) * 1000));
  return { count: n + 1, calls };
};

// A callback handler: the answer waits for the event loop to empty.
exports.callback = (event, context, callback) => {
  const answer = { via: 'callback', late: 'no' };
  setTimeout(() => { answer.late = 'yes'; }, 50);
  callback(null, answer);
};
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 10);
  callback(null, 'answered at once');
};
exports.sync = () => 'ignored';
exports.rejects = async () => {
  Promise.reject(new Error('nobody waits for me'));
  await new Promise((r) => setTimeout(r, 1000));
  return 'too late';
};
exports.nested = { deeper: { handler: async () => 'nested' } };
exports.layered = async () => ({ greet: require('greet').hello(), which: fs.readFileSync('/opt/which.txt', 'utf8'), extra: require('extra').VALUE });
exports.notFn = 42;
`,
		"esm.mjs":             "export const handler = async (event) => ({ module: 'esm', event });\n",
		"modpkg/package.json": `{"type":"module"}`,
		"modpkg/index.js":     "export const handler = async () => 'type module';\n",
		"lib/cjs.cjs":         "module.exports.handler = async () => 'cjs';\n",
		"broken.js":           "exports.handler = async (event => 1;\n",
	},
	tail: regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tINFO\thello from node\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tINFO\tlogged info\n`),
	fails: func(b []byte) bool {
		var e struct {
			ErrorType, ErrorMessage string
			Trace                   []string
		}
		return json.Unmarshal(b, &e) == nil && e.ErrorType == "TypeError" && e.ErrorMessage == "bad day" &&
			len(e.Trace) > 1 && e.Trace[0] == "TypeError: bad day" && e.Trace[1] == "    at exports.fails (/var/task/app.js:19:9)" &&
			strings.HasPrefix(string(b), `{"errorType":"TypeError","errorMessage":"bad day","trace":[`)
	},
	faults: map[string][2]string{
		"app.nothere":    {"Runtime.HandlerNotFound", "app.nothere is undefined or not exported"},
		"app.notFn":      {"Runtime.HandlerNotFound", "app.notFn is not a function"},
		"nomod.handler":  {"Runtime.ImportModuleError", "Error: Cannot find module 'nomod'\nRequire stack:\n- /var/runtime/index.mjs"},
		"nodot":          {"Runtime.MalformedHandlerName", "Bad handler"},
		"../app.handler": {"Runtime.MalformedHandlerName", "'../app.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names."},
		"broken.handler": {"Runtime.UserCodeSyntaxError", "SyntaxError: "},
		"app.rejects":    {"Runtime.UnhandledPromiseRejection", "Error: nobody waits for me"},
	},
	more: map[string]string{
		"esm.handler":               `{"module":"esm","event":{}}`,
		"modpkg/index.handler":      `"type module"`,
		"lib/cjs.handler":           `"cjs"`,
		"app.nested.deeper.handler": `"nested"`,
		"app.callback":              `{"via":"callback","late":"yes"}`,
		"app.noWait":                `"answered at once"`,
		"app.sync":                  `null`,
	},
	layers: [2]map[string]string{
		{"nodejs/node_modules/greet/index.js": "exports.hello = () => 'hello from layer one';\n", "which.txt": "one"},
		{"which.txt": "two", "nodejs/node20/node_modules/extra/index.js": "exports.VALUE = 'site';\n"},
	},
}

// Functions written for AWS in Python and Node.js run unchanged on
// Lambada's runtime clients, through the AWS CLI: python3.11 is the host's
// /usr/bin one here, python3.12 pyenv's (shown by the walls at its own
// path), nodejs20.x the host's /usr/bin/node.
func TestManaged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		runtime string
		fn      managedFunction
	}{{"python3.11", pythonFunction}, {"python3.12", pythonFunction}, {"nodejs20.x", nodeFunction}} {
		t.Run(tc.runtime, func(t *testing.T) {
			t.Parallel()
			if !slices.Contains(runtimes.Available(), tc.runtime) {
				t.Skipf("no interpreter for %s", tc.runtime)
			}
			testManaged(t, tc.runtime, tc.fn)
		})
	}
}

func testManaged(t *testing.T, runtime string, fn managedFunction) {
	m := MustOpenMain(t, "")
	createWithCLI(t, m, "fn", runtime, "app.handler", zipOf(t, fn.files), "--environment", "Variables={GREETING=hi}")
	outfile := filepath.Join(t.TempDir(), "out.json")
	invoke := func(args ...string) (string, []byte) {
		t.Helper()
		stdout, stderr, code := awsCLI(t, m, append(append([]string{"lambda", "invoke", "--function-name", "fn"}, args...), outfile)...)
		if code != 0 {
			t.Fatalf("invoke %v: %s %s", args, stdout, stderr)
		}
		b, _ := os.ReadFile(outfile)
		return stdout, b
	}
	configure := func(args ...string) {
		t.Helper()
		if out, stderr, code := awsCLI(t, m, append([]string{"lambda", "update-function-configuration", "--function-name", "fn"}, args...)...); code != 0 {
			t.Fatalf("update %v: %s %s", args, out, stderr)
		}
		MustSettle(t, client(m), "fn")
	}

	// The event, the context, the environment and the log lines.
	stdout, b := invoke("--payload", `{"x":1}`, "--log-type", "Tail", "--client-context", "eyJjdXN0b20iOnsiYSI6ImIifX0=")
	var got struct {
		Event                map[string]int
		RequestID, Function  string
		Version, Arn, Memory string
		Remaining            int
		LogGroup, LogStream  string
		Custom               map[string]string
		Cwd, Greeting        string
	}
	if strings.Contains(stdout, "FunctionError") || json.Unmarshal(b, &got) != nil || got.Event["x"] != 1 || got.RequestID == "" ||
		got.Function != "fn" || got.Version != "$LATEST" || got.Arn != "arn:aws:lambda:us-east-1:000000000000:function:fn" ||
		got.Memory != "128" || got.Remaining <= 0 || got.Remaining > 3000 || got.LogGroup != "/aws/lambda/fn" ||
		!regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(got.LogStream) ||
		got.Custom["a"] != "b" || got.Cwd != "/var/task" || got.Greeting != "hi" {
		t.Errorf("the handler answered %s", b)
	}
	var inv struct{ LogResult string }
	_ = json.Unmarshal([]byte(stdout), &inv)
	if tail := mustBase64(t, inv.LogResult); !fn.tail.MatchString(tail) || !strings.Contains(tail, got.RequestID) {
		t.Errorf("the log tail:\n%s\nwant a match of %s", tail, fn.tail)
	}

	// Handlers elsewhere in the package, and of other shapes.
	for handler, want := range fn.more {
		configure("--handler", handler)
		stdout, b := invoke("--log-type", "Tail")
		if strings.Contains(stdout, "FunctionError") || string(b) != want {
			_ = json.Unmarshal([]byte(stdout), &inv)
			t.Errorf("handler %s answered %s %s, want %s; log:\n%s", handler, stdout, b, want, mustBase64(t, inv.LogResult))
		}
	}

	// Two layers at /opt, the second's files over the first's: the
	// handler imports a module of the first.
	var arns []string
	for i, files := range fn.layers {
		stdout, stderr, code := awsCLI(t, m, "lambda", "publish-layer-version", "--layer-name", fmt.Sprintf("lib%d", i),
			"--zip-file", "fileb://"+zipOf(t, files), "--compatible-runtimes", runtime)
		var lv struct{ LayerVersionArn string }
		if code != 0 || json.Unmarshal([]byte(stdout), &lv) != nil {
			t.Fatalf("publish layer: %s %s", stdout, stderr)
		}
		arns = append(arns, lv.LayerVersionArn)
	}
	configure(append([]string{"--handler", "app.layered", "--layers"}, arns...)...)
	if stdout, b := invoke(); strings.Contains(stdout, "FunctionError") || string(b) != `{"greet": "hello from layer one", "which": "two", "extra": "site"}` && string(b) != `{"greet":"hello from layer one","which":"two","extra":"site"}` {
		t.Errorf("with layers: %s %s", stdout, b)
	}

	// An exception, as AWS's client reports it.
	configure("--handler", "app.fails")
	stdout, b = invoke("--payload", `{"what":"day"}`)
	if !strings.Contains(stdout, `"FunctionError": "Unhandled"`) || !fn.fails(b) {
		t.Errorf("a handler's exception: %s %s", stdout, b)
	}

	// /tmp and globals last as long as the environment; a timeout resets
	// it: the next invocation finds fresh globals and a fresh /tmp.
	configure("--handler", "app.keeps", "--timeout", "1")
	type kept struct{ Count, Calls int }
	invokeKeeps := func(payload string) (kept, string) {
		out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(payload)})
		var k kept
		if out.FunctionError != nil {
			return k, string(out.Payload)
		}
		if json.Unmarshal(out.Payload, &k) != nil {
			t.Fatalf("keeps: %s", out.Payload)
		}
		return k, ""
	}
	if a, _ := invokeKeeps(`{}`); a != (kept{1, 1}) {
		t.Errorf("first invocation: %+v", a)
	}
	if a, _ := invokeKeeps(`{}`); a != (kept{2, 2}) {
		t.Errorf("second invocation: %+v", a)
	}
	if _, fault := invokeKeeps(`{"sleep":3}`); !strings.Contains(fault, `"errorType":"Sandbox.Timedout"`) || !strings.Contains(fault, "Task timed out after 1.00 seconds") {
		t.Errorf("a timeout answered %s", fault)
	}
	if a, _ := invokeKeeps(`{}`); a != (kept{1, 1}) {
		t.Errorf("after a timeout: %+v, want a fresh environment", a)
	}

	// Two concurrent cold starts share no state: random values differ.
	configure("--handler", "app.handler", "--timeout", "10")
	var wg sync.WaitGroup
	answers := make([]struct {
		Random float64
		UUID   string
	}, 2)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"sleep":1}`)})
			if out.FunctionError != nil || json.Unmarshal(out.Payload, &answers[i]) != nil {
				t.Errorf("concurrent: %s", out.Payload)
			}
		}()
	}
	wg.Wait()
	if answers[0].Random == answers[1].Random || answers[0].UUID == answers[1].UUID || answers[0].UUID == "" {
		t.Errorf("two environments drew the same values: %+v", answers)
	}

	// Handlers that cannot be loaded fail the init, with the types and
	// texts of AWS's client; so do the runtime's own faults.
	for handler, want := range fn.faults {
		configure("--handler", handler)
		stdout, b := invoke()
		var e struct{ ErrorMessage, ErrorType string }
		if !strings.Contains(stdout, `"FunctionError": "Unhandled"`) || json.Unmarshal(b, &e) != nil || e.ErrorType != want[0] || !strings.Contains(e.ErrorMessage, want[1]) {
			t.Errorf("handler %s: %s %s, want %s %q", handler, stdout, b, want[0], want[1])
		}
	}
}

// Layers live in the store: after a restart a layer version is still
// there, with its archive, and a function runs with it.
func TestLayers_Restart(t *testing.T) {
	t.Parallel()
	const runtime = "python3.11"
	if !slices.Contains(runtimes.Available(), runtime) {
		t.Skipf("no interpreter for %s", runtime)
	}
	dir := t.TempDir()
	m := MustOpenMain(t, dir)
	ctx := t.Context()
	layerZip, err := testfn.ZipFiles(map[string]string{"python/greet.py": "def hello():\n    return 'kept'\n"})
	if err != nil {
		t.Fatal(err)
	}
	lv, err := client(m).PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("kept"), Content: &types.LayerVersionContentInput{ZipFile: layerZip}})
	if err != nil {
		t.Fatal(err)
	}
	createWithCLI(t, m, "fn", runtime, "app.handler", zipOf(t, map[string]string{"app.py": "import greet\n\ndef handler(event, context):\n    return greet.hello()\n"}),
		"--layers", aws.ToString(lv.LayerVersionArn))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = MustOpenMain(t, dir)
	got, err := client(m).GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: lv.LayerVersionArn})
	if err != nil || aws.ToString(got.Content.CodeSha256) != aws.ToString(lv.Content.CodeSha256) {
		t.Fatalf("after a restart: %v %+v", err, got)
	}
	out, _ := sdkInvoke(t, client(m), &lambda.InvokeInput{FunctionName: aws.String("fn")})
	if out.FunctionError != nil || string(out.Payload) != `"kept"` {
		t.Errorf("after a restart the function answered %s", out.Payload)
	}
}
