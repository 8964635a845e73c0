// Package sandbox owns execution environments: one process group each,
// started with Lambda's environment, serving its own Runtime API (package
// runtimeapi) on a loopback port, with its output captured per invocation.
// It enforces timeouts and memory limits (a memory cgroup per environment,
// or a watch of resident memory where the host has none: cgroup.go), resets
// an environment after a timeout, an exit, an out-of-memory kill or an init
// failure, and keeps a pool of warm environments per function version. It
// knows nothing of HTTP callers or stores.
//
// Lifecycle of an environment: Start execs the bootstrap; the runtime's first
// GET next ends init. Invoke reserves the environment for one invocation and
// hands the event to the runtime's pending next; the runtime's response (or
// error) answers the caller at once; its following next ends the invocation
// (END and REPORT are logged then) and returns the environment to its pool.
package sandbox

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/runtimeapi"
)

// DefaultInitTimeout bounds a runtime's init phase, as on AWS.
const DefaultInitTimeout = 10 * time.Second

// Config is what an execution environment runs.
type Config struct {
	Function    string
	Version     string
	Generation  uint64 // increases whenever code or configuration changes
	Runtime     string
	Handler     string
	MemorySize  int // MB
	Timeout     time.Duration
	Environment map[string]string
	CodeDir     string // the unpacked code, LAMBDA_TASK_ROOT and working directory
	Region      string

	InitializationType string        // AWS_LAMBDA_INITIALIZATION_TYPE; "on-demand" when empty
	InitTimeout        time.Duration // DefaultInitTimeout when zero
}

// LogSink receives every log line of every function, in order per
// environment. FunctionLog must not retain line.
type LogSink interface {
	FunctionLog(function, version string, line []byte)
}

// errGone means the environment died before it took the invocation; the
// caller may try another one.
var errGone = errors.New("sandbox: environment is gone")

// errBusy means the environment was handed to two invocations: a bug.
var errBusy = errors.New("sandbox: environment handed to two invocations")

var _ runtimeapi.Runtime = (*Sandbox)(nil)

// Sandbox is one execution environment.
type Sandbox struct {
	cfg    *Config
	logs   LogSink
	logger *slog.Logger
	onIdle func(*Sandbox) // the runtime is waiting for work
	onGone func(*Sandbox) // the process has exited

	cmd     *exec.Cmd
	srv     *http.Server
	out     *output
	started time.Time
	exited  chan struct{} // closed once the process is reaped
	wake    chan struct{} // capacity 1: a call was set for the runtime

	mu        sync.Mutex
	cur       *call
	reserved  bool // started for an invocation that has not called Invoke yet
	inPool    bool // guarded by the pool's mutex, not mu
	initDone  bool
	served    bool // an invocation was delivered
	stopped   bool // stop was called
	initDur   time.Duration
	initTimer *time.Timer
	dead      bool

	logMu sync.Mutex
	logTo *call // the invocation whose log is being collected

	statusMu  sync.Mutex
	status    *os.File // /proc/<pid>/status, kept open
	statusBuf []byte
	peakMB    int // last reading of the process's peak memory

	provisioned atomic.Bool // one of a target's environments: never reaped nor evicted
	removed     bool        // its pool forgot it (guarded by Manager.mu)

	cg    *memcg    // the environment's memory cgroup, or nil
	watch *rssWatch // the fallback where there is no cgroup, or nil
}

// call is one invocation on one environment.
type call struct {
	inv       *lambada.Invocation
	version   string
	cold      bool
	delivered bool // the runtime has the event
	finished  bool // the caller has its result
	ended     bool // END and REPORT are logged
	start     time.Time
	timer     *time.Timer
	done      chan *lambada.Result // capacity 1
	endedCh   chan struct{}
	collect   bool // keep the log for the tail
	log       []byte

	startPending bool // its START line is not written yet (guarded by logMu)
}

func (c *call) appendLog(b []byte) {
	c.log = append(c.log, b...)
	if len(c.log) > 4*lambada.LogTailSize {
		c.log = append(c.log[:0], c.log[len(c.log)-lambada.LogTailSize:]...)
	}
}

// StartError is a failure to start the bootstrap, reported to the invocation
// that asked for the environment.
type StartError struct{ Fault lambada.FunctionFault }

func (e *StartError) Error() string { return "sandbox: start: " + e.Fault.Message }

