package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambada-dev/lambada/walls"
)

// --isolation: auto walls functions in where the host allows it and says
// at start what is missing where it does not; required refuses to start
// then; off runs functions as the node's user, in its namespaces.
func TestServe_Isolation(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("the walls need root")
	}
	logged := func(log *syncBuffer) func(*Main) {
		return func(m *Main) { m.Logger = slog.New(slog.NewTextHandler(log, nil)) }
	}
	taskRoot := func(t *testing.T, m *Main) (string, int) {
		t.Helper()
		c := client(m)
		MustCreateFunction(t, c, "fn", 3, nil)
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"echo"}`)})
		var e struct {
			Env   map[string]string
			TmpMB int
		}
		if json.Unmarshal(out.Payload, &e) != nil || out.FunctionError != nil {
			t.Fatalf("%s", out.Payload)
		}
		return e.Env["LAMBDA_TASK_ROOT"], e.TmpMB
	}
	t.Run("auto", func(t *testing.T) {
		var log syncBuffer
		m := MustOpenMain(t, "", logged(&log))
		if root, tmp := taskRoot(t, m); root != "/var/task" || tmp != 512 {
			t.Errorf("the function's code is at %s and its /tmp has %d MB, want /var/task and 512 MB", root, tmp)
		}
		if !strings.Contains(log.String(), `msg="functions are walled in"`) {
			t.Errorf("the start does not say what walls functions are in:\n%s", log.String())
		}
		// A function reaches the network, the node's own Lambda API
		// included, as it would reach AWS's.
		c := client(m)
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"),
			Payload: []byte(`{"action":"notify","msg":"http://` + m.Addr() + `/2015-03-31/functions/fn"}`)})
		if out.FunctionError != nil {
			t.Errorf("a function cannot reach the node's Lambda API: %s", out.Payload)
		}
		// Without a bootstrap, AWS's text names /var/task.
		var zipped bytes.Buffer
		zw := zip.NewWriter(&zipped)
		if w, err := zw.Create("handler.txt"); err != nil {
			t.Fatal(err)
		} else if _, err := w.Write([]byte("no bootstrap here")); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{FunctionName: aws.String("nob"), Runtime: types.RuntimeProvidedal2023,
			Handler: aws.String("x"), Role: aws.String("arn:aws:iam::123456789012:role/any"), Code: &types.FunctionCode{ZipFile: zipped.Bytes()}}); err != nil {
			t.Fatal(err)
		}
		MustSettle(t, c, "nob")
		out, _ = sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("nob")})
		if !bytes.Contains(out.Payload, []byte(`Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]`)) {
			t.Errorf("without a bootstrap: %s", out.Payload)
		}
	})
	t.Run("ephemeral storage", func(t *testing.T) {
		m := MustOpenMain(t, "")
		c := client(m)
		MustCreateFunction(t, c, "fn", 3, nil)
		if _, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"),
			EphemeralStorage: &types.EphemeralStorage{Size: aws.Int32(1024)}}); err != nil {
			t.Fatal(err)
		}
		MustSettle(t, c, "fn")
		out, _ := sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"echo"}`)})
		var e struct{ TmpMB int }
		if json.Unmarshal(out.Payload, &e) != nil || e.TmpMB != 1024 {
			t.Errorf("/tmp of a function with 1024 MB of ephemeral storage: %s", out.Payload)
		}
	})
	t.Run("memory budget", func(t *testing.T) {
		const budget = 100 << 10 // MB: felt by no test nearby
		m := MustOpenMain(t, "", func(m *Main) { m.MemoryMB = budget })
		t.Cleanup(func() { _ = walls.Detect(m.Logger).LimitAll(0) })
		c := client(m)
		MustCreateFunction(t, c, "budgeted", 3, nil)
		sdkInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("budgeted"), Payload: []byte(`{"action":"echo"}`)})
		dir, err := walls.Detect(m.Logger).CgroupOf(mustFindEnvironment(t, "budgeted").pid)
		if err != nil {
			t.Skipf("no memory cgroups here: %v", err)
		}
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "memory.limit_in_bytes"))
		if strings.TrimSpace(string(b)) != strconv.Itoa(budget<<20) {
			t.Errorf("the cgroup of all environments is limited to %q, want the budget (%d MB)", b, budget)
		}
	})
	t.Run("left running", func(t *testing.T) {
		// A process of the node's uids, as a killed node's environment
		// could leave one, is killed when the node starts.
		first, last := spareUIDs()
		left := exec.Command("/bin/sleep", "60")
		left.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: first + 3, Gid: first + 3}}
		if err := left.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = left.Process.Kill(); _ = left.Wait() })
		var log syncBuffer
		MustOpenMain(t, "", logged(&log), func(m *Main) { m.FirstUID, m.LastUID = first, last })
		if err := left.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("the left-over process ended with %v", err)
		}
		if !strings.Contains(log.String(), "killed what a node that was killed left running") {
			t.Errorf("the start does not say what it killed:\n%s", log.String())
		}
	})
	t.Run("off", func(t *testing.T) {
		var log syncBuffer
		m := MustOpenMain(t, "", logged(&log), func(m *Main) { m.Isolation = IsolationOff })
		if root, _ := taskRoot(t, m); !strings.HasPrefix(root, filepath.Join(m.Data, "code")+"/") {
			t.Errorf("the function's code is at %s, want its directory on the host", root)
		}
		if got := log.String(); !strings.Contains(got, "functions are not isolated from each other") || !strings.Contains(got, "why=\"--isolation off\"") {
			t.Errorf("the start does not say functions are not walled in, and why:\n%s", got)
		}
	})
	// A jail that cannot be made stands for a kernel that refuses one.
	noJail := func(t *testing.T) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "jail"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("auto where walls cannot be made", func(t *testing.T) {
		var log syncBuffer
		MustOpenMain(t, noJail(t), logged(&log))
		if got := log.String(); !strings.Contains(got, "functions are not isolated from each other") || !strings.Contains(got, "not a directory") {
			t.Errorf("the start does not say functions are not walled in, and why:\n%s", got)
		}
	})
	t.Run("required where walls cannot be made", func(t *testing.T) {
		m := &Main{Listen: "127.0.0.1:0", Data: noJail(t), Isolation: IsolationRequired}
		m.FirstUID, m.LastUID = spareUIDs()
		err := m.Open(context.Background())
		if err == nil {
			m.Close()
			t.Fatal("the node started without walls")
		}
		if !strings.Contains(err.Error(), "--isolation required: functions cannot be walled in on this host") {
			t.Errorf("error %q does not say why it refused", err)
		}
	})
}
