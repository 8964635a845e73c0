// Package sandbox owns execution environments: one process each (the
// bootstrap, or a managed runtime's client: package runtimes), started in
// its walls (package walls) with Lambda's environment, serving its own
// Runtime API (package runtimeapi: on the node's one address, routed by the
// connecting user, or without walls on a loopback port of its own), with
// its output captured per invocation, and a pool of them per function
// version. It enforces timeouts and memory limits, resets an environment
// after a timeout, an exit, an out-of-memory kill or an init failure, and
// reports when an invocation
// no longer holds an environment (Slots). It knows nothing of HTTP callers,
// stores or concurrency limits.
//
// An environment's life is a pure state machine (lifecycle, in
// lifecycle.go, with every transition in a table test); Sandbox is the thin
// shell around it: the process, the Runtime API, timers and logs. Each
// event (the runtime asked for work, answered, failed its init; a timeout;
// the process exited; a caller left) is applied under the Sandbox's mutex,
// and the effects it returns are carried out after unlocking.
package sandbox

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
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
	"github.com/lambada-dev/lambada/runtimes"
	"github.com/lambada-dev/lambada/walls"
)

// DefaultInitTimeout bounds a runtime's init phase, as on AWS.
const DefaultInitTimeout = 10 * time.Second

// LogSink receives every log line of every function, in order per
// environment (src, the same pointer for every line of one environment).
// FunctionLog must not retain lines, which may hold several lines written
// together.
type LogSink interface {
	FunctionLog(src *lambada.LogSource, lines []byte)
}

// Slots hears when an invocation no longer holds an execution environment,
// so that whoever admitted it frees its concurrency (invoke.Limiter). Run
// calls Free exactly once per invocation, whatever happens to it.
type Slots interface {
	Free(inv *lambada.Invocation)
}

var _ runtimeapi.Runtime = (*Sandbox)(nil)

// Sandbox is one execution environment.
type Sandbox struct {
	cfg    *lambada.SandboxConfig
	pool   *pool
	logger *slog.Logger
	src    *lambada.LogSource // where its lines go: its log stream

	cmd        *exec.Cmd
	srv        *runtimeapi.Server
	out        *output
	started    time.Time
	deliveries chan *call    // capacity 1: a call delivered while the runtime waits
	dying      chan struct{} // closed when the environment dies
	exited     chan struct{} // closed once the process is reaped and its pool forgot it

	mu        sync.Mutex
	life      lifecycle
	initDur   time.Duration
	initTimer *time.Timer
	exit      lambada.FunctionFault // how the process ended, once it has (Message without the request id)
	dyingDone bool

	logMu sync.Mutex
	logTo *call // the invocation whose output is being collected

	mem *walls.Memory // the environment's memory wall and its readings; nil until it starts

	provisioned atomic.Bool // one of a target's environments: never reaped nor evicted
	gone        atomic.Bool // the process was reaped
}

// call is one invocation on the environments it is assigned to, one at a
// time. The lifecycle of the environment that holds it decides its fate;
// Run owns it otherwise.
type call struct {
	inv     *lambada.Invocation
	collect bool // keep the log for the tail
	cold    bool // the environment started for it: REPORT shows Init Duration

	// Guarded by the mutex of the environment that holds it.
	requeued bool // an environment handed it back to Run
	start    time.Time
	timer    *time.Timer // its timeout, once delivered
	handoff  *time.Timer // the bound on waiting for an answered environment

	done  chan outcome  // capacity 1: the result, or a requeue
	ended chan struct{} // closed once END and REPORT are written

	// Guarded by the environment's logMu.
	log          []byte
	startWritten bool
}

// outcome is what Run hears of a call from its environment.
type outcome struct {
	res     *lambada.Result
	requeue bool
}

func newCall(inv *lambada.Invocation) *call {
	return &call{inv: inv, collect: inv.LogType == lambada.LogTail,
		done: make(chan outcome, 1), ended: make(chan struct{})}
}

func (c *call) id() string { return c.inv.RequestID }

