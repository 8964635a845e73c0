package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/internal/poll"
)

// mustConn starts a NATS server in this process and connects to it.
func mustConn(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// node is one end of the relay with a fake environment: warm says whether
// it has an idle environment, run what an invocation does.
type node struct {
	*Relay
	mu      sync.Mutex
	warm    bool
	run     func(inv *lambada.Invocation, admitted func()) (*lambada.Result, error)
	got     []*lambada.Invocation
	targets []lambada.RunTarget
}

func (n *node) HasIdle(string, string) bool        { n.mu.Lock(); defer n.mu.Unlock(); return n.warm }
func (n *node) HasEnvironment(string, string) bool { return n.HasIdle("", "") }

func (n *node) RunHere(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation, admitted func()) (*lambada.Result, error) {
	n.mu.Lock()
	n.got = append(n.got, inv)
	n.targets = append(n.targets, t)
	run := n.run
	n.mu.Unlock()
	res, err := run(inv, admitted)
	if ctx.Err() != nil { // cut short, as an environment would be
		return nil, ctx.Err()
	}
	return res, err
}

func mustNode(t *testing.T, nc *nats.Conn, name string, warm bool, run func(*lambada.Invocation, func()) (*lambada.Result, error)) *node {
	t.Helper()
	n := &node{warm: warm, run: run}
	n.Relay = &Relay{Conn: nc, Self: name, Runner: n, Warmth: n}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	n.IdleChanged("fn", "1")
	return n
}

// setRun sets what n's invocations do.
func (n *node) setRun(run func(*lambada.Invocation, func()) (*lambada.Result, error)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.run = run
}

// failing fails with err, after the admission when admit.
func failing(admit bool, err error) func(*lambada.Invocation, func()) (*lambada.Result, error) {
	return func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		if admit {
			admitted()
		}
		return nil, err
	}
}

func ran(res *lambada.Result) func(*lambada.Invocation, func()) (*lambada.Result, error) {
	return func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		return res, nil
	}
}

