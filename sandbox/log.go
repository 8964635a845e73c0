package sandbox

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"github.com/lambada-dev/lambada"
)

// beginLog starts collecting c's log. Its START line is written by
// startLog once the runtime has the event, so that the line is off the
// path of the event; any line of c's before that writes it first.
func (s *Sandbox) beginLog(c *call) {
	s.logMu.Lock()
	s.logTo = c
	c.startPending = true
	s.logMu.Unlock()
}

// startLog writes c's START line unless it is written already.
func (s *Sandbox) startLog(c *call) {
	s.logMu.Lock()
	s.startLocked(c)
	s.logMu.Unlock()
}

// startLocked writes c's START line if it is pending; s.logMu is held.
func (s *Sandbox) startLocked(c *call) {
	if c.startPending {
		c.startPending = false
		s.emitLocked(c, lambada.StartLine(c.inv.RequestID, c.version))
	}
}

// end writes c's END and REPORT lines (and the fault's lines, if the
// platform ended it), after everything the function printed so far. The
// caller then closes c.endedCh, which lets a Tail caller read the log, if
// end reports that it ended c (and not an earlier call of end).
func (s *Sandbox) end(c *call, status string, fault *lambada.FunctionFault) bool {
	if !s.finish(c) {
		return false
	}
	s.logEnd(c, status, fault, s.maxMemoryMB())
	return true
}

// finish marks c ended and frees its concurrency slot. It reports false if
// c was ended already.
func (s *Sandbox) finish(c *call) bool {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		return false
	}
	c.ended = true
	s.mu.Unlock()
	if c.inv.Release != nil {
		c.inv.Release()
	}
	s.watchMemory(false)
	return true
}

// logEnd writes the lines of end, for a call that finish ended; maxMB is
// the environment's peak memory as REPORT shows it.
func (s *Sandbox) logEnd(c *call, status string, fault *lambada.FunctionFault, maxMB int) {
	s.out.flush()
	report := lambada.Report{
		RequestID:     c.inv.RequestID,
		MemorySize:    s.cfg.MemorySize,
		MaxMemoryUsed: maxMB,
		Status:        status,
	}
	if !c.start.IsZero() {
		report.Duration = time.Since(c.start)
	}
	if c.cold {
		report.InitDuration = s.initDur
		if report.InitDuration == 0 {
			report.InitDuration = time.Since(s.started)
		}
	}
	if fault != nil {
		report.ErrorType = fault.Type
	}
	s.logMu.Lock()
	s.startLocked(c)
	s.emitLocked(c, lambada.EndLine(c.inv.RequestID))
	s.emitLocked(c, report.Line())
	if fault != nil {
		s.emitLocked(c, fault.FaultLines())
	}
	if s.logTo == c {
		s.logTo = nil
	}
	s.logMu.Unlock()
}

// emitLocked writes a platform line; s.logMu is held.
func (s *Sandbox) emitLocked(c *call, line string) {
	b := []byte(line) // once for both
	if c.collect {
		c.appendLog(b)
	}
	s.logs.FunctionLog(s.cfg.Function, s.cfg.Version, b)
}

// line receives one line of the function's output.
func (s *Sandbox) line(b []byte) {
	s.logMu.Lock()
	if c := s.logTo; c != nil {
		s.startLocked(c)
		if c.collect {
			c.appendLog(b)
		}
	}
	s.logs.FunctionLog(s.cfg.Function, s.cfg.Version, b)
	s.logMu.Unlock()
}

// maxMemoryMB is the environment's peak memory in MB rounded up: its
// memory cgroup's peak usage when it has one, else the runtime process's
// peak resident memory from /proc (VmHWM); the last reading once the process
// is gone. Like AWS's, it is the environment's peak so far, not reset per
// invocation. The files stay open: a pread is a third of the cost of a
// ReadFile.
func (s *Sandbox) maxMemoryMB() int {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if s.cg != nil {
		if kb, ok := s.cg.peakKB(); ok { // the authority: a process's RSS also counts shared file pages
			s.peakMB = (kb + 1023) / 1024
			// An out-of-memory victim may charge a few pages past the
			// limit while it exits; AWS never reports more than MemorySize.
			if s.cfg.MemorySize > 0 {
				s.peakMB = min(s.peakMB, s.cfg.MemorySize)
			}
			return s.peakMB
		}
	}
	if s.status == nil && s.cmd.Process != nil {
		s.status, _ = os.Open("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	}
	if s.status != nil {
		if s.statusBuf == nil {
			s.statusBuf = make([]byte, 4096)
		}
		n, _ := s.status.ReadAt(s.statusBuf, 0)
		b := s.statusBuf[:n]
		if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
			f := bytes.Fields(b[i+len("VmHWM:"):])
			if len(f) > 0 {
				if kb, err := strconv.Atoi(string(f[0])); err == nil {
					s.peakMB = max(s.peakMB, (kb+1023)/1024)
				}
			}
		}
	}
	return s.peakMB
}

// notePeakKB records a peak measured another way (the rusage of the reaped
// process), so REPORT after an exit still says what the process used.
func (s *Sandbox) notePeakKB(kb int) {
	s.statusMu.Lock()
	s.peakMB = max(s.peakMB, (kb+1023)/1024)
	s.statusMu.Unlock()
}

// closeStatus releases the /proc status file.
func (s *Sandbox) closeStatus() {
	s.statusMu.Lock()
	if s.status != nil {
		s.status.Close()
		s.status = nil
	}
	if s.cg != nil && s.cg.peak != nil {
		s.cg.peak.Close()
		s.cg.peak = nil
	}
	s.statusMu.Unlock()
}