// StartError is a failure to start the bootstrap, reported to the invocation
// that asked for the environment.
type StartError struct{ Fault lambada.FunctionFault }

func (e *StartError) Error() string { return "sandbox: start: " + e.Fault.Message }

// start execs the bootstrap of cfg for p and serves its Runtime API, for c
// (nil: started ahead of time). It does not wait for init to finish: c is
// delivered when the runtime first asks for work.
func start(p *pool, cfg *lambada.SandboxConfig, c *call, logger *slog.Logger) (*Sandbox, error) {
	root := cfg.CodeDir // the code as the environment sees it
	if p.m.Jail != nil {
		root = walls.TaskRoot
	}
	// A managed runtime runs Lambada's client of it; any other, the
	// function's bootstrap.
	managed, ok := runtimes.Command(cfg.Runtime)
	args := managed.Args
	if !ok {
		// The first of /var/task/bootstrap and /opt/bootstrap (a layer's).
		bootstrap := filepath.Join(root, "bootstrap")
		switch {
		case isFile(filepath.Join(cfg.CodeDir, "bootstrap")):
		case cfg.OptDir != "" && isFile(filepath.Join(cfg.OptDir, "bootstrap")):
			bootstrap = filepath.Join(cfg.OptDir, "bootstrap")
			if p.m.Jail != nil {
				bootstrap = "/opt/bootstrap"
			}
		default:
			return nil, &StartError{lambada.FunctionFault{Type: "Runtime.InvalidEntrypoint",
				Message: fmt.Sprintf("Couldn't find valid bootstrap(s): [%s /opt/bootstrap]", bootstrap)}}
		}
		args = []string{bootstrap}
	}
	s := &Sandbox{cfg: cfg, pool: p, logger: logger, life: newLifecycle(c),
		deliveries: make(chan *call, 1), dying: make(chan struct{}), exited: make(chan struct{})}
	// In a jail the Runtime API is the node's one address, each connection
	// routed to its user's environment; else a listener of its own.
	var ln net.Listener
	api := ""
	if p.m.Jail != nil && p.m.Router != nil {
		api = p.m.Router.Addr().String()
	} else {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("sandbox: runtime api listener: %w", err)
		}
		api = ln.Addr().String()
	}
	closeLn := func() {
		if ln != nil {
			ln.Close()
		}
	}
	s.srv = runtimeapi.NewServer(s)
	// A spare of the runtime, if one is ready, becomes the environment;
	// else its process starts now.
	sp := p.m.takeSpare(cfg)
	if sp != nil {
		s.started = time.Now()
		s.src = lambada.NewLogSource(cfg, logStream(cfg.Version, s.started))
		if err := sp.assign(cfg, p.m.environ(cfg, root, api, s.src)); err != nil {
			logger.Warn("sandbox: a spare environment could not be assigned", "err", err)
			sp.discard(logger)
			sp = nil
		} else {
			s.logInitStart() // before its output, which is read from here on
		}
	}
	if sp != nil {
		s.cmd, s.mem = sp.cmd, sp.mem
		var err error
		if s.out, err = newOutput(sp.out, s.line); err != nil {
			s.kill()
			_ = s.cmd.Wait()
			s.mem.Close(logger)
			return nil, err
		}
	} else if err := s.launch(cfg, args, root, api, managed.Dirs, closeLn); err != nil {
		return nil, err
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
	switch { // its Runtime API answers its processes only
	case ln == nil:
		ln = s.mem.RuntimeAPI()
	case p.m.Jail != nil:
		ln = walls.OnlyUID(ln, s.mem.UID(), logger)
	}
	go func() { _ = s.srv.Serve(ln) }()
	go s.out.run()
	go s.wait()
	return s, nil
}

