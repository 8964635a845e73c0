package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/runtimeapi"
)

// The calls of the table: a is current or the one an environment started
// for; b is a second invocation.
var (
	callA = &call{inv: &lambada.Invocation{RequestID: "a"}}
	callB = &call{inv: &lambada.Invocation{RequestID: "b"}}
)

// Lifecycles in every phase, each at epoch 3.
func lcStarting() lifecycle    { return lifecycle{phase: starting, epoch: 3} }
func lcStartingFor() lifecycle { return lifecycle{phase: starting, next: callA, epoch: 3} }
func lcIdle() lifecycle        { return lifecycle{phase: idle, epoch: 3, initDone: true} }
func lcRunning() lifecycle {
	return lifecycle{phase: running, cur: callA, epoch: 3, initDone: true, served: true}
}
func lcAnswered() lifecycle {
	return lifecycle{phase: answered, cur: callA, replied: true, epoch: 3, initDone: true, served: true}
}
func lcAnsweredHandoff() lifecycle { l := lcAnswered(); l.next = callB; return l }
func lcDeadRunning() lifecycle     { l := lcRunning(); l.phase, l.stopped = dead, true; return l }
func lcDead() lifecycle            { return lifecycle{phase: dead, epoch: 3, initDone: true} }

// describe renders the effects that are set, for comparison.
func describe(e effects) string {
	var parts []string
	name := func(c *call) string { return c.inv.RequestID }
	if e.initDone {
		parts = append(parts, "initDone")
	}
	if e.initFailed != "" {
		parts = append(parts, "initFailed "+e.initFailed)
	}
	if e.kill {
		parts = append(parts, "kill")
	}
	if e.deliver != nil {
		parts = append(parts, "deliver "+name(e.deliver))
	}
	if e.answer != nil {
		parts = append(parts, "answer "+name(e.answer))
	}
	if e.available {
		kind := "idle"
		if e.answered {
			kind = "answered"
		}
		parts = append(parts, fmt.Sprintf("available %s@%d", kind, e.epoch))
	}
	if e.end != nil {
		parts = append(parts, fmt.Sprintf("end %s %q %d", name(e.end), e.status, e.fault))
	}
	if e.free != nil {
		parts = append(parts, "free "+name(e.free))
	}
	if e.requeue != nil {
		parts = append(parts, "requeue "+name(e.requeue))
	}
	return strings.Join(parts, ", ")
}

// state renders what a test checks of a lifecycle.
func state(l lifecycle) string {
	name := func(c *call) string {
		if c == nil {
			return "-"
		}
		return c.inv.RequestID
	}
	return fmt.Sprintf("%s cur=%s next=%s epoch=%d replied=%v init=%v served=%v stopped=%v",
		l.phase, name(l.cur), name(l.next), l.epoch, l.replied, l.initDone, l.served, l.stopped)
}

