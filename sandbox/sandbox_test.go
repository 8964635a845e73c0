package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/testfn"
)

var codeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-test")
	if err != nil {
		panic(err)
	}
	if _, err := testfn.Zip(dir); err != nil {
		panic(err)
	}
	codeDir = filepath.Dir(testfn.Bootstrap())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBook records every line per function.
type logBook struct {
	mu    sync.Mutex
	lines []string
	srcs  []*lambada.LogSource // of each line
}

func (b *logBook) FunctionLog(src *lambada.LogSource, line []byte) {
	b.mu.Lock()
	b.lines = append(b.lines, src.Function+"|"+string(line))
	b.srcs = append(b.srcs, src)
	b.mu.Unlock()
}

func (b *logBook) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "")
}

// slotBook counts the slots freed per invocation: each must be freed once.
type slotBook struct {
	mu    sync.Mutex
	freed map[*lambada.Invocation]int
}

func (b *slotBook) Free(inv *lambada.Invocation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.freed == nil {
		b.freed = make(map[*lambada.Invocation]int)
	}
	b.freed[inv]++
}

// times returns how often inv's slot was freed.
func (b *slotBook) times(inv *lambada.Invocation) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed[inv]
}

// check fails t for every slot freed more than once.
func (b *slotBook) check(t *testing.T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for inv, n := range b.freed {
		if n != 1 {
			t.Errorf("invocation %s freed its slot %d times", inv.RequestID, n)
		}
	}
}

// newManager is a Manager whose every freed slot is checked once it is
// closed.
func newManager(t *testing.T) (*Manager, *logBook) {
	t.Helper()
	logs := &logBook{}
	slots := &slotBook{}
	m := &Manager{Logs: logs, Slots: slots}
	t.Cleanup(func() {
		m.Close()
		slots.check(t)
	})
	return m, logs
}

func testConfig(timeout time.Duration, env map[string]string) *lambada.SandboxConfig {
	return &lambada.SandboxConfig{Function: "fn", Version: "$LATEST", Generation: 1, Runtime: "provided.al2023", Handler: "bootstrap",
		MemorySize: 128, Timeout: timeout, Environment: env, CodeDir: codeDir, Region: "us-east-1"}
}