func TestRelay(t *testing.T) {
	nc := mustConn(t)
	ctx := context.Background()
	want := &lambada.Result{Payload: []byte(`{"ok":true}`), FunctionError: "Unhandled", ExecutedVersion: "1", LogTail: []byte("START\nEND\n")}
	a := mustNode(t, nc, "a", false, ran(nil))
	b := mustNode(t, nc, "b", true, ran(want))
	members := lambada.NewMembers("a", []string{"a", "b"}, time.Now().Add(time.Hour))
	a.SetMembers(members)
	inv := &lambada.Invocation{RequestID: "r1", Type: lambada.RequestResponse, LogType: lambada.LogTail, InvokedARN: "arn:fn:1",
		Payload: []byte(`{"x":1}`), ClientContext: []byte(`{"custom":{"k":"v"}}`)}

	// b has a warm environment: a's invocation runs there, everything
	// carried both ways.
	poll.Until(t, 5*time.Second, "b listens for warm invocations", func() bool {
		b.Relay.mu.Lock()
		defer b.Relay.mu.Unlock()
		return len(b.Relay.warm) == 1
	})
	target := lambada.RunTarget{Key: "fn", Qualifier: "live", Version: "1", Generation: 1234567890123, Timeout: time.Second}
	res, ok, err := a.Warm(ctx, target, inv)
	if !ok || err != nil {
		t.Fatalf("warm: %v %v", ok, err)
	}
	if !bytes.Equal(res.Payload, want.Payload) || res.FunctionError != want.FunctionError || res.ExecutedVersion != "1" || !bytes.Equal(res.LogTail, want.LogTail) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	b.mu.Lock()
	got, gotTarget := b.got[0], b.targets[0]
	b.mu.Unlock()
	if gotTarget != target {
		t.Errorf("b ran %+v, want %+v", gotTarget, target)
	}
	if got.RequestID != "r1" || got.InvokedARN != "arn:fn:1" || got.LogType != lambada.LogTail || got.Type != lambada.RequestResponse ||
		!bytes.Equal(got.Payload, inv.Payload) || !bytes.Equal(got.ClientContext, inv.ClientContext) {
		t.Errorf("b ran %+v", got)
	}

	// No node has one: answered at once (NATS's no responders), false.
	start := time.Now()
	if _, ok, _ := a.Warm(ctx, lambada.RunTarget{Key: "other", Version: "1", Timeout: time.Second}, inv); ok || time.Since(start) >= AcceptWait {
		t.Errorf("a version nobody has: %v after %v", ok, time.Since(start))
	}
	// b's environment got busy: it declines, and a runs it itself.
	b.mu.Lock()
	b.warm = false
	b.mu.Unlock()
	if _, ok, _ := a.Warm(ctx, target, inv); ok {
		t.Error("b took an invocation with no idle environment")
	}

	// Elsewhere: b throttles, so no node took it; b admits, then throttles
	// (its memory budget has no room): not taken either, so that a asks
	// another node, or runs it; then b admits and the invocation's error
	// comes back as it was.
	b.setRun(failing(false, lambada.Throttled(lambada.ReasonConcurrentLimit)))
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok {
		t.Error("a throttled invocation was taken")
	}
	b.setRun(failing(true, lambada.Throttled(lambada.ReasonConcurrentLimit)))
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok {
		t.Error("an invocation throttled once admitted was taken")
	}
	b.setRun(failing(true, &lambada.Error{Code: lambada.EINVALID, Message: "Bad code.", Reason: "why"}))
	_, ok, err = a.Elsewhere(ctx, target, inv)
	var le *lambada.Error
	if !ok || !errors.As(err, &le) || le.Code != lambada.EINVALID || le.Reason != "why" || le.Message != "Bad code." {
		t.Errorf("an error after admission: %v %v", ok, err)
	}

	// A long invocation: b says it took it, and a waits past AcceptWait for
	// the result.
	b.mu.Lock()
	b.run = func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		time.Sleep(AcceptWait + 200*time.Millisecond) // the function runs that long
		return want, nil
	}
	b.mu.Unlock()
	if res, ok, err := a.Elsewhere(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: 5 * time.Second}, inv); !ok || err != nil || !bytes.Equal(res.Payload, want.Payload) {
		t.Errorf("a long invocation: %v %v", ok, err)
	}

	// The node running it leaves the cluster: a stops waiting.
	mustStopWaitingForLeaver(t, a, b, func() (*lambada.Result, bool, error) {
		return a.Elsewhere(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: time.Minute}, inv)
	})

	// The caller's context ends: a stops waiting, straight away.
	cctx, cancel := context.WithCancel(ctx)
	if err := mustStopWaiting(t, b, func() (*lambada.Result, bool, error) {
		return a.Elsewhere(cctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: time.Minute}, inv)
	}, cancel); !errors.Is(err, context.Canceled) {
		t.Errorf("the caller gone: %v", err)
	}

	// b closes while it runs one for a: it lets it end, and a has its
	// result.
	release := make(chan struct{})
	b.setRun(func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		<-release
		return want, nil
	})
	a.SetMembers(members)
	b.mu.Lock()
	asked := len(b.got)
	b.mu.Unlock()
	answered := make(chan error, 1)
	go func() {
		res, ok, err := a.Elsewhere(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: 5 * time.Second}, inv)
		if err == nil && (!ok || !bytes.Equal(res.Payload, want.Payload)) {
			err = fmt.Errorf("taken %v, %+v", ok, res)
		}
		answered <- err
	}()
	poll.Until(t, 5*time.Second, "b runs it", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.got) > asked })
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	poll.Until(t, 5*time.Second, "b closing", func() bool { b.Relay.mu.Lock(); defer b.Relay.mu.Unlock(); return b.Relay.closed })
	close(release)
	if err := poll.Receive(t, 10*time.Second, "the result of what b ran as it closed", answered); err != nil {
		t.Errorf("b closing as it ran it: %v", err)
	}
	poll.Receive(t, 10*time.Second, "b's close", closed)

	// b closed: it takes nothing more, and a hears so at once.
	b.setRun(ran(want))
	start = time.Now()
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok || time.Since(start) >= AcceptWait {
		t.Errorf("a closed node: taken %v, after %v", ok, time.Since(start))
	}
}