func TestLifecycle_Transitions(t *testing.T) {
	type event func(l *lifecycle) (effects, error)
	assign := func(c *call, epoch uint64) event {
		return func(l *lifecycle) (effects, error) { return l.assign(c, epoch) }
	}
	asked := func(l *lifecycle) (effects, error) { return l.asked() }
	responded := func(id string) event { return func(l *lifecycle) (effects, error) { return l.responded(id) } }
	initFailed := func(l *lifecycle) (effects, error) { return l.initFailed() }
	timedOut := func(c *call) event { return func(l *lifecycle) (effects, error) { return l.timedOut(c), nil } }
	initTimedOut := func(l *lifecycle) (effects, error) { return l.initTimedOut(), nil }
	exited := func(l *lifecycle) (effects, error) { return l.exited(), nil }
	callerLeft := func(c *call) event { return func(l *lifecycle) (effects, error) { return l.callerLeft(c), nil } }
	handoffExpired := func(c *call) event { return func(l *lifecycle) (effects, error) { return l.handoffExpired(c), nil } }
	stop := func(l *lifecycle) (effects, error) { return l.stop(), nil }
	stopIdle := func(epoch uint64) event {
		return func(l *lifecycle) (effects, error) {
			e, ok := l.stopIdle(epoch)
			if !ok {
				return e, errTaken
			}
			return e, nil
		}
	}
	stateErr := func(from string) error { return &runtimeapi.StateError{From: from} }

	for _, tc := range []struct {
		name    string
		from    lifecycle
		event   event
		want    string // the state after
		effects string
		err     error
	}{
		// The runtime asks for work.
		{"first next, started ahead", lcStarting(), asked,
			"idle cur=- next=- epoch=4 replied=false init=true served=false stopped=false", "initDone, available idle@4", nil},
		{"first next, started for a", lcStartingFor(), asked,
			"running cur=a next=- epoch=3 replied=false init=true served=true stopped=false", "initDone, deliver a", nil},
		{"next after answering", lcAnswered(), asked,
			"idle cur=- next=- epoch=4 replied=false init=true served=true stopped=false", "available idle@4, end a \"\" 0", nil},
		{"next after answering, b handed off", lcAnsweredHandoff(), asked,
			"running cur=b next=- epoch=3 replied=false init=true served=true stopped=false", "deliver b, end a \"\" 0", nil},
		{"next before answering", lcRunning(), asked,
			state(lcRunning()), "", stateErr(runtimeapi.StateRunning)},
		{"next again while idle", lcIdle(), asked, state(lcIdle()), "", nil},
		{"next when dead", lcDead(), asked, state(lcDead()), "", errGone},

		// An invocation is assigned.
		{"assign to idle", lcIdle(), assign(callB, 3),
			"running cur=b next=- epoch=3 replied=false init=true served=true stopped=false", "deliver b", nil},
		{"assign to idle, stale epoch", lcIdle(), assign(callB, 2), state(lcIdle()), "", errTaken},
		{"assign to idle, any epoch", lcIdle(), assign(callB, anyEpoch),
			"running cur=b next=- epoch=3 replied=false init=true served=true stopped=false", "deliver b", nil},
		{"hand off to answered, any epoch", lcAnswered(), assign(callB, anyEpoch), state(lcAnsweredHandoff()), "", nil},
		{"assign to running, any epoch", lcRunning(), assign(callB, anyEpoch), state(lcRunning()), "", errTaken},
		{"assign to dead, any epoch", lcDead(), assign(callB, anyEpoch), state(lcDead()), "", errGone},
		{"hand off to answered", lcAnswered(), assign(callB, 3), state(lcAnsweredHandoff()), "", nil},
		{"hand off twice", lcAnsweredHandoff(), assign(callB, 3), state(lcAnsweredHandoff()), "", errTaken},
		{"assign to running", lcRunning(), assign(callB, 3), state(lcRunning()), "", errTaken},
		{"assign to starting", lcStartingFor(), assign(callB, 3), state(lcStartingFor()), "", errTaken},
		{"assign to dead", lcDead(), assign(callB, 3), state(lcDead()), "", errGone},

		// The runtime answers.
		{"response", lcRunning(), responded("a"),
			"answered cur=a next=- epoch=4 replied=true init=true served=true stopped=false", "answer a, available answered@4", nil},
		{"response, wrong id", lcRunning(), responded("x"), state(lcRunning()), "", runtimeapi.ErrInvalidRequestID},
		{"response twice", lcAnswered(), responded("a"), state(lcAnswered()), "", stateErr(runtimeapi.StateResponseSent)},
		{"response with nothing delivered", lcIdle(), responded("a"), state(lcIdle()), "", runtimeapi.ErrInvalidRequestID},
		{"response while starting", lcStartingFor(), responded("a"), state(lcStartingFor()), "", runtimeapi.ErrInvalidRequestID},
		{"response when dead", lcDeadRunning(), responded("a"), state(lcDeadRunning()), "", errGone},

		// The runtime fails its init.
		{"init error, started for a", lcStartingFor(), initFailed,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed error, kill, answer a, end a \"error\" 3", nil},
		{"init error, started ahead", lcStarting(), initFailed,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed error, kill", nil},
		{"init error after init", lcIdle(), initFailed, state(lcIdle()), "", stateErr(runtimeapi.StateReady)},
		{"init error while running", lcRunning(), initFailed, state(lcRunning()), "", stateErr(runtimeapi.StateRunning)},
		{"init error when dead", lcDead(), initFailed, state(lcDead()), "", errGone},

		// Timeouts.
		{"timeout while running", lcRunning(), timedOut(callA),
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, answer a, end a \"timeout\" 1", nil},
		{"timeout after answering", lcAnswered(), timedOut(callA),
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, end a \"timeout\" 1", nil},
		{"timeout after answering, b handed off", lcAnsweredHandoff(), timedOut(callA),
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, end a \"timeout\" 1, requeue b", nil},
		{"stale timeout", lcRunning(), timedOut(callB), state(lcRunning()), "", nil},
		{"timeout when idle", lcIdle(), timedOut(callA), state(lcIdle()), "", nil},
		{"timeout of a stopped call", lcDeadRunning(), timedOut(callA), state(lcDeadRunning()), "", nil},
		{"init timeout, started for a", lcStartingFor(), initTimedOut,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed timeout, kill, answer a, end a \"timeout\" 1", nil},
		{"init timeout, started ahead", lcStarting(), initTimedOut,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed timeout, kill", nil},
		{"init timeout after init", lcIdle(), initTimedOut, state(lcIdle()), "", nil},

		// The process exits (or is killed, and its exit seen).
		{"exit while running", lcRunning(), exited,
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, answer a, end a \"error\" 2", nil},
		{"exit after answering", lcAnswered(), exited,
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, end a \"error\" 2", nil},
		{"exit after answering, b handed off", lcAnsweredHandoff(), exited,
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=false", "kill, end a \"error\" 2, requeue b", nil},
		{"exit while starting for a", lcStartingFor(), exited,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed error, kill, answer a, end a \"error\" 2", nil},
		{"exit while starting ahead", lcStarting(), exited,
			"dead cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "initFailed error, kill", nil},
		{"exit while idle", lcIdle(), exited,
			"dead cur=- next=- epoch=3 replied=false init=true served=false stopped=false", "kill", nil},
		{"exit of a stopped, running environment", lcDeadRunning(), exited,
			"dead cur=- next=- epoch=3 replied=false init=true served=true stopped=true", "kill, answer a, end a \"error\" 2", nil},
		{"exit after a timeout", lcDead(), exited, state(lcDead()), "kill", nil},

		// The caller leaves.
		{"caller leaves before delivery", lcStartingFor(), callerLeft(callA),
			"starting cur=- next=- epoch=3 replied=false init=false served=false stopped=false", "free a", nil},
		{"caller leaves a handoff", lcAnsweredHandoff(), callerLeft(callB),
			"answered cur=a next=- epoch=4 replied=true init=true served=true stopped=false", "available answered@4, free b", nil},
		{"caller leaves after delivery", lcRunning(), callerLeft(callA), state(lcRunning()), "", nil},
		{"caller of another call leaves", lcStartingFor(), callerLeft(callB), state(lcStartingFor()), "", nil},

		// A handoff that waited too long.
		{"handoff expires", lcAnsweredHandoff(), handoffExpired(callB),
			"answered cur=a next=- epoch=3 replied=true init=true served=true stopped=false", "requeue b", nil},
		{"handoff expires after delivery", lcRunning(), handoffExpired(callA), state(lcRunning()), "", nil},
		{"stale handoff expiry", lcAnswered(), handoffExpired(callB), state(lcAnswered()), "", nil},

		// The owner stops the environment.
		{"stop while running", lcRunning(), stop,
			"dead cur=a next=- epoch=3 replied=false init=true served=true stopped=true", "kill", nil},
		{"stop while starting for a", lcStartingFor(), stop,
			"dead cur=- next=a epoch=3 replied=false init=false served=false stopped=true", "kill", nil},
		{"stop when dead", lcDead(), stop, state(lcDead()), "", nil},
		{"stop idle", lcIdle(), stopIdle(3),
			"dead cur=- next=- epoch=3 replied=false init=true served=false stopped=true", "kill", nil},
		{"stop idle, stale epoch", lcIdle(), stopIdle(2), state(lcIdle()), "", errTaken},
		{"stop idle while running", lcRunning(), stopIdle(3), state(lcRunning()), "", errTaken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.from
			e, err := tc.event(&l)
			if fmt.Sprint(err) != fmt.Sprint(tc.err) || !errors.Is(err, tc.err) && !errors.Is(tc.err, runtimeapi.ErrInvalidState) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if got := state(l); got != tc.want {
				t.Errorf("state\n got %s\nwant %s", got, tc.want)
			}
			if got := describe(e); got != tc.effects {
				t.Errorf("effects\n got %s\nwant %s", got, tc.effects)
			}
		})
	}
}

// TestLifecycle_EveryCallLeavesOnce drives an environment through random
// sequences of events and checks the promise the shell relies on for slots:
// every call assigned to it leaves exactly once (ended, freed or requeued).
func TestLifecycle_EveryCallLeavesOnce(t *testing.T) {
	for seed := range 2000 {
		r := seed
		next := func(n int) int { r = (r*1103515245 + 12345) & 0x7fffffff; return r % n }
		var calls []*call
		left := map[*call]int{}
		note := func(e effects) {
			for _, c := range []*call{e.end, e.free, e.requeue} {
				if c != nil {
					left[c]++
				}
			}
		}
		first := &call{inv: &lambada.Invocation{RequestID: "c0"}}
		calls = append(calls, first)
		l := newLifecycle(first)
		for step := 0; step < 40; step++ {
			var e effects
			switch next(9) {
			case 0:
				c := &call{inv: &lambada.Invocation{RequestID: fmt.Sprint("c", len(calls))}}
				var err error
				if e, err = l.assign(c, l.epoch); err == nil {
					calls = append(calls, c)
				}
			case 1:
				e, _ = l.asked()
			case 2:
				if l.cur != nil {
					e, _ = l.responded(l.cur.id())
				}
			case 3:
				e, _ = l.initFailed()
			case 4:
				e = l.timedOut(l.cur)
			case 5:
				e = l.initTimedOut()
			case 6:
				e = l.callerLeft(calls[next(len(calls))])
			case 7:
				e = l.handoffExpired(l.next)
			case 8:
				e = l.stop()
			}
			note(e)
		}
		note(l.exited()) // every environment's process ends
		for _, c := range calls {
			if left[c] != 1 {
				t.Fatalf("seed %d: call %s left %d times", seed, c.id(), left[c])
			}
		}
	}
}
