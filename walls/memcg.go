package walls

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// errNotEntered means a process could not be started inside its cgroup
// for a reason of the cgroup's, not of the bootstrap's.
var errNotEntered = errors.New("walls: cannot start a process in its memory cgroup")

// memcg is the memory cgroup of one execution environment: its limit is
// MemorySize, without swap, and every process of the environment is born
// in it (start).
type memcg struct {
	h     *hierarchy
	dir   string
	spare *spare   // v1: the thread waiting in dir to fork the process, until start
	peak  *os.File // memory.max_usage_in_bytes (v1) or memory.peak (v2), kept open; nil if absent
	buf   [32]byte
}

// newMemcg makes a cgroup for one environment limited to mb megabytes, of
// jail j (nil: none): in v1 the spare's, when one for j is ready.
func newMemcg(h *hierarchy, mb int, j *Jail) (*memcg, error) {
	h.mu.Lock()
	h.envs++
	g := &memcg{h: h}
	if sp := h.spare; sp != nil {
		h.spare = nil
		if sp.jail == j {
			g.spare = sp
		} else { // made for another jail (of another node in this process): dropped
			close(sp.stop)
			h.orphans = append(h.orphans, sp.dir)
		}
	}
	h.fillLocked(j)
	h.mu.Unlock()
	if g.spare != nil {
		g.dir = g.spare.dir
	} else {
		dir, err := h.newDir()
		if err != nil {
			h.release(slog.New(slog.DiscardHandler))
			return nil, err
		}
		g.dir = dir
	}
	if err := setLimit(g.dir, h.v2, int64(mb)<<20); err != nil {
		g.remove(slog.New(slog.DiscardHandler))
		return nil, fmt.Errorf("walls: memory cgroup %s: %w", g.dir, err)
	}
	peak := "memory.max_usage_in_bytes"
	if h.v2 {
		peak = "memory.peak" // Linux 5.19 and later
	}
	g.peak, _ = os.Open(filepath.Join(g.dir, peak))
	return g, nil
}

// setLimit limits a cgroup's memory to limit bytes, swap included, and (v2)
// makes an out-of-memory kill take the whole cgroup, as a reset would.
func setLimit(dir string, v2 bool, limit int64) error {
	n := strconv.FormatInt(limit, 10)
	if v2 {
		return errors.Join(writeCgroup(dir, "memory.max", n),
			optional(writeCgroup(dir, "memory.swap.max", "0")),
			optional(writeCgroup(dir, "memory.oom.group", "1")))
	}
	// memsw (memory+swap) exists when the kernel accounts swap; it must
	// never be below limit_in_bytes, so it is written second.
	return errors.Join(writeCgroup(dir, "memory.limit_in_bytes", n),
		optional(writeCgroup(dir, "memory.memsw.limit_in_bytes", n)))
}

// optional ignores the absence of a control file.
func optional(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// start starts cmd with start (cmd.Start, or the jail's run), its process
// already in g, so that nothing the bootstrap runs escapes the limit. In a
// jail, hold keeps the forking thread until the environment ends.
//
// v2 clones the child straight into the cgroup (clone3's
// CLONE_INTO_CGROUP). v1 has no such thing, but there a cgroup holds
// threads, not processes, and a child is born in the cgroup of the thread
// that forks it: the spare's thread, already waiting in g, forks it; without
// a spare, start moves a locked OS thread into g and forks from it. There is
// no window in either version.
func (g *memcg) start(cmd *exec.Cmd, start func(prebuilt bool) error, h hold) error {
	if g.h.v2 {
		d, err := os.Open(g.dir)
		if err != nil {
			return fmt.Errorf("%w: %w", errNotEntered, err)
		}
		defer d.Close()
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(d.Fd())
		return launch(start, h)
	}
	req := forkReq{start: start, errc: make(chan error, 1), hold: h}
	if sp := g.spare; sp != nil {
		g.spare = nil
		sp.fork <- req
	} else {
		goOffMain(func() { g.forkInside(req) })
	}
	return <-req.errc
}

// forkInside is start's v1 path without a spare, on a locked thread that
// is not the main one.
func (g *memcg) forkInside(req forkReq) {
	t := strconv.Itoa(syscall.Gettid())
	if err := writeCgroup(g.dir, "tasks", t); err != nil {
		runtime.UnlockOSThread()
		req.errc <- fmt.Errorf("%w: %w", errNotEntered, err)
		return
	}
	req.errc <- req.start(false)
	if req.hold.done != nil {
		req.hold.wait()
		return // the thread ends, in the environment's namespaces
	}
	if writeCgroup(g.h.home, "tasks", t) == nil {
		runtime.UnlockOSThread()
	} // else the thread ends with this goroutine, leaving g with it
}

// peakKB is the highest memory use the cgroup has seen, in KB; false when
// the kernel does not tell. The caller serializes calls (it shares buf).
func (g *memcg) peakKB() (int, bool) {
	if g.peak == nil {
		return 0, false
	}
	n, _ := g.peak.ReadAt(g.buf[:], 0)
	b, err := strconv.ParseInt(string(bytes.TrimSpace(g.buf[:n])), 10, 64)
	if err != nil {
		return 0, false
	}
	return int((b + 1023) >> 10), true
}

// oomKilled reports whether the kernel's OOM killer has killed a process of
// the cgroup (memory.failcnt is not used: it is unreliable when a swap limit
// is also set).
func (g *memcg) oomKilled() bool {
	file := "memory.oom_control"
	if g.h.v2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(g.dir, file))
	if err != nil {
		return false
	}
	n, _ := flatKeyed(b, "oom_kill")
	return n > 0
}

// remove removes the cgroup, once its processes are reaped.
func (g *memcg) remove(logger *slog.Logger) {
	if g.spare != nil { // never used
		close(g.spare.stop)
		g.spare = nil
	}
	removeCgroup(g.dir, logger)
	g.h.release(logger)
}

// removeCgroup kills whatever is left in a cgroup and removes it, once the
// kernel lets go (a killed process, or an ended thread, leaves its cgroup
// only when it is fully gone). It gives up, with a warning, after a few
// seconds.
func removeCgroup(dir string, logger *slog.Logger) {
	wait := 100 * time.Microsecond
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return
		}
		if time.Now().After(deadline) {
			logger.Warn("walls: memory cgroup not removed", "cgroup", dir, "err", err)
			return
		}
		// v1 lists this process while one of its threads is still there.
		if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); len(procs) > 0 {
			for _, f := range bytes.Fields(procs) {
				if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}