func invocation(payload string) *lambada.Invocation {
	return &lambada.Invocation{RequestID: uuid.NewString(), Type: lambada.RequestResponse, LogType: lambada.LogTail,
		InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:fn", Payload: []byte(payload)}
}

type echo struct {
	RequestID   string            `json:"requestId"`
	InvokedArn  string            `json:"invokedArn"`
	Env         map[string]string `json:"env"`
	PID         int               `json:"pid"`
	Invocations int               `json:"invocations"`
	WD          string            `json:"wd"`
	DeadlineMs  int64             `json:"deadlineMs"`
}

func mustRun(t *testing.T, m *Manager, cfg *lambada.SandboxConfig, inv *lambada.Invocation) *lambada.Result {
	t.Helper()
	res, err := m.Run(context.Background(), cfg, inv)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func mustEcho(t *testing.T, m *Manager, cfg *lambada.SandboxConfig) echo {
	t.Helper()
	inv := invocation(`{"action":"echo"}`)
	res := mustRun(t, m, cfg, inv)
	var e echo
	if res.FunctionError != "" || json.Unmarshal(res.Payload, &e) != nil {
		t.Fatalf("echo: error %q payload %s", res.FunctionError, res.Payload)
	}
	if e.RequestID != inv.RequestID {
		t.Fatalf("function saw request id %q, want %q", e.RequestID, inv.RequestID)
	}
	return e
}

func TestSandbox_EchoAndEnvironment(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, map[string]string{"GREETING": "hi"})
	t.Setenv("LAMBADA_SECRET_OF_SERVER", "leak")
	before := time.Now()
	e := mustEcho(t, m, cfg)
	want := map[string]string{
		"GREETING": "hi", "AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "LAMBDA_TASK_ROOT": codeDir, "_HANDLER": "bootstrap",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "TZ": ":UTC",
		"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
	}
	for k, v := range want {
		if e.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, e.Env[k], v)
		}
	}
	for _, k := range []string{"LAMBADA_SECRET_OF_SERVER", "HOME"} {
		if _, ok := e.Env[k]; ok {
			t.Errorf("env %s inherited from the server", k)
		}
	}
	if !strings.HasPrefix(e.Env["AWS_LAMBDA_LOG_STREAM_NAME"], time.Now().UTC().Format("2006/01/02")+"/[$LATEST]") {
		t.Errorf("log stream %q", e.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if e.WD != codeDir {
		t.Errorf("working directory %q, want %q", e.WD, codeDir)
	}
	if e.InvokedArn != "arn:aws:lambda:us-east-1:000000000000:function:fn" {
		t.Errorf("invoked arn %q", e.InvokedArn)
	}
	if d := time.UnixMilli(e.DeadlineMs).Sub(before); d < 3*time.Second || d > 4*time.Second {
		t.Errorf("deadline %v after the call began, want about 3s", d)
	}
}

func TestSandbox_WarmReuseAndConcurrency(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	a, b := mustEcho(t, m, cfg), mustEcho(t, m, cfg)
	if a.PID != b.PID || b.Invocations != 2 {
		t.Fatalf("second invocation ran in pid %d (invocation %d), want warm pid %d", b.PID, b.Invocations, a.PID)
	}
	// Two invocations that overlap need two environments.
	var wg sync.WaitGroup
	results := make([]*lambada.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = mustRun(t, m, cfg, invocation(`{"action":"sleep","ms":300}`))
		}()
	}
	wg.Wait()
	m.mu.Lock()
	n := len(m.envs)
	m.mu.Unlock()
	if n < 2 {
		t.Fatalf("%d environments after two overlapping invocations, want 2", n)
	}
}

func TestSandbox_FunctionErrorKeepsEnvironment(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	a := mustEcho(t, m, cfg)
	res := mustRun(t, m, cfg, invocation(`{"action":"error","msg":"boom"}`))
	if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte(`"errorMessage":"boom"`)) {
		t.Fatalf("error result %q %s", res.FunctionError, res.Payload)
	}
	if b := mustEcho(t, m, cfg); b.PID != a.PID {
		t.Fatalf("environment was reset after a handled error")
	}
}

func TestSandbox_ResetAfterFailure(t *testing.T) {
	for _, tc := range []struct {
		name, payload, errorType, message string
		timeout                           time.Duration
	}{
		{"panic", `{"action":"panic","msg":"oh no"}`, `"errorType":"string"`, `"errorMessage":"oh no"`, 3 * time.Second},
		{"exit", `{"action":"exit","code":3}`, `"errorType":"Runtime.ExitError"`, `Error: Runtime exited with error: exit status 3"`, 3 * time.Second},
		{"exit0", `{"action":"exit","code":0}`, `"errorType":"Runtime.ExitError"`, `Error: Runtime exited without providing a reason"`, 3 * time.Second},
		{"timeout", `{"action":"sleep","ms":5000}`, `"errorType":"Sandbox.Timedout"`, `Error: Task timed out after 0.00 seconds"`, 200 * time.Millisecond}, // whole seconds, as AWS's timeouts are
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, logs := newManager(t)
			cfg := testConfig(tc.timeout, nil)
			a := mustEcho(t, m, cfg)
			inv := invocation(tc.payload)
			res := mustRun(t, m, cfg, inv)
			if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte(tc.errorType)) || !bytes.Contains(res.Payload, []byte(tc.message)) {
				t.Fatalf("result %q %s", res.FunctionError, res.Payload)
			}
			if strings.HasPrefix(tc.errorType, `"errorType":"Runtime`) || strings.HasPrefix(tc.errorType, `"errorType":"Sandbox`) {
				if !bytes.Contains(res.Payload, []byte("RequestId: "+inv.RequestID+" Error: ")) {
					t.Errorf("fault payload %s lacks the request id", res.Payload)
				}
				if !bytes.Contains(res.LogTail, []byte("END RequestId: "+inv.RequestID)) {
					t.Errorf("tail lacks END: %q", res.LogTail)
				}
			}
			b := mustEcho(t, m, cfg)
			if b.PID == a.PID || b.Invocations != 1 {
				t.Fatalf("after %s the next invocation ran in pid %d (invocation %d), want a fresh environment", tc.name, b.PID, b.Invocations)
			}
			if !strings.Contains(logs.text(), "START RequestId: "+inv.RequestID+" Version: $LATEST") {
				t.Errorf("no START line for the failed invocation")
			}
		})
	}
}