// isFile reports whether path is a file (or a link to one).
func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// launch starts the environment's process by exec (or by a fork, with a
// forker): args, in root, with the Runtime API at api.
func (s *Sandbox) launch(cfg *lambada.SandboxConfig, args []string, root, api string, dirs []string, closeLn func()) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		closeLn()
		return fmt.Errorf("sandbox: pipe: %w", err)
	}
	s.out, err = newOutput(pr, s.line)
	if err != nil {
		closeLn()
		pr.Close()
		pw.Close()
		return err
	}
	s.started = time.Now()
	s.src = lambada.NewLogSource(cfg, logStream(cfg.Version, s.started))
	s.logInitStart()
	s.cmd = &exec.Cmd{
		Path:        args[0],
		Args:        args,
		Env:         s.pool.m.environ(cfg, root, api, s.src),
		Dir:         root,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}, // its own group, and no terminal of the node's
	}
	err = s.startProcess(dirs)
	pw.Close()
	if err != nil {
		closeLn()
		pr.Close()
		return &StartError{lambada.FunctionFault{Type: "Runtime.InvalidEntrypoint", Message: err.Error()}}
	}
	return nil
}

// assign offers c to s, which its pool saw available at epoch, and returns
// the effects to carry out (apply) once the pool's lock is released. When
// s's runtime answered and has not asked for work yet, c is handed off: it
// waits for the runtime's next request, at most wait.
func (s *Sandbox) assign(c *call, epoch uint64, wait time.Duration) (effects, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Under s.mu: Manager.Fence sets fenced before it looks at s, so it
	// either sees c here or c sees the fence.
	if s.pool.m.fenced.Load() {
		return effects{}, errFenced
	}
	c.requeued = false
	e, err := s.life.assign(c, epoch)
	if err == nil && e.deliver == nil {
		c.handoff = time.AfterFunc(wait, func() { s.handoffExpired(c) })
	}
	return e, err
}