// A node that had a warm invocation of a version run by another sends the
// next ones straight to it (over HTTP), with everything carried both ways
// as over NATS; it forgets a node that declines, and falls back to NATS.
func TestRelay_Direct(t *testing.T) {
	nc := mustConn(t)
	ctx := context.Background()
	want := &lambada.Result{Payload: []byte(`{"ok":true}`), FunctionError: "Unhandled", ExecutedVersion: "1", LogTail: []byte("START\nEND\n")}
	nodes := map[string]*node{}
	open := func(name, listen string, warm bool, run func(*lambada.Invocation, func()) (*lambada.Result, error)) *node {
		n := &node{warm: warm, run: run}
		n.Relay = &Relay{Conn: nc, Self: name, Runner: n, Warmth: n, Listen: listen,
			Addrs: func(node string) string { return nodes[node].Addr() }}
		if err := n.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		n.IdleChanged("fn", "1")
		nodes[name] = n
		return n
	}
	a := open("a", "127.0.0.1:0", false, ran(nil))
	b := open("b", "127.0.0.1:0", true, ran(want))
	members := lambada.NewMembers("a", []string{"a", "b"}, time.Now().Add(time.Hour))
	a.SetMembers(members)
	id := lambada.VersionID("fn", "1")
	known := func() []string {
		a.direct.mu.Lock()
		defer a.direct.mu.Unlock()
		return slices.Clone(a.direct.nodes[id])
	}
	poll.Until(t, 5*time.Second, "b listens for warm invocations", func() bool {
		b.Relay.mu.Lock()
		defer b.Relay.mu.Unlock()
		return len(b.Relay.warm) == 1
	})
	target := lambada.RunTarget{Key: "fn", Qualifier: "live", Version: "1", Generation: 7, Timeout: time.Second}
	inv := &lambada.Invocation{RequestID: "r1", Type: lambada.RequestResponse, LogType: lambada.LogTail, InvokedARN: "arn:fn:1",
		Payload: []byte(`{"x":1}`), ClientContext: []byte(`{"custom":{"k":"v"}}`)}
	if _, ok, err := a.Warm(ctx, target, inv); !ok || err != nil {
		t.Fatalf("warm over NATS: %v %v", ok, err)
	}
	if got := known(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a knows %v ran the version, want [b]", got)
	}
	// b no longer listens on NATS: the next one goes straight.
	b.Relay.mu.Lock()
	for id, s := range b.Relay.warm {
		s.Unsubscribe()
		delete(b.Relay.warm, id)
	}
	b.Relay.mu.Unlock()
	res, ok, err := a.Warm(ctx, target, inv)
	if !ok || err != nil {
		t.Fatalf("warm straight: %v %v", ok, err)
	}
	if !bytes.Equal(res.Payload, want.Payload) || res.FunctionError != want.FunctionError || res.ExecutedVersion != "1" || !bytes.Equal(res.LogTail, want.LogTail) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	b.mu.Lock()
	got, gotTarget := b.got[len(b.got)-1], b.targets[len(b.targets)-1]
	b.mu.Unlock()
	if gotTarget != target {
		t.Errorf("b ran %+v, want %+v", gotTarget, target)
	}
	if got.RequestID != "r1" || got.InvokedARN != "arn:fn:1" || got.LogType != lambada.LogTail || got.Type != lambada.RequestResponse ||
		!bytes.Equal(got.Payload, inv.Payload) || !bytes.Equal(got.ClientContext, inv.ClientContext) {
		t.Errorf("b ran %+v", got)
	}

	// b's environment got busy: it declines, a forgets it, and NATS has
	// nobody either.
	b.mu.Lock()
	b.warm = false
	b.mu.Unlock()
	if _, ok, _ := a.Warm(ctx, target, inv); ok || len(known()) != 0 {
		t.Errorf("b declined: taken %v, a still knows %v", ok, known())
	}
	b.mu.Lock()
	b.warm = true
	b.mu.Unlock()

	for _, tc := range []struct {
		what string
		run  func(*lambada.Invocation, func()) (*lambada.Result, error)
		ok   bool
		err  *lambada.Error
		res  *lambada.Result
	}{
		{what: "throttled once admitted", ok: false, run: failing(true, lambada.Throttled(lambada.ReasonConcurrentLimit))},
		{what: "an error once admitted", ok: true, err: &lambada.Error{Code: lambada.EINVALID, Message: "Bad code.", Reason: "why"},
			run: failing(true, &lambada.Error{Code: lambada.EINVALID, Message: "Bad code.", Reason: "why"})},
		{what: "a long invocation", ok: true, res: want, run: func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
			admitted()
			time.Sleep(AcceptWait + 200*time.Millisecond) // the function runs that long
			return want, nil
		}},
		{what: "a long invocation's error", ok: true, err: &lambada.Error{Code: lambada.EINVALID, Message: "Late.", Reason: "later"},
			run: func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
				admitted()
				time.Sleep(AcceptWait + 200*time.Millisecond) // the function runs that long
				return nil, &lambada.Error{Code: lambada.EINVALID, Message: "Late.", Reason: "later"}
			}},
	} {
		a.direct.remember(id, "b")
		b.setRun(tc.run)
		res, ok, err := a.Warm(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: 5 * time.Second}, inv)
		var le *lambada.Error
		switch {
		case ok != tc.ok:
			t.Errorf("%s: taken %v", tc.what, ok)
		case tc.err != nil && (!errors.As(err, &le) || *le != *tc.err):
			t.Errorf("%s: %v, want %v", tc.what, err, tc.err)
		case tc.res != nil && (err != nil || !bytes.Equal(res.Payload, tc.res.Payload) || !bytes.Equal(res.LogTail, tc.res.LogTail)):
			t.Errorf("%s: %+v %v", tc.what, res, err)
		}
	}

	// The node running it leaves the cluster: a stops waiting.
	a.direct.remember(id, "b")
	mustStopWaitingForLeaver(t, a, b, func() (*lambada.Result, bool, error) {
		return a.Warm(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: time.Minute}, inv)
	})

	// The caller's context ends: a stops waiting, straight away.
	a.direct.remember(id, "b")
	cctx, cancel := context.WithCancel(ctx)
	if err := mustStopWaiting(t, b, func() (*lambada.Result, bool, error) {
		return a.Warm(cctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: time.Minute}, inv)
	}, cancel); !errors.Is(err, context.Canceled) {
		t.Errorf("the caller gone: %v", err)
	}

	// a keeps connections to b while b is live, and no longer.
	bAddr := b.Addr() // b's, also once it closed
	idle := func() int { a.direct.mu.Lock(); defer a.direct.mu.Unlock(); return len(a.direct.idle[bAddr]) }
	b.setRun(ran(want))
	a.direct.remember(id, "b")
	if _, ok, err := a.Warm(ctx, target, inv); !ok || err != nil || idle() == 0 {
		t.Errorf("a keeps no connection to b: %v %v", ok, err)
	}
	a.SetMembers(lambada.NewMembers("a", []string{"a"}, time.Now().Add(time.Hour)))
	if idle() != 0 {
		t.Error("a keeps connections to a node gone")
	}
	a.SetMembers(members)

	// A payload larger than an invocation's is not taken.
	a.direct.remember(id, "b")
	b.mu.Lock()
	b.run = ran(want)
	asked := len(b.got)
	b.mu.Unlock()
	big := &lambada.Invocation{RequestID: "big", Payload: bytes.Repeat([]byte("x"), lambada.MaxSyncPayload+1)}
	if _, ok, _ := a.Warm(ctx, target, big); ok {
		t.Error("a payload too large was taken")
	}
	b.mu.Lock()
	if len(b.got) != asked {
		t.Error("b ran a payload too large")
	}
	b.mu.Unlock()

	// b closes: a finds nobody there, at once.
	a.SetMembers(members)
	b.setRun(ran(want))
	a.direct.remember(id, "b")
	if _, ok, err := a.Warm(ctx, target, inv); !ok || err != nil || idle() == 0 {
		t.Fatalf("a keeps no connection to b: %v %v", ok, err)
	}
	addr := bAddr
	c1, err1 := a.direct.get(addr) // the one kept
	c2, err2 := a.direct.get(addr) // a new one
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	a.direct.put(addr, c1)
	a.direct.put(addr, c2)
	b.Close()
	a.direct.remember(id, "b")
	start := time.Now()
	if _, ok, _ := a.Warm(ctx, target, inv); ok || time.Since(start) >= AcceptWait {
		t.Errorf("a closed node: taken %v, after %v", ok, time.Since(start))
	}

	// b starts again on the same address, while a still keeps connections
	// to the b that was: they are dead, and the invocation runs all the
	// same.
	if idle() == 0 {
		t.Fatal("a kept no connection to the b that was")
	}
	b = open("b", addr, true, ran(want))
	poll.Until(t, 5*time.Second, "b listens for warm invocations again", func() bool {
		b.Relay.mu.Lock()
		defer b.Relay.mu.Unlock()
		return len(b.Relay.warm) == 1
	})
	a.direct.remember(id, "b")
	if res, ok, err := a.Warm(ctx, target, inv); !ok || err != nil || !bytes.Equal(res.Payload, want.Payload) {
		t.Errorf("b started again: taken %v, %v", ok, err)
	}
}

