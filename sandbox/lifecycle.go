package sandbox

import (
	"errors"

	"github.com/lambada-dev/lambada/runtimeapi"
)

// phase is where an execution environment is in its life.
type phase uint8

const (
	starting phase = iota // the process runs; its runtime has not asked for work yet
	idle                  // the runtime waits for work, and none is assigned
	running               // the runtime has an invocation's event
	answered              // the runtime answered it and has not asked for the next yet
	dead                  // stopped or exited: it takes no more invocations
)

var phaseNames = [...]string{"starting", "idle", "running", "answered", "dead"}

func (p phase) String() string { return phaseNames[p] }

// Errors of the transitions.
var (
	// errGone: the environment is dead; an invocation may try another.
	errGone = errors.New("sandbox: environment is gone")
	// errTaken: the environment is no longer available as the pool saw it
	// (another invocation took it, it changed phase or died).
	errTaken = errors.New("sandbox: environment is not available")
)

// lifecycle is the state of one execution environment: a pure value,
// without goroutines, timers or I/O. The shell (Sandbox) applies each event
// to it under its mutex and carries out the effects it returns afterwards.
//
// An invocation (a call) is assigned to an environment when it is idle (and
// delivered at once), when the environment starts for it (delivered when
// its runtime first asks for work), or when the runtime answered its
// previous invocation and is about to ask for the next (handed off then).
// A delivered call is the current one until the runtime asks for work again
// (it ends then), or a timeout, an exit or an init failure ends it. Every
// call assigned to an environment leaves it exactly once: ended (its slot is
// freed after END and REPORT), freed (its caller left before delivery),
// or requeued (it must find another environment).
type lifecycle struct {
	phase phase
	cur   *call // delivered and not ended: running, answered, or dead until the exit is seen
	next  *call // assigned, waiting for the runtime to ask: starting or answered
	// epoch counts the times the environment became available (idle, or
	// answered without a next call); a pool entry names the epoch it saw.
	epoch    uint64
	replied  bool // the runtime answered cur
	initDone bool // the runtime asked for work once
	served   bool // an invocation was delivered
	stopped  bool // its owner stopped it, rather than a failure of its own
}

// faultKind says which platform fault ends a call.
type faultKind uint8

const (
	noFault   faultKind = iota
	timeout             // Sandbox.Timedout
	exitFault           // Runtime.ExitError or Runtime.OutOfMemory, with the exit's reason
	initFault           // the runtime's /init/error: its body is the payload
)

// effects is what the shell must do after a transition, in this order:
// stop the init timer, kill the process group, deliver, announce
// availability, answer, end, free and requeue.
type effects struct {
	initDone bool // init ended: stop the init timer, note the init duration
	// initFailed is how init failed ("error" or "timeout"; "" when it did
	// not): write INIT_REPORT.
	initFailed string
	kill       bool  // kill the process group
	deliver    *call // hand this call's event to the waiting next request and start its timeout
	answer     *call // give this call's caller its result (the event's result or fault)
	end        *call // write END and REPORT (and the fault's lines), then free the slot
	status     string
	fault      faultKind
	free       *call // free this call's slot: its caller left before delivery
	requeue    *call // hand this call back to its Run: it must find another environment
	available  bool  // tell the pool the environment is available, at epoch
	epoch      uint64
	answered   bool // available for a handoff (answered), not idle
}

// newLifecycle is an environment whose process is starting, for c (nil for
// one started ahead of time).
func newLifecycle(c *call) lifecycle {
	return lifecycle{phase: starting, next: c}
}

// announce makes the environment available at a new epoch.
func (l *lifecycle) announce(e *effects) {
	l.epoch++
	e.available, e.epoch, e.answered = true, l.epoch, l.phase == answered
}

// deliver makes c current and running.
func (l *lifecycle) deliver(c *call, e *effects) {
	l.phase, l.cur, l.replied, l.served = running, c, false, true
	e.deliver = c
}

// anyEpoch assigns to an environment whatever epoch it is at, as long as
// it is free.
const anyEpoch = ^uint64(0)

// assign offers c to an environment the pool saw available at epoch (or
// anyEpoch). An idle one takes it at once (deliver); an answered one without
// a next call keeps it as next, for when its runtime asks. Anything else is
// errTaken, or errGone once dead.
func (l *lifecycle) assign(c *call, epoch uint64) (effects, error) {
	var e effects
	switch {
	case l.phase == dead:
		return e, errGone
	case epoch != l.epoch && epoch != anyEpoch:
		return e, errTaken
	case l.phase == idle:
		l.deliver(c, &e)
		return e, nil
	case l.phase == answered && l.next == nil:
		l.next = c
		return e, nil
	}
	return e, errTaken
}