// await waits for c's outcome on s; requeued reports that c came back to
// Run, which owns it again. When ctx ends first, c is withdrawn if it was
// not delivered yet, and goes on without a caller otherwise (as on AWS); if
// it had come back to Run meanwhile, its slot is freed here: either way the
// caller is gone.
func (s *Sandbox) await(ctx context.Context, c *call) (res *lambada.Result, requeued bool, err error) {
	select {
	case o := <-c.done:
		if o.requeue {
			return nil, true, nil
		}
		if c.collect {
			select {
			case <-c.ended:
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			s.logMu.Lock()
			o.res.LogTail = append([]byte(nil), lambada.Tail(c.log)...)
			s.logMu.Unlock()
		}
		return o.res, false, nil
	case <-ctx.Done():
		s.mu.Lock()
		e := s.life.callerLeft(c)
		requeued = c.requeued
		s.mu.Unlock()
		s.apply(e, nil)
		if requeued {
			s.pool.m.free(c.inv)
		}
		return nil, requeued, ctx.Err()
	}
}

// Next implements runtimeapi.Runtime: it ends the answered invocation, if
// any, and waits for the next one.
func (s *Sandbox) Next(ctx context.Context) (*runtimeapi.Event, error) {
	s.mu.Lock()
	e, err := s.life.asked()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c := e.deliver
	e.deliver = nil // handed over here, not through deliveries
	if c != nil {
		s.delivered(c)
	}
	s.apply(e, nil)
	if c == nil {
		select {
		case c = <-s.deliveries:
		case <-s.dying:
			return nil, errGone
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.event(c), nil
}

// event is what the runtime's next answers for c.
func (s *Sandbox) event(c *call) *runtimeapi.Event {
	return &runtimeapi.Event{
		RequestID:     c.inv.RequestID,
		DeadlineMs:    c.start.Add(s.cfg.Timeout).UnixMilli(),
		InvokedARN:    c.inv.InvokedARN,
		TraceID:       traceID(c.start),
		ClientContext: c.inv.ClientContext,
		Payload:       c.inv.Payload,
		Delivered:     func() { s.startLog(c) },
	}
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
	e, err := s.life.responded(id)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	res := &lambada.Result{Payload: r.Body, ExecutedVersion: s.cfg.Version}
	switch {
	case r.TooLarge:
		res.Payload, res.FunctionError = lambada.ResponseTooLarge.Payload(), lambada.UnhandledFunctionErr
	case r.Error:
		res.FunctionError = lambada.UnhandledFunctionErr
	}
	s.apply(e, res)
	// The caller waiting for res is now runnable on this P, and would wait
	// until another thread steals it while this goroutine acknowledges the
	// runtime (a write that keeps the P): yield, so that the caller answers
	// its client first. Measured at concurrency 1: 45 µs → 9 µs from the
	// response's arrival to the caller's answer.
	runtime.Gosched()
	return nil
}

// InitError implements runtimeapi.Runtime: the invocation the environment
// started for fails with the runtime's error, and the environment is reset.
func (s *Sandbox) InitError(r runtimeapi.Response) error {
	s.mu.Lock()
	e, err := s.life.initFailed()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	errorType := r.ErrorType
	if errorType == "" {
		errorType = "Runtime.Unknown"
	}
	s.mu.Lock()
	s.exit = lambada.FunctionFault{Type: errorType, Message: "init failed"}
	s.mu.Unlock()
	s.apply(e, &lambada.Result{Payload: r.Body, FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: s.cfg.Version})
	return nil
}

// timedOut is c's timeout.
func (s *Sandbox) timedOut(c *call) {
	s.mu.Lock()
	e := s.life.timedOut(c)
	s.mu.Unlock()
	s.apply(e, nil)
}

// initTimedOut is the end of the time the runtime's init may take.
func (s *Sandbox) initTimedOut() {
	s.mu.Lock()
	e := s.life.initTimedOut()
	s.mu.Unlock()
	s.apply(e, nil)
}

// handoffExpired ends c's wait for s's runtime to ask for work.
func (s *Sandbox) handoffExpired(c *call) {
	s.mu.Lock()
	e := s.life.handoffExpired(c)
	s.mu.Unlock()
	s.apply(e, nil)
}

// stop kills the environment without waiting for it to be reaped; its
// calls end when its exit is seen.
func (s *Sandbox) stop() {
	s.mu.Lock()
	e := s.life.stop()
	s.mu.Unlock()
	s.apply(e, nil)
}

// stopIdle stops s if it is still idle at epoch, and reports whether it did.
func (s *Sandbox) stopIdle(epoch uint64) bool {
	s.mu.Lock()
	e, ok := s.life.stopIdle(epoch)
	s.mu.Unlock()
	s.apply(e, nil)
	return ok
}

// Close stops the environment and waits until its process is reaped.
func (s *Sandbox) Close() {
	s.stop()
	<-s.exited
}

// wait reaps the process and fails whatever it was doing.
func (s *Sandbox) wait() {
	err := s.cmd.Wait()
	s.kill() // the rest of the process group
	errorType := "Runtime.ExitError"
	if s.mem.OutOfMemory() {
		errorType = errTypeOutOfMemory
	}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.mem.NotePeakKB(int(ru.Maxrss))
	}
	s.mu.Lock()
	if s.exit.Type == "" {
		s.exit = lambada.FunctionFault{Type: errorType, Message: exitReason(err)}
	}
	e := s.life.exited()
	s.initTimer.Stop()
	s.mu.Unlock()
	s.apply(e, nil)
	s.out.closeRead()
	s.mem.Close(s.logger)
	_ = s.srv.Close()
	s.gone.Store(true)
	s.pool.remove(s) // before exited: Close returns once the pool has forgotten s
	close(s.exited)
}

// exitReason is AWS's text for how a runtime process ended.
func exitReason(err error) string {
	if err == nil {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + err.Error()
}

// kill stops the whole process group.
func (s *Sandbox) kill() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// exitInfo is what an environment had done when it exited.
type exitInfo struct {
	initDone bool // its runtime finished init
	served   bool // it took an invocation
	stopped  bool // its owner stopped it (stop or Close), not a failure of its own
}

func (s *Sandbox) exitInfo() exitInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return exitInfo{initDone: s.life.initDone, served: s.life.served, stopped: s.life.stopped}
}

// ready reports whether the environment is initialised and alive.
func (s *Sandbox) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.life.initDone && s.life.phase != dead
}

// phase returns where the environment is in its life.
func (s *Sandbox) phase() phase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.life.phase
}

