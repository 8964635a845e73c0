package sandbox

import (
	"strings"
	"time"

	"github.com/lambada-dev/lambada"
)

// logInitStart writes the environment's first line: INIT_START (or its JSON
// record). No invocation's log tail holds it, as on AWS.
func (s *Sandbox) logInitStart() {
	switch {
	case !s.src.JSON:
		s.pool.m.Logs.FunctionLog(s.src, []byte(lambada.InitStartLine(s.cfg.Region, s.cfg.Runtime)))
	case s.src.KeepsPlatform(platformLevel):
		s.pool.m.Logs.FunctionLog(s.src, lambada.AppendInitStartJSON(nil, time.Now(), s.cfg))
	}
}

// logInitReport writes the INIT_REPORT line of an init that failed (its
// status "error" or "timeout"), as AWS does; in the JSON format, a
// platform.initReport record at WARN.
func (s *Sandbox) logInitReport(status string) {
	s.mu.Lock()
	took, errorType := time.Since(s.started), s.exit.Type
	s.mu.Unlock()
	if status == "timeout" {
		errorType = ""
	}
	switch {
	case !s.src.JSON:
		s.pool.m.Logs.FunctionLog(s.src, lambada.AppendInitReport(nil, took, status, errorType))
	case s.src.KeepsPlatform(failedLevel):
		s.pool.m.Logs.FunctionLog(s.src, lambada.AppendInitReportJSON(nil, time.Now(), s.cfg, took, status, errorType))
	}
}

// beginLog makes c the invocation whose output is collected. Its START line
// is written by startLog once the runtime has the event, so that the line is
// off the path of the event; any line of c's before that writes it first.
func (s *Sandbox) beginLog(c *call) {
	s.logMu.Lock()
	s.logTo = c
	s.logMu.Unlock()
}

// startLog writes c's START line unless it is written already.
func (s *Sandbox) startLog(c *call) {
	s.logMu.Lock()
	s.startLocked(c)
	s.logMu.Unlock()
}

// startLocked writes c's START line (or its JSON record) if it is not
// written yet; s.logMu is held.
func (s *Sandbox) startLocked(c *call) {
	if c.startWritten {
		return
	}
	c.startWritten = true
	switch {
	case !s.src.JSON:
		s.emitLocked(c, []byte(lambada.StartLine(c.inv.RequestID, s.cfg.Version)))
	case s.src.KeepsPlatform(platformLevel):
		s.emitLocked(c, lambada.AppendStartJSON(nil, time.Now(), c.inv.RequestID, s.cfg.Version))
	}
}

// The levels of the platform's JSON records: START's and REPORT's, and
// END's (platform.runtimeDone).
const (
	platformLevel = "INFO"
	failedLevel   = "WARN"
	doneLevel     = "DEBUG"
)

// logEnd writes c's END and REPORT lines (and the fault's lines, if the
// platform ended it), in one batch, after everything the function printed
// so far; START first if it was never written (a call that failed before
// its delivery).
func (s *Sandbox) logEnd(c *call, status string, fault *lambada.FunctionFault) {
	s.mu.Lock()
	delivered := !c.start.IsZero()
	s.mu.Unlock()
	if !delivered {
		s.beginLog(c) // what its environment printed last is its
	}
	s.out.flush()
	report := lambada.Report{
		RequestID:     c.inv.RequestID,
		MemorySize:    s.cfg.MemorySize,
		MaxMemoryUsed: s.mem.Peak(), // once per invocation
		Status:        status,
	}
	s.mu.Lock()
	if delivered {
		report.Duration = time.Since(c.start)
	}
	if c.cold {
		report.InitDuration = s.initDur
		if report.InitDuration == 0 {
			report.InitDuration = time.Since(s.started)
		}
	}
	s.mu.Unlock()
	if fault != nil {
		report.ErrorType = fault.Type
	}
	s.meter(c, report, delivered)
	b := make([]byte, 0, 256)
	if s.src.JSON {
		now := time.Now()
		if s.src.KeepsPlatform(doneLevel) {
			b = lambada.AppendRuntimeDoneJSON(b, now, report)
		}
		level := platformLevel
		if report.Status != "" {
			level = failedLevel // a failed invocation's report stays at WARN
		}
		if s.src.KeepsPlatform(level) {
			b = report.AppendJSON(b, now)
		}
	} else {
		b = lambada.AppendEnd(b, c.inv.RequestID)
		b = report.Append(b)
	}
	if fault != nil {
		b = append(b, fault.FaultLines()...)
	}
	s.logMu.Lock()
	s.startLocked(c)
	s.emitLocked(c, b)
	if s.logTo == c {
		s.logTo = nil
	}
	s.logMu.Unlock()
}

// meter tells the Manager's Meter of c's report: its Duration, once
// delivered, and its environment's start when c started it.
func (s *Sandbox) meter(c *call, report lambada.Report, delivered bool) {
	m := s.pool.m.Meter
	if m == nil {
		return
	}
	labels := lambada.NewMetricLabels(s.cfg.Key(), qualifierOf(c.inv.InvokedARN), s.cfg.Version)
	if delivered {
		m.Observe(lambada.MetricDuration, labels, report.Duration)
	}
	if report.InitDuration > 0 {
		m.Count(lambada.MetricColdStarts, labels)
		m.Observe(lambada.MetricInitDuration, labels, report.InitDuration)
	}
}

// qualifierOf is the qualifier of a function ARN (arn:aws:lambda:region:
// account:function:name[:qualifier]), or "".
func qualifierOf(arn string) string {
	if strings.Count(arn, ":") < 7 {
		return ""
	}
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// emitLocked writes platform lines; s.logMu is held.
func (s *Sandbox) emitLocked(c *call, lines []byte) {
	if c.collect {
		c.appendLog(lines)
	}
	if len(lines) > 0 {
		s.pool.m.Logs.FunctionLog(s.src, lines)
	}
}

// line receives one line of the function's output.
func (s *Sandbox) line(b []byte) {
	if !s.src.Keeps(b) {
		return // under its ApplicationLogLevel
	}
	s.logMu.Lock()
	if c := s.logTo; c != nil {
		s.startLocked(c)
		if c.collect {
			c.appendLog(b)
		}
	}
	s.pool.m.Logs.FunctionLog(s.src, b)
	s.logMu.Unlock()
}

// appendLog keeps b for the log tail, bounded.
func (c *call) appendLog(b []byte) {
	c.log = append(c.log, b...)
	if len(c.log) > 4*lambada.LogTailSize {
		c.log = append(c.log[:0], c.log[len(c.log)-lambada.LogTailSize:]...)
	}
}