// start execs the bootstrap and serves its Runtime API. It does not wait for
// init to finish: the first Invoke does. The new environment is reserved for
// the caller, which must call Invoke (or Close) next: its runtime's first
// next does not return it to the pool.
func start(cfg *Config, logs LogSink, logger *slog.Logger, onIdle, onGone func(*Sandbox)) (*Sandbox, error) {
	bootstrap := filepath.Join(cfg.CodeDir, "bootstrap")
	if fi, err := os.Stat(bootstrap); err != nil || fi.IsDir() {
		return nil, &StartError{lambada.FunctionFault{Type: "Runtime.InvalidEntrypoint",
			Message: fmt.Sprintf("Couldn't find valid bootstrap(s): [%s /opt/bootstrap]", bootstrap)}}
	}
	s := &Sandbox{cfg: cfg, logs: logs, logger: logger, onIdle: onIdle, onGone: onGone,
		exited: make(chan struct{}), wake: make(chan struct{}, 1), reserved: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: runtime api listener: %w", err)
	}
	s.srv = &http.Server{Handler: runtimeapi.NewHandler(s), ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	pr, pw, err := os.Pipe()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("sandbox: pipe: %w", err)
	}
	s.out, err = newOutput(pr, s.line)
	if err != nil {
		ln.Close()
		pr.Close()
		pw.Close()
		return nil, err
	}
	s.started = time.Now()
	s.cmd = &exec.Cmd{
		Path:        bootstrap,
		Args:        []string{bootstrap},
		Env:         environ(cfg, ln.Addr().String(), s.started),
		Dir:         cfg.CodeDir,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = s.startProcess()
	pw.Close()
	if err != nil {
		ln.Close()
		pr.Close()
		return nil, &StartError{lambada.FunctionFault{Type: "Runtime.InvalidEntrypoint", Message: err.Error()}}
	}
	// Init may take InitTimeout; beyond it AWS retries init within the first
	// invocation under the function's timeout, so the limit is their sum and
	// its failure reads as that invocation's timeout.
	initTimeout := cfg.InitTimeout
	if initTimeout == 0 {
		initTimeout = DefaultInitTimeout
	}
	s.mu.Lock()
	s.initTimer = time.AfterFunc(initTimeout+cfg.Timeout, s.initTimedOut)
	s.mu.Unlock()
	go func() { _ = s.srv.Serve(ln) }()
	go s.out.run()
	go s.wait()
	return s, nil
}

// Invoke runs inv on s, which the caller has reserved, and returns its
// result. If ctx ends first the invocation goes on without a caller (as on
// AWS) and Invoke returns ctx's error.
func (s *Sandbox) Invoke(ctx context.Context, inv *lambada.Invocation) (*lambada.Result, error) {
	c := &call{inv: inv, version: s.cfg.Version, done: make(chan *lambada.Result, 1), endedCh: make(chan struct{}),
		collect: inv.LogType == lambada.LogTail}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, errGone
	}
	if s.cur != nil {
		s.mu.Unlock()
		return nil, errBusy
	}
	c.cold = !s.initDone
	s.cur = c
	s.reserved = false
	s.mu.Unlock()
	s.watchMemory(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case res := <-c.done:
		if c.collect {
			select {
			case <-c.endedCh:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.logMu.Lock()
			res.LogTail = append([]byte(nil), lambada.Tail(c.log)...)
			s.logMu.Unlock()
		}
		return res, nil
	case <-ctx.Done():
		s.withdraw(c)
		return nil, ctx.Err()
	}
}

// withdraw takes back a call whose caller left before the runtime took it.
func (s *Sandbox) withdraw(c *call) {
	s.mu.Lock()
	if s.cur != c || c.delivered {
		s.mu.Unlock()
		return
	}
	s.cur = nil
	c.finished = true
	// A runtime parked in Next is not in the pool: put it back. One still
	// initialising will pool itself when it first asks for work.
	release := s.initDone && !s.dead
	s.mu.Unlock()
	if c.inv.Release != nil {
		c.inv.Release()
	}
	s.watchMemory(false)
	if release {
		s.onIdle(s)
	}
}

// Next implements runtimeapi.Runtime: it ends the previous invocation, if
// any, returns the environment to its pool and waits for the next one. A
// runtime that asks while its invocation is unanswered gets
// InvalidStateTransition (403), as on AWS.
func (s *Sandbox) Next(ctx context.Context) (*runtimeapi.Event, error) {
	var ended *call
	s.mu.Lock()
	if c := s.cur; c != nil && c.delivered {
		if !c.finished {
			// As on AWS, a runtime must answer before it asks again: the
			// invocation goes on (until its timeout, or the runtime's exit).
			s.mu.Unlock()
			return nil, &runtimeapi.StateError{From: runtimeapi.StateRunning}
		}
		s.cur = nil
		c.timer.Stop()
		s.mu.Unlock()
		if s.finish(c) {
			ended = c
		}
		s.mu.Lock()
	}
	if !s.initDone {
		s.initDone = true
		s.initDur = time.Since(s.started)
		s.initTimer.Stop()
	}
	// The environment is idle once its slot is free: it goes back to its
	// pool before END and REPORT are written, so that an invocation arriving
	// meanwhile takes it instead of starting another. That invocation is
	// delivered below, after them.
	var maxMB int
	if ended != nil {
		maxMB = s.maxMemoryMB() // read first: the pool counts it
	}
	if s.cur == nil && !s.dead && !s.reserved {
		s.mu.Unlock()
		s.onIdle(s)
		s.mu.Lock()
	}
	if ended != nil {
		s.mu.Unlock()
		s.logEnd(ended, "", nil, maxMB)
		// Released first: a Tail caller finds the environment idle.
		close(ended.endedCh)
		s.mu.Lock()
	}
	for s.cur == nil || s.cur.delivered {
		if s.dead {
			s.mu.Unlock()
			return nil, errGone
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	c := s.cur
	c.delivered = true
	s.served = true
	c.start = time.Now()
	c.timer = time.AfterFunc(s.cfg.Timeout, func() { s.timedOut(c) })
	s.beginLog(c) // before anything can end c
	s.mu.Unlock()
	return &runtimeapi.Event{
		RequestID:     c.inv.RequestID,
		DeadlineMs:    c.start.Add(s.cfg.Timeout).UnixMilli(),
		InvokedARN:    c.inv.InvokedARN,
		TraceID:       traceID(c.start),
		ClientContext: c.inv.ClientContext,
		Payload:       c.inv.Payload,
		Delivered:     func() { s.startLog(c) },
	}, nil
}

// traceID is an X-Ray trace header for a request that starts at t:
// Root=1-<8 hex digits of t's Unix seconds>-<24 random hex digits>;Sampled=0.
func traceID(t time.Time) string {
	var raw [16]byte
	binary.BigEndian.PutUint32(raw[0:], uint32(t.Unix()))
	binary.BigEndian.PutUint64(raw[4:], rand.Uint64())
	binary.BigEndian.PutUint32(raw[12:], rand.Uint32())
	b := make([]byte, 0, len("Root=1-00000000-000000000000000000000000;Sampled=0"))
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, raw[:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, raw[4:])
	return string(append(b, ";Sampled=0"...))
}

// Respond implements runtimeapi.Runtime.
func (s *Sandbox) Respond(id string, r runtimeapi.Response) error {
	s.mu.Lock()
	c := s.cur
	switch {
	case c == nil || !c.delivered || c.inv.RequestID != id:
		s.mu.Unlock()
		return runtimeapi.ErrInvalidRequestID
	case c.finished:
		s.mu.Unlock()
		return &runtimeapi.StateError{From: runtimeapi.StateResponseSent}
	}
	c.finished = true
	s.mu.Unlock()
	res := &lambada.Result{Payload: r.Body, ExecutedVersion: s.cfg.Version}
	switch {
	case r.TooLarge:
		res.Payload, res.FunctionError = lambada.ResponseTooLarge.Payload(), lambada.UnhandledFunctionErr
	case r.Error:
		res.FunctionError = lambada.UnhandledFunctionErr
	}
	c.done <- res
	// The caller waiting for res is now runnable on this P, and would wait
	// until another thread steals it while this goroutine acknowledges the
	// runtime (a write that keeps the P): yield, so that the caller answers
	// its client first. Measured at concurrency 1: 45 µs → 9 µs from the
	// response's arrival to the caller's answer.
	runtime.Gosched()
	return nil
}

// InitError implements runtimeapi.Runtime: the pending invocation fails with
// the runtime's error and the environment is discarded.
func (s *Sandbox) InitError(r runtimeapi.Response) error {
	s.mu.Lock()
	if s.initDone {
		from := runtimeapi.StateReady
		if s.cur != nil {
			from = runtimeapi.StateRunning
		}
		s.mu.Unlock()
		return &runtimeapi.StateError{From: from}
	}
	s.dead = true
	c := s.cur
	s.cur = nil
	first := c != nil && !c.finished
	if c != nil {
		c.finished = true
	}
	s.mu.Unlock()
	if first {
		s.beginLog(c)
		c.done <- &lambada.Result{Payload: r.Body, FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: s.cfg.Version}
		errorType := r.ErrorType
		if errorType == "" {
			errorType = "Runtime.Unknown"
		}
		if s.end(c, "error", &lambada.FunctionFault{Type: errorType, Message: "RequestId: " + c.inv.RequestID + " Error: init failed"}) {
			close(c.endedCh)
		}
	}
	s.kill()
	return nil
}

// timedOut ends c when it outlives the function's timeout, and resets the
// environment.
func (s *Sandbox) timedOut(c *call) {
	s.mu.Lock()
	if s.cur != c || c.ended {
		s.mu.Unlock()
		return
	}
	s.cur = nil
	s.dead = true
	first := !c.finished
	c.finished = true
	s.mu.Unlock()
	s.kill()
	fault := lambada.Fault("Sandbox.Timedout", c.inv.RequestID, lambada.TimeoutMessage(int(s.cfg.Timeout/time.Second)))
	if first {
		c.done <- s.faultResult(fault)
	}
	if s.end(c, "timeout", &fault) {
		close(c.endedCh)
	}
}

// initTimedOut resets an environment whose runtime never asked for work.
func (s *Sandbox) initTimedOut() {
	s.mu.Lock()
	if s.initDone || s.dead {
		s.mu.Unlock()
		return
	}
	s.dead = true
	c := s.cur
	s.cur = nil
	first := c != nil && !c.finished
	if c != nil {
		c.finished = true
	}
	s.mu.Unlock()
	s.kill()
	if first {
		fault := lambada.Fault("Sandbox.Timedout", c.inv.RequestID, lambada.TimeoutMessage(int(s.cfg.Timeout/time.Second)))
		s.beginLog(c)
		c.done <- s.faultResult(fault)
		if s.end(c, "timeout", &fault) {
			close(c.endedCh)
		}
	}
}

// wait reaps the process and fails whatever it was doing.
func (s *Sandbox) wait() {
	err := s.cmd.Wait()
	s.kill() // the rest of the process group
	errorType := "Runtime.ExitError"
	if s.outOfMemory() {
		errorType = errTypeOutOfMemory
	}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.notePeakKB(int(ru.Maxrss))
	}
	s.mu.Lock()
	s.dead = true
	s.initTimer.Stop()
	c := s.cur
	s.cur = nil
	first := c != nil && !c.finished
	pending := c != nil && !c.ended
	if c != nil {
		c.finished = true
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	s.mu.Unlock()
	if pending {
		fault := lambada.Fault(errorType, c.inv.RequestID, exitReason(err))
		if !c.delivered {
			s.beginLog(c)
		}
		if first {
			c.done <- s.faultResult(fault)
		}
		if s.end(c, "error", &fault) {
			close(c.endedCh)
		}
	}
	s.out.closeRead()
	s.closeStatus()
	s.releaseMemory()
	_ = s.srv.Close()
	s.onGone(s) // before exited: Close returns once the pool has forgotten s
	close(s.exited)
}

// exitReason is AWS's text for how a runtime process ended.
func exitReason(err error) string {
	if err == nil {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + err.Error()
}

func (s *Sandbox) faultResult(f lambada.FunctionFault) *lambada.Result {
	return &lambada.Result{Payload: f.Payload(), FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: s.cfg.Version}
}

// kill stops the whole process group.
func (s *Sandbox) kill() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// stop kills the environment without waiting for it to be reaped.
func (s *Sandbox) stop() {
	s.mu.Lock()
	s.dead = true
	s.stopped = true
	s.mu.Unlock()
	s.kill()
}

// Close stops the environment and waits until its process is reaped.
func (s *Sandbox) Close() {
	s.stop()
	<-s.exited
}

// exitInfo is what an environment had done when it exited.
type exitInfo struct {
	initDone bool // its runtime finished init
	served   bool // it took an invocation
	stopped  bool // the pool stopped it (stop or Close), not a failure of its own
}

func (s *Sandbox) exitInfo() exitInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return exitInfo{initDone: s.initDone, served: s.served, stopped: s.stopped}
}

// ready reports whether the environment is initialised and alive.
func (s *Sandbox) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initDone && !s.dead
}

// unreserve hands an environment started for no caller to its pool: at once
// if its runtime already waits for work, else when it first asks.
func (s *Sandbox) unreserve() {
	s.mu.Lock()
	s.reserved = false
	idle := s.initDone && s.cur == nil && !s.dead
	s.mu.Unlock()
	if idle {
		s.onIdle(s)
	}
}

// isDead reports whether the environment can take no more invocations.
func (s *Sandbox) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}
