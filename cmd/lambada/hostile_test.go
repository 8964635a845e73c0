package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/funclog"
	"github.com/lambada-dev/lambada/internal/poll"
)

// TestHostile runs a hostile function beside a normal one on a real node
// (lambada serve in a child process): each attack must fail, and the
// normal function must answer every invocation throughout.
func TestHostile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs a node in a child process")
	}
	if os.Getuid() != 0 {
		t.Skip("the walls need root")
	}
	dir := t.TempDir()
	node, c := childNode(t, dir, "--log-functions")
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	for _, name := range []string{"victim", "thief"} {
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Role: aws.String("arn:aws:iam::123456789012:role/any"), Code: &types.FunctionCode{ZipFile: fnZip},
			Timeout: aws.Int32(60), MemorySize: aws.Int32(1024),
			Environment: &types.Environment{Variables: withMarks(t, map[string]string{"SECRET": "victim's secret " + name})}}); err != nil {
			t.Fatal(err)
		}
		MustSettle(t, c, name)
	}

	// The normal function answers, one invocation after the other, until
	// the attacks are over.
	var answered, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte(`{"action":"echo"}`)})
			var e echoed
			switch {
			case err != nil:
				firstFailure.CompareAndSwap(nil, err.Error())
				failed.Add(1)
			case out.FunctionError != nil || json.Unmarshal(out.Payload, &e) != nil || e.Env["SECRET"] != "victim's secret victim":
				firstFailure.CompareAndSwap(nil, string(out.Payload))
				failed.Add(1)
			default:
				answered.Add(1)
			}
		}
	}()
	poll.Until(t, 20*time.Second, "the victim answers", func() bool { return answered.Load() > 0 })
	victim := mustFindEnvironment(t, "victim")

	attack := func(t *testing.T, name string, params any) map[string]any {
		t.Helper()
		v, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("thief"),
			Payload: []byte(fmt.Sprintf(`{"action":"attack","msg":%q,"value":%s}`, name, v))})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got map[string]any
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil {
			t.Fatalf("%s: %s %s", name, aws.ToString(out.FunctionError), out.Payload)
		}
		t.Logf("%s: %s", name, out.Payload)
		return got
	}

	t.Run("kill the node and another environment", func(t *testing.T) {
		got := attack(t, "kill", map[string]any{"pids": []int{node.Pid, victim.pid}})
		for _, pid := range []int{node.Pid, victim.pid} {
			if got[strconv.Itoa(pid)] != "no such process" {
				t.Errorf("kill %d: %v, want no such process", pid, got[strconv.Itoa(pid)])
			}
		}
		if got["ppid"] != "0" {
			t.Errorf("its parent is %v, want none in its namespace (0)", got["ppid"])
		}
	})
	t.Run("see other processes", func(t *testing.T) {
		got := attack(t, "proc", nil)
		pids, _ := got["pids"].([]any)
		if len(pids) == 0 || len(pids) > 3 {
			t.Errorf("its /proc lists %v, want only its own processes", pids)
		}
		for _, p := range pids {
			if int(p.(float64)) == node.Pid || int(p.(float64)) == victim.pid {
				t.Errorf("its /proc lists pid %v of the node or the victim", p)
			}
		}
	})
	t.Run("read and write what is not its own", func(t *testing.T) {
		code, err := filepath.Glob(filepath.Join(data, "code", "*", "bootstrap"))
		if err != nil || len(code) == 0 {
			t.Fatalf("no unpacked code under %s: %v", data, err)
		}
		before, err := os.ReadFile(code[0])
		if err != nil {
			t.Fatal(err)
		}
		reads := []string{code[0], filepath.Join(data, "lock"), filepath.Join(data, "jetstream"), "/etc/shadow",
			fmt.Sprintf("/proc/%d/environ", node.Pid), fmt.Sprintf("/proc/%d/environ", victim.pid)}
		writes := []string{code[0], "/var/task/bootstrap", "/usr/bin/env", "/etc/passwd", "/bootstrap"}
		got := attack(t, "files", map[string]any{"read": reads, "write": writes})
		for _, p := range reads {
			if r, _ := got["read "+p].(string); !strings.HasSuffix(r, "(0 bytes)") || strings.HasPrefix(r, "ok") {
				t.Errorf("read %s: %q, want refused", p, r)
			}
		}
		for _, p := range writes {
			if w, _ := got["write "+p].(string); w == "ok" || w == "" {
				t.Errorf("write %s: %q, want refused", p, w)
			}
		}
		if w := got["write /var/task/bootstrap"]; !strings.Contains(fmt.Sprint(w), "read-only file system") {
			t.Errorf("its own code: %v, want a read-only file system", w)
		}
		if after, err := os.ReadFile(code[0]); err != nil || !bytes.Equal(after, before) {
			t.Errorf("the code on the host changed: %v", err)
		}
	})
	t.Run("steal another environment's invocations", func(t *testing.T) {
		// Every environment is told one address; a connection reaches the
		// environment of the user that made it: the thief's own, which
		// has no event for it while it runs this one (403), never the
		// victim's.
		got := attack(t, "steal", map[string]any{"addr": victim.runtimeAPI, "tries": 200})
		if len(got) != 1 || got["answered HTTP/1.1 403 Forbidden"] != float64(200) {
			t.Errorf("200 tries at the victim's Runtime API got %v, want each answered by the thief's own", got)
		}
	})
	t.Run("fork bomb", func(t *testing.T) {
		got := attack(t, "forkbomb", map[string]any{"max": 5000})
		if n := got["started"].(float64); n >= 1024 || n < 100 || !strings.Contains(fmt.Sprint(got["err"]), "resource temporarily unavailable") {
			t.Errorf("fork bomb: %v, want refused before 1024 processes", got)
		}
	})
	t.Run("fill /tmp", func(t *testing.T) {
		got := attack(t, "filltmp", map[string]any{"max": 2048})
		if mb := got["mb"].(float64); mb < 500 || mb > 512 || !strings.Contains(fmt.Sprint(got["err"]), "no space left on device") {
			t.Errorf("fill /tmp: %v, want no space left at 512 MB", got)
		}
	})
	t.Run("exhaust file descriptors", func(t *testing.T) {
		got := attack(t, "fds", nil)
		if got["raised"] != false || got["hard"] != float64(1024) || got["opened"].(float64) > 1024 {
			t.Errorf("file descriptors: %v, want at most 1024 and the limit kept", got)
		}
	})
	t.Run("100 MB of output", func(t *testing.T) {
		rss := func() int {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", node.Pid))
			_, v, _ := strings.Cut(string(b), "VmRSS:")
			kb, _ := strconv.Atoi(strings.Fields(v + " 0")[0])
			return kb / 1024
		}
		logFile := filepath.Join(dir, "serve.log")
		logSize := func() int {
			fi, err := os.Stat(logFile)
			if err != nil {
				t.Fatal(err)
			}
			return int(fi.Size())
		}
		before, logBefore, began := rss(), logSize(), time.Now()
		got := attack(t, "output", map[string]any{"max": 100})
		if got["bytes"] != float64(100<<20) {
			t.Errorf("output: %v", got)
		}
		if after := rss(); after-before > 64 {
			t.Errorf("the node grew from %d to %d MB resident while a function wrote 100 MB", before, after)
		}
		// Its log, which copies function output, grew by the burst and
		// the rate for as long as the attack took (and some lines of the
		// node's own).
		grew, took := logSize()-logBefore, time.Since(began)
		allowed := funclog.DefaultOutBurst + int(took.Seconds()+1)*funclog.DefaultOutRate + 256<<10
		log, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		if grew > allowed || !bytes.Contains(log, []byte("lambada dropped")) {
			t.Errorf("the node's log grew by %d bytes (%d allowed in %v) as a function wrote 100 MB, and says dropped: %v", grew, allowed, took, bytes.Contains(log, []byte("lambada dropped")))
		}
	})

	thief := mustFindEnvironment(t, "thief")
	close(stop)
	wg.Wait()
	if f := failed.Load(); f > 0 || answered.Load() == 0 {
		t.Errorf("the normal function failed %d of %d invocations during the attacks; first: %v", f, f+answered.Load(), firstFailure.Load())
	}
	if err := syscall.Kill(node.Pid, 0); err != nil {
		t.Fatalf("the node is gone: %v", err)
	}
	// A node that is killed takes every environment with it, even one
	// that tried to clear its parent-death signal and is busy with an
	// invocation, so will not notice its Runtime API is gone.
	if got := attack(t, "undie", nil); got["prctl"] != "operation not permitted" {
		t.Errorf("clearing its parent-death signal: %v, want refused", got)
	}
	started := filepath.Join(t.TempDir(), "started")
	go func() {
		_, _ = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("thief"),
			Payload: []byte(`{"action":"file","msg":"bootstrap","ms":60000,"mark":"` + started + `"}`)})
	}()
	poll.Until(t, 10*time.Second, "the thief is busy", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	if err := syscall.Kill(node.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// A zombie is gone too: its reaper, once the node's, is whoever
		// adopts it.
		return errors.Is(err, os.ErrNotExist) || bytes.Contains(b, []byte(") Z "))
	}
	poll.Until(t, 10*time.Second, "the killed node's environments are gone", func() bool {
		return gone(victim.pid) && gone(thief.pid)
	})
}

// environment is a live environment found on the host.
type environment struct {
	pid        int
	runtimeAPI string
}

// mustFindEnvironment finds the runtime process of function on this host
// (a test runs as root) by its environment variables.
func mustFindEnvironment(t *testing.T, function string) environment {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(b, []byte("\x00AWS_LAMBDA_FUNCTION_NAME="+function+"\x00")) {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_RUNTIME_API=")); ok {
				return environment{pid: pid, runtimeAPI: string(v)}
			}
		}
	}
	t.Fatalf("no environment of %s on this host", function)
	return environment{}
}
