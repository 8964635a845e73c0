// Package walls owns what keeps an execution environment in:
//   - its memory limit: a memory cgroup of its own (v2 or v1, whichever the
//     host offers: cgroup.go, memcg.go, spare.go) or, where no cgroup can be
//     made, a watch of its processes' resident memory (memwatch.go);
//   - the jail: its own uid, namespaces and root, its limits, and its end
//     with the node (jail.go, seccomp.go), and the sweep of what a killed
//     node left (sweep.go);
//   - a Runtime API only its own processes reach (peer.go, route.go).
//
// It starts the environment's process inside its walls and reports what
// they saw (the peak memory, an out-of-memory kill). It does not know what
// runs inside, nor when: package sandbox does.
package walls

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Host is where this host lets Lambada put environments' walls: a memory
// cgroup hierarchy, or none (memory is then watched).
type Host struct {
	h *hierarchy // nil: no cgroups
}

var detected struct {
	once sync.Once
	host *Host
}

// Detect returns this host's walls, probed on the first call (which logs
// what it found).
func Detect(logger *slog.Logger) *Host {
	detected.once.Do(func() { detected.host = &Host{h: detectHierarchy(logger)} })
	return detected.host
}

// Probe returns the walls of one cgroup version on this host (v2 or v1's
// memory hierarchy), or why there are none. Tests use it to run in each.
func Probe(v2 bool) (*Host, error) {
	mountinfo, err1 := os.ReadFile("/proc/self/mountinfo")
	self, err2 := os.ReadFile("/proc/self/cgroup")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	errs := []error{errors.New("no mounted hierarchy shows this process's cgroup")}
	for _, h := range candidates(mountinfo, self) {
		if h.v2 != v2 {
			continue
		}
		err := h.probe()
		if err == nil {
			return &Host{h: h}, nil
		}
		errs = append(errs[:0], err)
	}
	return nil, errors.Join(errs...)
}

// WatchOnly is a host without cgroups: every environment's memory is
// watched.
func WatchOnly() *Host { return &Host{} }

// String says what the walls are.
func (w *Host) String() string {
	if w.h == nil {
		return "resident memory watch"
	}
	return w.h.String()
}

// V2 reports whether the walls are cgroup v2 ones.
func (w *Host) V2() bool { return w.h != nil && w.h.v2 }