// mustStopWaiting has b run, until it is told, the invocation that ask
// sends, and once it ran a while (b said it took it), calls cut, and returns the error ask ends with (failing the
// test when ask does not end, or ends without one).
func mustStopWaiting(t *testing.T, b *node, ask func() (*lambada.Result, bool, error), cut func()) error {
	t.Helper()
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	t.Cleanup(free) // before b's Close, which waits for the invocation
	var running atomic.Bool
	b.setRun(func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		time.Sleep(3 * tookAfter) // the function runs that long: b said it took it
		running.Store(true)
		<-release
		return &lambada.Result{}, nil
	})
	ended := make(chan error, 1)
	go func() {
		_, ok, err := ask()
		if !ok {
			err = errors.New("not taken")
		}
		ended <- err
	}()
	poll.Until(t, 5*time.Second, "b runs it a while", running.Load)
	cut()
	err := poll.Receive(t, 10*time.Second, "the asking node's end", ended)
	if err == nil {
		t.Error("a result came after all")
	}
	return err
}

// mustStopWaitingForLeaver checks that a stops waiting for the invocation
// ask sends once b, running it, leaves a's view of the cluster.
func mustStopWaitingForLeaver(t *testing.T, a, b *node, ask func() (*lambada.Result, bool, error)) {
	t.Helper()
	members := a.members.Load()
	defer a.SetMembers(members)
	mustStopWaiting(t, b, ask, func() { a.SetMembers(lambada.NewMembers("a", []string{"a"}, time.Now().Add(time.Hour))) })
}