// asked is the runtime's GET next: init ends on the first; an answered
// invocation ends; the next call, if any, is delivered, else the
// environment is idle. A runtime that asks before answering gets
// InvalidStateTransition and its invocation goes on.
func (l *lifecycle) asked() (effects, error) {
	var e effects
	switch l.phase {
	case dead:
		return e, errGone
	case running:
		return e, &runtimeapi.StateError{From: runtimeapi.StateRunning}
	case idle:
		return e, nil // a second request waiting: nothing changes
	case starting:
		l.initDone, e.initDone = true, true
	case answered:
		e.end, l.cur, l.replied = l.cur, nil, false
	}
	if c := l.next; c != nil {
		l.next = nil
		l.deliver(c, &e)
		return e, nil
	}
	l.phase = idle
	l.announce(&e)
	return e, nil
}

// responded is the runtime's POST response or error for request id.
func (l *lifecycle) responded(id string) (effects, error) {
	var e effects
	switch {
	case l.phase == dead:
		return e, errGone
	case l.cur == nil || l.cur.id() != id:
		return e, runtimeapi.ErrInvalidRequestID
	case l.replied:
		return e, &runtimeapi.StateError{From: runtimeapi.StateResponseSent}
	}
	l.phase, l.replied, e.answer = answered, true, l.cur
	l.announce(&e)
	return e, nil
}

// initFailed is the runtime's POST init/error: the call the environment
// started for fails with the runtime's error, and the environment dies.
func (l *lifecycle) initFailed() (effects, error) {
	var e effects
	switch l.phase {
	case starting:
	case idle:
		return e, &runtimeapi.StateError{From: runtimeapi.StateReady}
	case dead:
		return e, errGone
	default:
		return e, &runtimeapi.StateError{From: runtimeapi.StateRunning}
	}
	l.die(&e)
	e.initFailed = "error"
	if c := l.next; c != nil {
		l.next = nil
		e.answer, e.end, e.status, e.fault = c, c, "error", initFault
	}
	return e, nil
}

// die marks the environment dead and kills its process group.
func (l *lifecycle) die(e *effects) {
	l.phase, e.kill = dead, true
}

// timedOut is c's timeout: the environment is reset (killed), c ends with
// Sandbox.Timedout (answered so, unless its runtime had answered), and a
// next call is requeued. A timer of a call that is no longer current
// changes nothing.
func (l *lifecycle) timedOut(c *call) effects {
	var e effects
	if c == nil || l.cur != c || l.phase == dead {
		return e
	}
	if !l.replied {
		e.answer = c
	}
	l.die(&e)
	l.cur, l.replied = nil, false
	e.end, e.status, e.fault = c, "timeout", timeout
	e.requeue, l.next = l.next, nil
	return e
}

// initTimedOut is the end of the time init may take: an environment still
// starting is reset, and the call it started for ends with Sandbox.Timedout.
func (l *lifecycle) initTimedOut() effects {
	var e effects
	if l.phase != starting {
		return e
	}
	l.die(&e)
	e.initFailed = "timeout"
	if c := l.next; c != nil {
		l.next = nil
		e.answer, e.end, e.status, e.fault = c, c, "timeout", timeout
	}
	return e
}

// exited is the process's exit, whatever caused it: the current call ends
// with the exit's fault (answered so, unless its runtime had answered); a
// call the environment was starting for fails the same way; a call handed
// off by an answered environment is requeued.
func (l *lifecycle) exited() effects {
	var e effects
	if l.phase == starting && !l.stopped {
		e.initFailed = "error" // it died in its init
	}
	l.die(&e) // the rest of the process group, too
	switch {
	case l.cur != nil:
		if !l.replied {
			e.answer = l.cur
		}
		e.end, e.status, e.fault = l.cur, "error", exitFault
		l.cur, l.replied = nil, false
		e.requeue, l.next = l.next, nil
	case l.next != nil && !l.initDone:
		e.answer, e.end, e.status, e.fault = l.next, l.next, "error", exitFault
		l.next = nil
	case l.next != nil:
		e.requeue, l.next = l.next, nil
	}
	return e
}

// callerLeft is c's caller giving up: a call not yet delivered is
// withdrawn and its slot freed; a delivered one goes on, as on AWS.
func (l *lifecycle) callerLeft(c *call) effects {
	var e effects
	if l.next != c || c == nil {
		return e
	}
	l.next, e.free = nil, c
	if l.phase == answered {
		l.announce(&e) // another call may be handed off
	}
	return e
}

// handoffExpired is the end of the wait of c, handed off by an answered
// environment whose runtime has not asked for work since: c is requeued
// (to another environment, or a new one).
func (l *lifecycle) handoffExpired(c *call) effects {
	var e effects
	if l.next != c || c == nil || l.phase != answered {
		return e
	}
	l.next, e.requeue = nil, c
	return e
}

// stop is the owner stopping the environment (retired, evicted, closed):
// it dies, and its calls end when its exit is seen, as after a crash.
func (l *lifecycle) stop() effects {
	var e effects
	if l.phase == dead {
		return e
	}
	l.die(&e)
	l.stopped = true
	return e
}

// stopIdle stops the environment if it is still idle at epoch (reaped or
// evicted), and reports whether it did.
func (l *lifecycle) stopIdle(epoch uint64) (effects, bool) {
	if l.phase != idle || l.epoch != epoch {
		return effects{}, false
	}
	return l.stop(), true
}
