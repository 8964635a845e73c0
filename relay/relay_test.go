package relay

import (
	"bytes"
	"context"
	"errors"
	"sync"
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

func (n *node) RunHere(_ context.Context, t lambada.RunTarget, inv *lambada.Invocation, admitted func()) (*lambada.Result, error) {
	n.mu.Lock()
	n.got = append(n.got, inv)
	n.targets = append(n.targets, t)
	run := n.run
	n.mu.Unlock()
	return run(inv, admitted)
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
	b.mu.Lock()
	b.run = func(*lambada.Invocation, func()) (*lambada.Result, error) {
		return nil, lambada.Throttled(lambada.ReasonConcurrentLimit)
	}
	b.mu.Unlock()
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok {
		t.Error("a throttled invocation was taken")
	}
	b.mu.Lock()
	b.run = func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		return nil, lambada.Throttled(lambada.ReasonConcurrentLimit)
	}
	b.mu.Unlock()
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok {
		t.Error("an invocation throttled once admitted was taken")
	}
	b.mu.Lock()
	b.run = func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		return nil, &lambada.Error{Code: lambada.EINVALID, Message: "Bad code.", Reason: "why"}
	}
	b.mu.Unlock()
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
	b.mu.Lock()
	release := make(chan struct{})
	b.run = func(_ *lambada.Invocation, admitted func()) (*lambada.Result, error) {
		admitted()
		<-release
		return want, nil
	}
	asked := len(b.got)
	b.mu.Unlock()
	left := make(chan error, 1)
	go func() {
		_, ok, err := a.Elsewhere(ctx, lambada.RunTarget{Key: "fn", Version: "1", Timeout: time.Minute}, inv)
		if !ok {
			err = errors.New("not taken")
		}
		left <- err
	}()
	poll.Until(t, 5*time.Second, "b runs it", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.got) > asked })
	a.SetMembers(lambada.NewMembers("a", []string{"a"}, time.Now().Add(time.Hour)))
	select {
	case err := <-left:
		if err == nil {
			t.Error("a had a result from a node gone")
		}
	case <-time.After(10 * time.Second):
		t.Error("a still waits for a node gone")
	}

	// b closes (once its invocation ends): it takes nothing more, and a
	// hears so at once.
	close(release)
	b.mu.Lock()
	b.run = ran(want)
	b.mu.Unlock()
	a.SetMembers(members)
	b.Close()
	start = time.Now()
	if _, ok, _ := a.Elsewhere(ctx, target, inv); ok || time.Since(start) >= AcceptWait {
		t.Errorf("a closed node: taken %v, after %v", ok, time.Since(start))
	}
}