func TestSandbox_LogTail(t *testing.T) {
	m, logs := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	inv := invocation(`{"action":"print","msg":"hello-from-fn"}`)
	res := mustRun(t, m, cfg, inv)
	tail := string(res.LogTail)
	for _, want := range []string{
		"START RequestId: " + inv.RequestID + " Version: $LATEST\n",
		"hello-from-fn\n", "stderr:hello-from-fn\n",
		"END RequestId: " + inv.RequestID + "\n",
		"REPORT RequestId: " + inv.RequestID + "\tDuration: ",
		"\tMemory Size: 128 MB\tMax Memory Used: ", "\tInit Duration: ",
	} {
		if !strings.Contains(tail, want) {
			t.Errorf("tail lacks %q:\n%s", want, tail)
		}
	}
	if strings.Index(tail, "hello-from-fn") > strings.Index(tail, "END RequestId") || !strings.HasPrefix(tail, "START RequestId") {
		t.Errorf("function output before START or after END:\n%s", tail)
	}
	first := inv.RequestID
	if strings.Contains(tail, "Max Memory Used: 0 MB") {
		t.Errorf("max memory not measured:\n%s", tail)
	}
	// A warm invocation has no Init Duration; a big output is cut to 4 KB.
	inv = invocation(`{"action":"print","msg":"` + strings.Repeat("y", 100) + `","count":200}`)
	res = mustRun(t, m, cfg, inv)
	if len(res.LogTail) != lambada.LogTailSize {
		t.Fatalf("tail of %d bytes, want %d", len(res.LogTail), lambada.LogTailSize)
	}
	if strings.Contains(string(res.LogTail), "Init Duration") || !strings.Contains(string(res.LogTail), "REPORT RequestId: "+inv.RequestID) {
		t.Errorf("warm tail:\n%s", res.LogTail)
	}
	// The environment is pooled before the first invocation's END and
	// REPORT are written; the second one's START still comes after them.
	if text := logs.text(); strings.Index(text, "REPORT RequestId: "+first) > strings.Index(text, "START RequestId: "+inv.RequestID) {
		t.Errorf("the second invocation started before the first ended:\n%s", text)
	}
	if !strings.Contains(logs.text(), "fn|hello-from-fn\n") {
		t.Errorf("function output not passed to the log sink")
	}
}

func TestSandbox_ResponseTooLarge(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(10*time.Second, nil)
	res := mustRun(t, m, cfg, invocation(fmt.Sprintf(`{"action":"big","size":%d}`, lambada.MaxResponsePayload)))
	want := `{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes)."}`
	if res.FunctionError != "Unhandled" || string(res.Payload) != want {
		t.Fatalf("result %q %.200s", res.FunctionError, res.Payload)
	}
	// Just under the limit passes: the JSON string adds two quotes.
	res = mustRun(t, m, cfg, invocation(fmt.Sprintf(`{"action":"big","size":%d}`, lambada.MaxResponsePayload-2)))
	if res.FunctionError != "" || len(res.Payload) != lambada.MaxResponsePayload {
		t.Fatalf("result at the limit: %q, %d bytes", res.FunctionError, len(res.Payload))
	}
}

