package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/walls"
	"github.com/lambada-dev/lambada/walls/wallstest"
)

// memoryModes are the ways an environment's memory can be limited; each
// test runs in every one the host offers.
var memoryModes = []string{"cgroup-v2", "cgroup-v1", "watch"}

// useMemoryMode makes m's environments use mode, or skips the test where
// the host does not offer it, and returns the walls.
func useMemoryMode(t *testing.T, m *Manager, mode string) *walls.Host {
	t.Helper()
	w := walls.WatchOnly()
	if mode != "watch" {
		var err error
		if w, err = walls.Probe(mode == "cgroup-v2"); err != nil {
			t.Skipf("%s with the memory controller is not available on this host: %v", mode, err)
		}
	}
	m.Walls = w
	return w
}

// envCgroup returns the cgroup directory that process pid is in, which must
// be an environment's cgroup of w.
func envCgroup(t *testing.T, w *walls.Host, pid int) string {
	t.Helper()
	dir, err := w.CgroupOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var maxMemoryRE = regexp.MustCompile(`Max Memory Used: (\d+) MB`)

func maxMemoryUsed(t *testing.T, tail []byte) int {
	t.Helper()
	m := maxMemoryRE.FindSubmatch(tail)
	if m == nil {
		t.Fatalf("no Max Memory Used in\n%s", tail)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// waitGone polls until path no longer exists.
func waitGone(t *testing.T, path string) {
	t.Helper()
	pollpkg.Until(t, 10*time.Second, path+" is gone", func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, os.ErrNotExist)
	})
}

func TestMemory_OutOfMemory(t *testing.T) {
	for _, mode := range memoryModes {
		t.Run(mode, func(t *testing.T) {
			m, _ := newManager(t)
			h := useMemoryMode(t, m, mode)
			cgroups := mode != "watch"
			cfg := testConfig(30*time.Second, nil)
			a := mustEcho(t, m, cfg)
			var dir string
			if cgroups {
				dir = envCgroup(t, h, a.PID)
			}
			// The watch needs the memory to stay a while: it samples.
			inv := invocation(`{"action":"alloc","size":512,"ms":20000}`)
			res := mustRun(t, m, cfg, inv)
			want := `{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: ` + inv.RequestID +
				` Error: Runtime exited with error: signal: killed"}`
			if res.FunctionError != "Unhandled" || string(res.Payload) != want {
				t.Fatalf("result %q %s, want Unhandled %s", res.FunctionError, res.Payload, want)
			}
			tail := string(res.LogTail)
			for _, line := range []string{
				"\tStatus: error\tError Type: Runtime.OutOfMemory\t\n",
				"RequestId: " + inv.RequestID + " Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory\n",
			} {
				if !strings.Contains(tail, line) {
					t.Errorf("tail lacks %q:\n%s", line, tail)
				}
			}
			if used := maxMemoryUsed(t, res.LogTail); used < 128 || (cgroups && used != 128) {
				t.Errorf("Max Memory Used: %d MB after an out-of-memory kill at 128 MB", used)
			}
			b := mustEcho(t, m, cfg)
			if b.PID == a.PID || b.Invocations != 1 {
				t.Fatalf("the next invocation ran in pid %d (invocation %d), want a fresh environment", b.PID, b.Invocations)
			}
			if cgroups {
				waitGone(t, dir)
				if dir == envCgroup(t, h, b.PID) {
					t.Errorf("the fresh environment reuses cgroup %s", dir)
				}
			}
		})
	}
}

func TestMemory_UnderLimit(t *testing.T) {
	for _, mode := range memoryModes {
		t.Run(mode, func(t *testing.T) {
			m, _ := newManager(t)
			useMemoryMode(t, m, mode)
			cfg := testConfig(10*time.Second, nil)
			a := mustEcho(t, m, cfg)
			res := mustRun(t, m, cfg, invocation(`{"action":"alloc","size":64}`))
			if res.FunctionError != "" || !strings.Contains(string(res.Payload), `"allocatedMB":64`) {
				t.Fatalf("result %q %s", res.FunctionError, res.Payload)
			}
			if used := maxMemoryUsed(t, res.LogTail); used < 64 || used > 128 {
				t.Errorf("Max Memory Used: %d MB after allocating 64 MB", used)
			}
			if b := mustEcho(t, m, cfg); b.PID != a.PID {
				t.Errorf("environment reset after an allocation under the limit")
			}
		})
	}
}

// An environment's cgroup has its limit, holds its processes and none of
// the server's threads, and is gone once the environment is closed.
func TestMemory_CgroupLifecycle(t *testing.T) {
	for _, mode := range memoryModes[:2] {
		t.Run(mode, func(t *testing.T) {
			m, _ := newManager(t)
			h := useMemoryMode(t, m, mode)
			cfg := testConfig(10*time.Second, nil)
			cfg.MemorySize = 256
			a := mustEcho(t, m, cfg)
			dir := envCgroup(t, h, a.PID)
			limits := map[string]string{"memory.limit_in_bytes": "268435456", "memory.memsw.limit_in_bytes": "268435456"}
			if h.V2() {
				limits = map[string]string{"memory.max": "268435456", "memory.swap.max": "0", "memory.oom.group": "1"}
			}
			for file, want := range limits {
				b, err := os.ReadFile(filepath.Join(dir, file))
				if got := strings.TrimSpace(string(b)); err == nil && got != want {
					t.Errorf("%s = %s, want %s", file, got, want)
				}
			}
			procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			if f := strings.Fields(string(procs)); len(f) != 1 || f[0] != strconv.Itoa(a.PID) {
				t.Errorf("cgroup.procs = %q, want only the runtime %d", procs, a.PID)
			}
			wallstest.MustHoldNoThreadOfOurs(t, dir)
			m.Close()
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s remains after Close: %v", dir, err)
			}
			mustBeIdle(t, h)
		})
	}
}

// mustBeIdle checks that w holds nothing once its environments are gone.
func mustBeIdle(t *testing.T, w *walls.Host) {
	t.Helper()
	if err := w.Idle(); err != nil {
		t.Error(err)
	}
}