// CgroupOf returns the directory of the environment's cgroup that process
// pid is in, or an error when it is not in one of this host's.
func (w *Host) CgroupOf(pid int) (string, error) {
	if w.h == nil {
		return "", errors.New("walls: no cgroups")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	v2, v1 := parseProcCgroup(b)
	path := v1
	if w.h.v2 {
		path = v2
	}
	if !strings.Contains(path, "/lambada/") {
		return "", fmt.Errorf("walls: process %d is in cgroup %q, not in an environment's", pid, path)
	}
	return filepath.Join(w.h.parent, filepath.Base(path)), nil
}

// Idle returns an error naming what the host still holds once every
// environment's walls are closed.
func (w *Host) Idle() error {
	if w.h == nil {
		return nil
	}
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.envs != 0 || h.spare != nil || h.filling != nil || len(h.orphans) != 0 || len(h.parked) != 0 {
		return fmt.Errorf("walls: not idle: %d environments, spare %v, filling %v, orphans %q, parked %d", h.envs, h.spare != nil, h.filling != nil, h.orphans, len(h.parked))
	}
	return nil
}

// Spec is what one environment's walls hold.
type Spec struct {
	MemoryMB int      // its memory limit; none when ≤ 0
	Jail     *Jail    // the rest of its walls; nil: none but the open-file limit
	Code     string   // its code on the host: at TaskRoot, read-only, inside the jail ("": given by Assign)
	Opt      string   // in a jail, its layers on the host: at /opt, read-only ("": an empty /opt)
	TmpMB    int      // the size of its private /tmp inside the jail (DefaultTmpMB when zero)
	Router   *Router  // in a jail, where its Runtime API's connections come from (nil: none)
	Dirs     []string // in a jail, host directories shown read-only at the same paths (an interpreter's)
	Fork     Forker   // in a jail, what forks its process instead of exec (nil: exec)
}

// Memory is one environment's walls and the readings of its peak memory.
// Its methods are safe for concurrent use.
type Memory struct {
	limit int // MB; zero: none
	pid   int
	cg    *memcg    // the environment's memory cgroup, or nil
	watch *rssWatch // the fallback where there is no cgroup, or nil

	jail   *Jail
	fork   Forker        // in a jail, what forks its process (nil: exec)
	cgroup string        // the directory of its memory cgroup, once made ("": none)
	uid    uint32        // the environment's host uid in the jail
	hold   chan struct{} // closed to end the environment's thread (jail.go)
	work   chan func()   // what the environment's thread runs for Assign
	api    net.Listener  // its Runtime API's connections, from spec's Router; nil: none

	mu     sync.Mutex
	status *os.File // /proc/<pid>/status, kept open
	buf    []byte
	peakMB int // the last reading of the environment's peak memory
}

// held is what keeps m's thread, if it has one.
func (m *Memory) held() hold {
	if m.hold == nil {
		return hold{}
	}
	return hold{done: m.hold, work: m.work}
}

// RuntimeAPI is the listener of the environment's Runtime API
// connections, from its Spec's Router; nil without one.
func (m *Memory) RuntimeAPI() net.Listener { return m.api }

// UID is the host uid of the environment's processes: its own in a jail,
// else the node's.
func (m *Memory) UID() uint32 {
	if m.hold == nil {
		return uint32(os.Getuid())
	}
	return m.uid
}

// Start starts cmd in the walls of spec: born in a memory cgroup of its
// own where the host offers one (and it can be made), else watched, kill
// being how the watch ends it; a cgroup that cannot be entered falls back
// to the watch, logged. In a jail it is forked from a thread of its own
// inside its namespaces (jail.go), cmd's paths being the environment's
// view. The process may open MaxFiles files, as on AWS; outside a jail, and
// without CAP_SYS_RESOURCE, it cannot raise that.
func (w *Host) Start(cmd *exec.Cmd, spec Spec, logger *slog.Logger, kill func()) (*Memory, error) {
	m := &Memory{limit: max(spec.MemoryMB, 0), jail: spec.Jail}
	start := func(bool) error { return cmd.Start() }
	if j := spec.Jail; j != nil {
		// The trees are copied here: an environment's thread no longer
		// sees the host.
		tree := -1 // no code: Assign gives it
		if spec.Code != "" {
			var err error
			if tree, err = readOnlyTree(spec.Code); err != nil {
				return nil, err
			}
			defer unix.Close(tree)
		}
		opt := -1
		if spec.Opt != "" {
			var err error
			if opt, err = readOnlyTree(spec.Opt); err != nil {
				return nil, err
			}
			defer unix.Close(opt)
		}
		shown := make([]shownDir, 0, len(spec.Dirs))
		defer func() {
			for _, d := range shown {
				unix.Close(d.tree)
			}
		}()
		for _, dir := range spec.Dirs {
			t, err := readOnlyTree(dir)
			if err != nil {
				return nil, err
			}
			shown = append(shown, shownDir{dir, t})
		}
		id, err := j.take()
		if err != nil {
			return nil, err
		}
		if spec.Router != nil { // before the process can connect
			if m.api, err = spec.Router.Listen(id); err != nil {
				j.give(id)
				return nil, err
			}
		}
		m.uid, m.hold, m.work, m.fork = id, make(chan struct{}), make(chan func()), spec.Fork
		j.prepare(cmd, id)
		start = func(prebuilt bool) error {
			return j.run(cmd, id, tree, opt, shown, spec.TmpMB, prebuilt, spec.Fork, m.cgroup)
		}
	}
	err := w.start(m, cmd, start, logger, kill)
	switch {
	case err != nil && m.jail != nil:
		if m.api != nil {
			m.api.Close()
		}
		close(m.hold)
		m.jail.give(m.uid)
	case err == nil && m.jail == nil:
		limitFiles(m.pid, logger)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// start starts cmd with start (cmd.Start, or the jail's run) in m's memory
// wall.
func (w *Host) start(m *Memory, cmd *exec.Cmd, start func(prebuilt bool) error, logger *slog.Logger, kill func()) error {
	if m.limit <= 0 {
		if err := launch(start, m.held()); err != nil {
			return err
		}
		m.pid = cmd.Process.Pid
		return nil
	}
	if w.h != nil && m.fork != nil {
		g, err := newForkedMemcg(w.h, m.limit, m.fork, logger)
		if err != nil {
			return err
		}
		m.cgroup = g.dir // where the forked process is born, or moves
		if err := launch(start, m.held()); err != nil {
			g.remove(logger)
			return err
		}
		m.cg, m.pid = g, cmd.Process.Pid
		return nil
	}
	if w.h != nil {
		g, err := newMemcg(w.h, m.limit, m.jail)
		if err == nil {
			m.cgroup = g.dir
			if err = g.start(cmd, start, m.held()); err == nil {
				m.cg, m.pid = g, cmd.Process.Pid
				return nil
			}
			g.remove(logger)
			m.cgroup = ""
			if !errors.Is(err, errNotEntered) {
				return err
			}
		}
		logger.Warn("walls: no memory cgroup for this environment; watching resident memory instead", "err", err)
	}
	if err := launch(start, m.held()); err != nil {
		return err
	}
	m.pid = cmd.Process.Pid
	m.watch = newRSSWatch(m.pid, m.limit, kill)
	return nil
}

// limitFiles sets process pid's open-file limit to MaxFiles, just after it
// started (os/exec has no way to set it in the child before exec; a jail
// sets it before the process runs).
func limitFiles(pid int, logger *slog.Logger) {
	lim := unix.Rlimit{Cur: MaxFiles, Max: MaxFiles}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil && !errors.Is(err, unix.ESRCH) {
		logger.Warn("walls: open-file limit not set", "pid", pid, "err", err)
	}
}

// Running tells the watch, if any, whether an invocation runs.
func (m *Memory) Running(on bool) {
	if m != nil && m.watch != nil {
		m.watch.running(on)
	}
}

// OutOfMemory reports, once the process has exited, whether the
// environment ran out of memory: the kernel's OOM killer killed one of its
// processes (each environment has a fresh cgroup, so any kill counted there
// is this environment's, even one of a child that the runtime outlived for
// a while), or the watch killed it.
func (m *Memory) OutOfMemory() bool {
	switch {
	case m == nil:
		return false
	case m.cg != nil:
		return m.cg.oomKilled()
	case m.watch != nil:
		return m.watch.killed.Load()
	}
	return false
}

// Peak is the environment's peak memory in MB rounded up: its memory
// cgroup's peak usage when it has one, else the process's peak resident
// memory from /proc (VmHWM); the last reading once the process is gone.
// Like AWS's, it is the environment's peak so far, not reset per
// invocation. The files stay open: a pread is a third of the cost of a
// ReadFile.
func (m *Memory) Peak() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cg != nil {
		if kb, ok := m.cg.peakKB(); ok { // the authority: a process's RSS also counts shared file pages
			m.peakMB = (kb + 1023) / 1024
			// An out-of-memory victim may charge a few pages past the
			// limit while it exits; AWS never reports more than MemorySize.
			if m.limit > 0 {
				m.peakMB = min(m.peakMB, m.limit)
			}
			return m.peakMB
		}
	}
	if m.status == nil && m.pid > 0 {
		m.status, _ = os.Open("/proc/" + strconv.Itoa(m.pid) + "/status")
	}
	if m.status != nil {
		if m.buf == nil {
			m.buf = make([]byte, 4096)
		}
		n, _ := m.status.ReadAt(m.buf, 0)
		b := m.buf[:n]
		if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
			f := bytes.Fields(b[i+len("VmHWM:"):])
			if len(f) > 0 {
				if kb, err := strconv.Atoi(string(f[0])); err == nil {
					m.peakMB = max(m.peakMB, (kb+1023)/1024)
				}
			}
		}
	}
	return m.peakMB
}

// LastPeak is the last reading of Peak, without reading again.
func (m *Memory) LastPeak() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peakMB
}

// NotePeakKB records a peak measured another way (the rusage of the reaped
// process), so that a reading after the exit still says what it used.
func (m *Memory) NotePeakKB(kb int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.peakMB = max(m.peakMB, (kb+1023)/1024)
	m.mu.Unlock()
}

// Close releases the readings' files and the wall, once the process is
// reaped and its group killed: the watch stops, the cgroup is removed.
func (m *Memory) Close(logger *slog.Logger) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.status != nil {
		m.status.Close()
		m.status = nil
	}
	if m.cg != nil && m.cg.peak != nil {
		m.cg.peak.Close()
		m.cg.peak = nil
	}
	m.mu.Unlock()
	if m.watch != nil {
		m.watch.close()
	}
	m.mu.Lock()
	j := m.jail
	m.jail = nil
	m.mu.Unlock()
	if j != nil {
		if m.api != nil {
			m.api.Close()
		}
		close(m.hold) // the environment's thread ends, and with it the cgroup's last task
		j.give(m.uid)
	}
	if m.cg != nil {
		m.cg.remove(logger)
	}
}
