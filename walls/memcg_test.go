package walls

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
	"github.com/lambada-dev/lambada/walls/wallstest"
)

// startSleeper starts a process through g and returns its pid; the test
// kills it at the end.
func startSleeper(t *testing.T, g *memcg) int {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.start(cmd, func(bool) error { return cmd.Start() }, hold{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// A process is in its cgroup from its first instruction (it is born there)
// and the server's threads are not.
func TestCgroup_StartInside(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		h, err := testHierarchy(false)
		if err != nil {
			t.Skipf("cgroup v1 memory not available: %v", err)
		}
		g, err := newMemcg(h, 64, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the sleepers are killed
			g.remove(slog.New(slog.DiscardHandler))
			if _, err := os.Stat(g.dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s remains", g.dir)
			}
		})
		for range 3 { // the forking thread goes home each time
			pid := startSleeper(t, g)
			if dir := envCgroup(t, h, pid); dir != g.dir {
				t.Fatalf("process in %s, want %s", dir, g.dir)
			}
			wallstest.MustHoldNoThreadOfOurs(t, g.dir)
		}
	})
	t.Run("v1 from the main thread", func(t *testing.T) {
		h, err := testHierarchy(false)
		if err != nil {
			t.Skipf("cgroup v1 memory not available: %v", err)
		}
		g, err := newMemcg(h, 64, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.remove(slog.New(slog.DiscardHandler)) })
		sleep, err := exec.LookPath("sleep")
		if err != nil {
			t.Skip("no sleep command")
		}
		cmd := exec.Command(sleep, "60")
		if !onMainThread(func() {
			err = g.start(cmd, func(bool) error { return cmd.Start() }, hold{}) // from the main thread
		}) {
			t.Skip("no goroutine got the main thread")
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if dir := envCgroup(t, h, cmd.Process.Pid); dir != g.dir {
			t.Fatalf("process in %s, want %s", dir, g.dir)
		}
		wallstest.MustHoldNoThreadOfOurs(t, g.dir)
	})
	t.Run("v2", func(t *testing.T) {
		// Without the memory controller this still shows how processes
		// enter a v2 cgroup (clone3 into it).
		mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
		self, _ := os.ReadFile("/proc/self/cgroup")
		var home string
		for _, h := range candidates(mountinfo, self) {
			if h.v2 {
				home = h.home
				break
			}
		}
		if home == "" {
			t.Skip("no cgroup v2 hierarchy mounted")
		}
		parent, err := os.MkdirTemp(home, "lambada-test-")
		if err != nil {
			t.Skipf("cannot make a cgroup v2 here: %v", err)
		}
		h := &hierarchy{v2: true, home: home, parent: parent, envs: 1}
		g := &memcg{h: h, dir: filepath.Join(parent, "env")}
		if err := os.Mkdir(g.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the sleeper is killed
			g.remove(slog.New(slog.DiscardHandler))
			if _, err := os.Stat(parent); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s remains", parent)
			}
		})
		pid := startSleeper(t, g)
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if v2, _ := parseProcCgroup(b); !strings.HasSuffix(g.dir, v2) || !strings.HasSuffix(v2, "/env") {
			t.Fatalf("process in v2 cgroup %q, want %s", v2, g.dir)
		}
	})
}

func TestRSSWatch_KillsOverLimit(t *testing.T) {
	killed := make(chan struct{})
	w := newRSSWatch(os.Getpid(), 1, func() { close(killed) }) // this process uses more than 1 MB
	defer w.close()
	w.running(true)
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not kill a process over its limit")
	}
	if !w.killed.Load() {
		t.Error("killed not recorded")
	}
	if kb := treeRSSKB(os.Getpid(), 0); kb < 1024 {
		t.Errorf("this process's resident memory: %d KB", kb)
	}
}

// onMainThread runs f on the process's main thread, if one of a crowd of
// locked goroutines lands there.
func onMainThread(f func()) bool {
	found := make(chan bool, 64)
	release := make(chan struct{})
	for range cap(found) {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			main := syscall.Gettid() == syscall.Getpid()
			if main {
				f()
			}
			found <- main
			<-release // hold the thread until every goroutine has looked
		}()
	}
	ran := false
	for range cap(found) {
		ran = <-found || ran
	}
	close(release)
	return ran
}

// A v1 spare waits in a cgroup of its own; the next environment is forked
// there, and the spare's thread then leaves; the last environment takes
// everything away.
func TestCgroup_Spare(t *testing.T) {
	h, err := testHierarchy(false)
	if err != nil {
		t.Skipf("cgroup v1 memory not available: %v", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	first, err := newMemcg(h, 64, nil) // starts making a spare
	if err != nil {
		t.Fatal(err)
	}
	var spareDir string
	pollpkg.Until(t, 10*time.Second, "a spare is made", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.spare != nil {
			spareDir = h.spare.dir
		}
		return spareDir != ""
	})
	second, err := newMemcg(h, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.dir != spareDir || second.spare == nil {
		t.Fatalf("second environment in %s, want the spare's %s", second.dir, spareDir)
	}
	if got := readTrim(t, filepath.Join(second.dir, "memory.limit_in_bytes")); got != "67108864" {
		t.Errorf("spare's limit %s", got)
	}
	pid := startSleeper(t, second)
	if dir := envCgroup(t, h, pid); dir != second.dir {
		t.Fatalf("process in %s, want %s", dir, second.dir)
	}
	wallstest.MustHoldNoThreadOfOurs(t, second.dir)
	t.Cleanup(func() { // after the sleeper is killed
		first.remove(quiet)
		second.remove(quiet)
		mustBeIdle(t, h)
		// The parent goes too, unless another process (another test
		// binary) has environments there.
		entries, _ := os.ReadDir(h.parent)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), owner()+"-") {
				t.Errorf("%s remains", filepath.Join(h.parent, e.Name()))
			}
		}
	})
}

// LimitAll limits the cgroup that holds every environment, and its
// environments' cgroups are made under that limit.
func TestLimitAll(t *testing.T) {
	h, err := testHierarchy(false)
	if err != nil {
		t.Skipf("cgroup v1 memory not available: %v", err)
	}
	w := &Host{h: h}
	const mb = 100 << 10 // 100 GB: no test nearby feels it
	if err := w.LimitAll(mb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.LimitAll(0) })
	g, err := newMemcg(h, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.parent, "memory.limit_in_bytes"))
	g.remove(slog.New(slog.DiscardHandler))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(mb<<20) {
		t.Errorf("the parent's limit is %q (%v), want %d", b, err, mb<<20)
	}
}
