package walls

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pollpkg "github.com/lambada-dev/lambada/internal/poll"
)

// testJail is a jail for tests, or a skip where the kernel refuses one.
func testJail(t *testing.T) *Jail {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the jail needs root")
	}
	j, err := NewJail(t.TempDir(), 3_000_000, 3_000_009)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// codeDir is a code directory whose bootstrap is script, readable by any
// user as a deployment package's must be.
func codeDir(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runJailed runs the bootstrap of code in the jail's walls and returns what
// it wrote, once it and every process it left are gone.
func runJailed(t *testing.T, h *Host, spec Spec, args ...string) (string, *Memory, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: TaskRoot + "/bootstrap", Args: append([]string{"bootstrap"}, args...),
		Dir: TaskRoot, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: &out, Stderr: &out}
	m, err := h.Start(cmd, spec, slog.New(slog.DiscardHandler), func() {})
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	m.Close(slog.New(slog.DiscardHandler))
	return out.String(), m, cmd.Process.Pid
}

func TestJail_Walls(t *testing.T) {
	j := testJail(t)
	secret := t.TempDir() // stands for the data directory: not there inside
	if err := os.WriteFile(filepath.Join(secret, "s"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := codeDir(t, `#!/bin/sh
echo "ids=$(id -u):$(id -g) pid=$$"
echo "session=$(cut -d' ' -f6,7 /proc/self/stat)"
echo "limits=$(ulimit -n):$(ulimit -Hn):$(ulimit -p)"
echo "root=$(ls / | tr '\n' ' ')"
echo "procs=$(ls /proc | grep -cE '^[0-9]+$')"
echo "task=$(touch /var/task/x 2>&1 | sed 's/.*: //')"
echo "rootfs=$(touch /x 2>&1 | sed 's/.*: //')"
if ls "$1" >/dev/null 2>&1; then echo host=visible; else echo host=hidden; fi
dd if=/dev/zero of=/tmp/big bs=1M count=20 2>/dev/null; echo "tmp=$(( $(wc -c </tmp/big) / 1048576 ))MB"
sleep 60 &
echo "child=$!"
`)
	cgroups := Detect(slog.New(slog.DiscardHandler))
	for _, h := range []struct {
		name  string
		host  *Host
		spare bool // wait for a spare whose root is prebuilt, and start from it
	}{{"no cgroup", WatchOnly(), false}, {"cgroup", cgroups, false}, {"cgroup spare", cgroups, true}} {
		t.Run(h.name, func(t *testing.T) {
			if h.spare {
				if h.host.h == nil || h.host.h.v2 {
					t.Skip("spares are for cgroup v1")
				}
				// A spare exists while an environment does.
				holder := &exec.Cmd{Path: TaskRoot + "/bootstrap", Args: []string{"bootstrap"}}
				hm, err := h.host.Start(holder, Spec{MemoryMB: 64, Jail: j, Code: codeDir(t, "#!/bin/sh\nexec sleep 60\n")}, slog.New(slog.DiscardHandler), func() {})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					_ = holder.Process.Kill()
					_ = holder.Wait()
					hm.Close(slog.New(slog.DiscardHandler))
				})
				waitSpare(t, h.host, j)
			}
			out, m, pid := runJailed(t, h.host, Spec{MemoryMB: 64, Jail: j, Code: code, TmpMB: 8}, secret)
			if m.UID() < 3_000_000 || m.UID() > 3_000_009 {
				t.Errorf("host uid %d, not from the jail's range", m.UID())
			}
			for _, want := range []string{
				fmt.Sprintf("ids=%d:%d pid=1", m.UID(), m.UID()),          // its own user, pid 1 of its own namespace
				fmt.Sprintf("session=%d 0\n", pid),                        // a session of its own, without a terminal
				"limits=1024:1024:1024",                                   // open files soft and hard, processes
				"root=bin dev etc lib lib64 opt proc sbin tmp usr var \n", // nothing of the host but its system directories
				"procs=",
				// read-only mounts, whatever the permission bits say
				"task=Read-only file system\n", "rootfs=Read-only file system\n",
				"host=hidden",
				"tmp=8MB", // /tmp stops at its size
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the environment saw:\n%s\nwant a line with %q", out, want)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				if n, ok := strings.CutPrefix(line, "procs="); ok {
					if k, err := strconv.Atoi(n); err != nil || k < 1 || k > 5 {
						t.Errorf("its /proc shows %s processes, want only its own few:\n%s", n, out)
					}
				}
			}
			if !strings.Contains(out, "child=") {
				t.Fatalf("no child started:\n%s", out)
			}
			if pids := processesOf(m.UID(), m.UID()); len(pids) != 0 {
				t.Errorf("processes %v of the environment outlived its bootstrap", pids)
			}
		})
	}
}