func TestSandbox_InitFailures(t *testing.T) {
	for _, tc := range []struct{ init, want, report string }{
		{"exit", `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ID Error: Runtime exited with error: exit status 3"}`,
			"\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n"},
		{"initerror", `{"errorMessage":"init failed on purpose","errorType":"InitFailed"}`,
			"\tPhase: init\tStatus: error\tError Type: InitFailed\n"},
	} {
		t.Run(tc.init, func(t *testing.T) {
			m, logs := newManager(t)
			cfg := testConfig(3*time.Second, map[string]string{"TESTFN_INIT": tc.init})
			for range 2 { // init is tried again on the next invocation
				inv := invocation(`{}`)
				res := mustRun(t, m, cfg, inv)
				if want := strings.ReplaceAll(tc.want, "ID", inv.RequestID); res.FunctionError != "Unhandled" || string(res.Payload) != want {
					t.Fatalf("result %q %s, want %s", res.FunctionError, res.Payload, want)
				}
			}
			// Each failed init has its INIT_REPORT, before its call's
			// START.
			text := logs.text()
			if n := strings.Count(text, tc.report); n != 2 || !regexp.MustCompile(`fn\|INIT_REPORT Init Duration: \d+\.\d\d ms\t`).MatchString(text) ||
				strings.Index(text, "INIT_REPORT") > strings.Index(text, "START RequestId") {
				t.Errorf("%d INIT_REPORT lines ending %q in\n%s", n, tc.report, text)
			}
		})
	}
	t.Run("no bootstrap", func(t *testing.T) {
		m, logs := newManager(t)
		cfg := testConfig(3*time.Second, nil)
		cfg.CodeDir = t.TempDir()
		inv := invocation(`{}`)
		res := mustRun(t, m, cfg, inv)
		if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte(`"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: `+inv.RequestID+` Error: Couldn't find valid bootstrap(s)`)) {
			t.Fatalf("result %q %s", res.FunctionError, res.Payload)
		}
		// Its lines are logged too, though no environment started.
		if got := logs.text(); !strings.Contains(got, "fn|REPORT RequestId: "+inv.RequestID) {
			t.Errorf("log:\n%s", got)
		}
	})
}

func TestSandbox_ClientContextAndCancelledCaller(t *testing.T) {
	m, _ := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	inv := invocation(`{"action":"echo"}`)
	inv.ClientContext = []byte(`{"custom":{"k":"v"},"client":{"installation_id":"i1"},"env":{"e":"1"}}`)
	res := mustRun(t, m, cfg, inv)
	var got struct {
		ClientContext struct {
			Client struct {
				InstallationID string `json:"installation_id"`
			} `json:"Client"`
			Custom map[string]string `json:"custom"`
		} `json:"clientContext"`
	}
	if err := json.Unmarshal(res.Payload, &got); err != nil || got.ClientContext.Custom["k"] != "v" || got.ClientContext.Client.InstallationID != "i1" {
		t.Fatalf("client context not delivered: %s", res.Payload)
	}
	// A caller that leaves does not break the environment.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(ctx, cfg, invocation(`{"action":"sleep","ms":200}`))
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatalf("Run with a cancelled context returned no error")
	}
	mustEcho(t, m, cfg)
}