// delivered readies c to run on s: its timeout starts, its log is
// collected, the memory watch runs.
func (s *Sandbox) delivered(c *call) {
	s.mu.Lock()
	c.start = time.Now()
	if c.handoff != nil {
		c.handoff.Stop()
	}
	c.timer = time.AfterFunc(s.cfg.Timeout, func() { s.timedOut(c) })
	s.mu.Unlock()
	s.beginLog(c)
	s.mem.Running(true)
}

// apply carries out the effects of a transition. res is the result the
// event brought (the runtime's response, or its init error); faults are
// made here.
func (s *Sandbox) apply(e effects, res *lambada.Result) {
	if e.initFailed != "" {
		s.logInitReport(e.initFailed)
	}
	if e.initDone {
		s.mu.Lock()
		s.initDur = time.Since(s.started)
		s.initTimer.Stop()
		s.mu.Unlock()
	}
	if e.kill {
		s.kill()
		s.mu.Lock()
		if !s.dyingDone {
			s.dyingDone = true
			close(s.dying)
		}
		s.mu.Unlock()
	}
	if c := e.deliver; c != nil {
		s.delivered(c)
		select {
		case s.deliveries <- c:
		default:
			// A delivery nobody took: its runtime stopped waiting for it
			// (it times out). The lifecycle delivers one at a time.
			<-s.deliveries
			s.deliveries <- c
		}
	}
	// Available before the caller has its answer (its client may send the
	// next request at once) and before END and REPORT are written: an
	// invocation arriving meanwhile takes this environment instead of
	// starting another.
	if e.available {
		s.pool.put(s, e.epoch, e.answered)
	}
	if c := e.answer; c != nil {
		if e.fault != noFault && e.fault != initFault {
			res = s.faultResult(c, e.fault)
		}
		c.done <- outcome{res: res}
	}
	if c := e.end; c != nil {
		s.end(c, e.status, e.fault)
	}
	if c := e.free; c != nil {
		s.stopTimers(c)
		s.pool.m.free(c.inv)
	}
	if c := e.requeue; c != nil {
		s.mu.Lock()
		c.requeued = true
		s.mu.Unlock()
		s.stopTimers(c)
		c.done <- outcome{requeue: true}
	}
}

// stopTimers stops c's timers.
func (s *Sandbox) stopTimers(c *call) {
	s.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.handoff != nil {
		c.handoff.Stop()
	}
	s.mu.Unlock()
}

// fault is the platform fault of kind that ends c.
func (s *Sandbox) fault(c *call, kind faultKind) *lambada.FunctionFault {
	var f lambada.FunctionFault
	switch kind {
	case timeout:
		f = lambada.Fault("Sandbox.Timedout", c.id(), lambada.TimeoutMessage(int(s.cfg.Timeout/time.Second)))
	case exitFault, initFault:
		s.mu.Lock()
		f = lambada.Fault(s.exit.Type, c.id(), s.exit.Message)
		s.mu.Unlock()
	default:
		return nil
	}
	return &f
}

// faultResult is what c's caller gets for a platform fault of kind.
func (s *Sandbox) faultResult(c *call, kind faultKind) *lambada.Result {
	return &lambada.Result{Payload: s.fault(c, kind).Payload(), FunctionError: lambada.UnhandledFunctionErr, ExecutedVersion: s.cfg.Version}
}

// end ends c: its timers stop, END and REPORT (and the fault's lines) are
// written after everything the function printed so far, a Tail caller may
// read the log, and its slot is freed.
func (s *Sandbox) end(c *call, status string, kind faultKind) {
	s.stopTimers(c)
	s.mem.Running(false)
	s.logEnd(c, status, s.fault(c, kind))
	close(c.ended)
	s.pool.m.free(c.inv)
}