// BenchmarkStart times a start until the bootstrap (echo) has written,
// bare and in each wall: the walls' share of a cold start.
func BenchmarkStart(b *testing.B) {
	if os.Getuid() != 0 {
		b.Skip("the jail needs root")
	}
	code := b.TempDir()
	echo, err := os.ReadFile("/usr/bin/echo")
	if err != nil {
		b.Skip(err)
	}
	if err := errors.Join(os.Chmod(code, 0o755), os.WriteFile(filepath.Join(code, "bootstrap"), echo, 0o755)); err != nil {
		b.Fatal(err)
	}
	j, err := NewJail(b.TempDir(), 3_000_100, 3_000_199)
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	sleepCode := b.TempDir()
	if err := errors.Join(os.Chmod(sleepCode, 0o755), os.WriteFile(filepath.Join(sleepCode, "bootstrap"), []byte("#!/bin/sh\nexec sleep 60\n"), 0o755)); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		host *Host
		spec Spec
	}{
		{"bare", WatchOnly(), Spec{}},
		{"memory", Detect(logger), Spec{MemoryMB: 128}},
		{"jail", WatchOnly(), Spec{Jail: j, Code: code}},
		{"memory+jail", Detect(logger), Spec{MemoryMB: 128, Jail: j, Code: code}},
	} {
		// Spares exist while an environment does: hold one, as a node's
		// warm environments do.
		holder := &exec.Cmd{Path: "/bin/sleep", Args: []string{"sleep", "60"}}
		if c.spec.Jail != nil {
			holder.Path = TaskRoot + "/bootstrap"
		}
		hm, err := c.host.Start(holder, Spec{MemoryMB: c.spec.MemoryMB, Jail: c.spec.Jail, Code: sleepCode}, logger, func() {})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				waitSpare(b, c.host, c.spec.Jail)
				b.StartTimer()
				path := filepath.Join(code, "bootstrap")
				if c.spec.Jail != nil {
					path = TaskRoot + "/bootstrap"
				}
				r, w, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				cmd := &exec.Cmd{Path: path, Args: []string{"echo", "x"}, Stdout: w}
				m, err := c.host.Start(cmd, c.spec, logger, func() {})
				w.Close()
				if err != nil {
					b.Fatal(err)
				}
				var buf [2]byte
				if _, err := r.Read(buf[:]); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = cmd.Wait()
				r.Close()
				m.Close(logger)
				b.StartTimer()
			}
		})
		_ = holder.Process.Kill()
		_ = holder.Wait()
		hm.Close(logger)
	}
}

// waitSpare waits until h's v1 spare for jail j is ready, if h makes
// spares.
func waitSpare(tb testing.TB, h *Host, j *Jail) {
	if h.h == nil || h.h.v2 {
		return
	}
	pollpkg.Until(tb, 10*time.Second, "a spare is ready", func() bool {
		h.h.mu.Lock()
		defer h.h.mu.Unlock()
		return h.h.spare != nil && h.h.spare.jail == j
	})
}

// Environments start side by side: one's root being built never fails
// because another forks meanwhile.
func TestJail_Concurrent(t *testing.T) {
	j := testJail(t)
	code := codeDir(t, "#!/bin/sh\necho ok\n")
	h := Detect(slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				var out bytes.Buffer
				cmd := &exec.Cmd{Path: TaskRoot + "/bootstrap", Args: []string{"bootstrap"}, Stdout: &out}
				m, err := h.Start(cmd, Spec{MemoryMB: 64, Jail: j, Code: code}, slog.New(slog.DiscardHandler), func() {})
				if err != nil {
					errs <- err
					continue
				}
				_ = cmd.Wait()
				m.Close(slog.New(slog.DiscardHandler))
				if out.String() != "ok\n" {
					errs <- fmt.Errorf("the environment wrote %q", out.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A descriptor the node inherited open across exec does not reach an
// environment.
func TestJail_NoInheritedDescriptor(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the jail needs root")
	}
	fd, err := syscall.Open("/", syscall.O_RDONLY|syscall.O_DIRECTORY, 0) // without O_CLOEXEC, as a launcher's
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	j := testJail(t)
	code := codeDir(t, "#!/bin/sh\nls /proc/self/fd\n")
	out, _, _ := runJailed(t, WatchOnly(), Spec{Jail: j, Code: code})
	for _, f := range strings.Fields(out) {
		if f == strconv.Itoa(fd) {
			t.Fatalf("descriptor %d of the node reached the environment (its descriptors: %q)", fd, out)
		}
	}
}

// An environment never gets a uid an earlier one had, in this node or in
// the one before it on the same data, until the range is used up.
func TestJail_UIDsNeverReused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "jail")
	j, err := NewJail(root, 3_100_000, 3_109_999)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	take := func(j *Jail) uint32 {
		t.Helper()
		id, err := j.take()
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("uid %d handed out again", id)
		}
		seen[id] = true
		return id
	}
	for range 3 {
		j.give(take(j)) // given back at once: still not handed out again
	}
	restarted, err := NewJail(root, 3_100_000, 3_109_999)
	if err != nil {
		t.Fatal(err)
	}
	if id := take(restarted); id < 3_100_003 {
		t.Errorf("after a restart the first uid is %d", id)
	}
	// A range used up starts again from its first free uid.
	small, err := NewJail(filepath.Join(t.TempDir(), "jail"), 3_200_000, 3_200_002)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := small.take()
	b, _ := small.take()
	c, _ := small.take()
	small.give(b)
	if _, err := small.take(); err != nil || a != 3_200_000 || c != 3_200_002 {
		t.Errorf("a used-up range: %d %d %d, then %v", a, b, c, err)
	}
	if _, err := small.take(); err == nil {
		t.Error("a fourth uid out of three")
	}
	// No more than MaxLive at once (fewer under a low open-file limit),
	// however large the range.
	if restarted.maxLive > MaxLive || restarted.maxLive < 1 {
		t.Fatalf("maxLive %d", restarted.maxLive)
	}
	for range restarted.maxLive - 1 {
		take(restarted)
	}
	if id, err := restarted.take(); err == nil {
		t.Errorf("environment %d alive at once got uid %d", restarted.maxLive+1, id)
	}
}
