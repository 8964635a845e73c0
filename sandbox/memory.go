package sandbox

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
)

// errTypeOutOfMemory is the error type of an invocation whose environment
// was killed for exceeding its MemorySize.
const errTypeOutOfMemory = "Runtime.OutOfMemory"

// memory is an environment's memory limit and the readings of its peak: a
// memory cgroup of its own when the host offers one, else a watch of the
// process tree's resident memory. It has its own lock.
type memory struct {
	mu     sync.Mutex
	limit  int // MB; zero: none
	pid    int
	cg     *memcg    // the environment's memory cgroup, or nil
	watch  *rssWatch // the fallback where there is no cgroup, or nil
	status *os.File  // /proc/<pid>/status, kept open
	buf    []byte
	peakMB int // the last reading of the environment's peak memory
}

// startProcess starts the bootstrap under the environment's memory limit:
// in a memory cgroup of its own when the host offers one (and it can be
// made), else watched by an rssWatch.
func (s *Sandbox) startProcess() error {
	m := &s.mem
	m.limit = s.cfg.MemorySize
	if m.limit <= 0 {
		return s.cmd.Start()
	}
	if h := hostHierarchy(s.logger); h != nil {
		g, err := newMemcg(h, m.limit)
		if err == nil {
			if err = g.start(s.cmd); err == nil {
				m.cg, m.pid = g, s.cmd.Process.Pid
				return nil
			}
			g.remove(s.logger)
			if !errors.Is(err, errNotEntered) {
				return err
			}
		}
		s.logger.Warn("sandbox: no memory cgroup for this environment; watching resident memory instead",
			"function", s.cfg.Function, "err", err)
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	m.pid = s.cmd.Process.Pid
	m.watch = newRSSWatch(m.pid, m.limit, s.kill)
	return nil
}

// running tells the fallback watch, if any, whether an invocation runs.
func (m *memory) running(on bool) {
	if m.watch != nil {
		m.watch.running(on)
	}
}

// outOfMemory reports, once the runtime process has exited, whether the
// environment ran out of memory: the kernel's OOM killer killed one of its
// processes (each environment has a fresh cgroup, so any kill counted there
// is this environment's, even one of a child that the runtime outlived for
// a while), or the watch killed it. The exit is then reported as
// Runtime.OutOfMemory instead of Runtime.ExitError, with the same message.
func (m *memory) outOfMemory() bool {
	switch {
	case m.cg != nil:
		return m.cg.oomKilled()
	case m.watch != nil:
		return m.watch.killed.Load()
	}
	return false
}

// peak is the environment's peak memory in MB rounded up: its memory
// cgroup's peak usage when it has one, else the runtime process's peak
// resident memory from /proc (VmHWM); the last reading once the process is
// gone. Like AWS's, it is the environment's peak so far, not reset per
// invocation. The files stay open: a pread is a third of the cost of a
// ReadFile.
func (m *memory) peak() int {
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

// lastPeak is the last reading of peak, without reading again.
func (m *memory) lastPeak() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peakMB
}

// notePeakKB records a peak measured another way (the rusage of the reaped
// process), so REPORT after an exit still says what the process used.
func (m *memory) notePeakKB(kb int) {
	m.mu.Lock()
	m.peakMB = max(m.peakMB, (kb+1023)/1024)
	m.mu.Unlock()
}

// close releases the readings' files and the wall: the watch stops, the
// cgroup is removed (once the process is reaped and its group killed).
func (m *memory) close(logger *slog.Logger) {
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
	if m.cg != nil {
		m.cg.remove(logger)
	}
}