// A function that prints megabytes affects only its own invocation.
func TestSandbox_NoisyNeighbour(t *testing.T) {
	m, logs := newManager(t)
	noisy, quiet := testConfig(10*time.Second, nil), testConfig(3*time.Second, nil)
	noisy.Function, quiet.Function = "noisy", "quiet"
	mustEcho(t, m, quiet)
	done := make(chan *lambada.Result, 1)
	go func() {
		done <- mustRun(t, m, noisy, invocation(`{"action":"print","msg":"`+strings.Repeat("n", 1000)+`","count":8000}`))
	}()
	for range 20 {
		inv := invocation(`{"action":"print","msg":"quiet-line"}`)
		res := mustRun(t, m, quiet, inv)
		if res.FunctionError != "" || strings.Contains(string(res.LogTail), "nnnn") || !strings.Contains(string(res.LogTail), "quiet-line\n") {
			t.Fatalf("quiet invocation: %q\n%q", res.FunctionError, res.LogTail)
		}
	}
	res := <-done
	if res.FunctionError != "" || len(res.LogTail) != lambada.LogTailSize || !strings.Contains(string(res.LogTail), "END RequestId") {
		t.Fatalf("noisy invocation: %q, %d-byte tail", res.FunctionError, len(res.LogTail))
	}
	if n := strings.Count(logs.text(), "noisy|"+strings.Repeat("n", 1000)+"\n"); n != 8000 {
		t.Fatalf("the sink saw %d of the noisy function's 8000 lines", n)
	}
}

// An environment's lines go to its own log stream, the one its function is
// told of, in the group and format of its LoggingConfig.
func TestSandbox_LogStream(t *testing.T) {
	m, logs := newManager(t)
	text := mustEcho(t, m, testConfig(3*time.Second, nil))
	if _, ok := text.Env["AWS_LAMBDA_LOG_FORMAT"]; ok {
		t.Errorf("Text sets AWS_LAMBDA_LOG_FORMAT")
	}
	cfg := testConfig(3*time.Second, nil)
	cfg.Logging = lambada.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "WARN", SystemLogLevel: "INFO", LogGroup: "/custom/g"}
	cfg.Generation = 2
	e := mustEcho(t, m, cfg)
	for k, v := range map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/g"} {
		if e.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, e.Env[k], v)
		}
	}
	streams := map[string]string{} // stream → group
	logs.mu.Lock()
	for _, src := range logs.srcs {
		streams[src.Stream] = src.Group
	}
	logs.mu.Unlock()
	if streams[text.Env["AWS_LAMBDA_LOG_STREAM_NAME"]] != "/aws/lambda/fn" || streams[e.Env["AWS_LAMBDA_LOG_STREAM_NAME"]] != "/custom/g" || len(streams) != 2 {
		t.Errorf("lines went to %v; the environments were told %q and %q", streams, text.Env["AWS_LAMBDA_LOG_STREAM_NAME"], e.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
}

// An environment's first line is INIT_START, in its own stream, and no
// invocation's log tail holds it.
func TestSandbox_InitStart(t *testing.T) {
	m, logs := newManager(t)
	cfg := testConfig(3*time.Second, nil)
	inv := invocation(`{}`)
	res := mustRun(t, m, cfg, inv)
	logs.mu.Lock()
	first, src := logs.lines[0], logs.srcs[0]
	logs.mu.Unlock()
	want := "fn|INIT_START Runtime Version: provided:al2023.lambada-1\tRuntime Version ARN: " + lambada.RuntimeVersionARN("us-east-1", "provided.al2023") + "\n"
	if first != want || src.Stream == "" {
		t.Errorf("the first line %q in %q, want %q", first, src.Stream, want)
	}
	if bytes.Contains(res.LogTail, []byte("INIT_START")) {
		t.Errorf("the log tail holds INIT_START:\n%s", res.LogTail)
	}
}

// States counts the environments alive by phase.
func TestManager_States(t *testing.T) {
	m, _ := newManager(t)
	mustEcho(t, m, testConfig(3*time.Second, nil))
	poll(t, "the environment idle", func() bool { return m.States()["idle"] == 1 })
	if s := m.States(); s["starting"] != 0 || s["running"] != 0 || s["answered"] != 0 {
		t.Errorf("states %v", s)
	}
}
