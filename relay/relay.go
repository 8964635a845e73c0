// Package relay carries invocations between the nodes of a cluster, over
// NATS request-reply. A node subscribes, in one queue group per function
// version, while it has an environment of that version: a node without an
// idle one asks that subject first (Warm), and NATS hands the request to
// one node that has one, which runs it if that environment is idle (or
// about to be), and declines otherwise; or NATS answers at once that no
// node has one. (A node subscribed only while it had an idle environment
// would subscribe and unsubscribe at every invocation, and NATS drops a
// request that reaches a node just unsubscribed: the asking node would
// wait for nothing.) Each node also
// answers requests addressed to it alone (Elsewhere): a node whose share of
// the concurrency limits is taken offers an invocation to the others in
// turn before it answers with the throttle.
//
// An asked node answers with the result, and first, when the invocation
// runs longer than a moment, that it took it; or it declines at once. The
// asking node waits for the first answer a short while (AcceptWait) and
// runs the invocation itself when none comes; once a node took it, it
// waits for the result as long as the function may run, unless that node
// leaves the cluster first.
//
// A node that had a version's invocation run by another sends the next
// ones of that version straight to that node, over HTTP, while it takes
// them (direct.go): one TCP round trip, where NATS takes two hops each way
// through the servers.
//
// It owns its subscriptions, its listener and connections, and the
// goroutines that run asked invocations; it admits nothing and runs
// nothing itself (invoke.Service does), and knows nothing of the Lambda
// API or of the store.
package relay

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lambada-dev/lambada"
)

// AcceptWait is how long an asking node waits for an asked one to say
// whether it took an invocation; an asked node that finds the request
// older than half of it (by its own clock since receipt) drops it.
const AcceptWait = 500 * time.Millisecond

// tookAfter is how long an asked node runs an invocation before it tells
// the asking one it took it: well within AcceptWait.
const tookAfter = AcceptWait / 4

// resultGrace is how much longer than the function's timeout an asking
// node waits for a result.
const resultGrace = 30 * time.Second

// Runner runs an invocation on this node (invoke.Service).
type Runner interface {
	// RunHere admits inv against this node's limits, calls admitted once
	// it is, and runs it.
	RunHere(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation, admitted func()) (*lambada.Result, error)
}

// Warmth tells whether this node has an environment of a version, and an
// idle one (sandbox.Manager).
type Warmth interface {
	HasIdle(function, version string) bool
	HasEnvironment(function, version string) bool
}

// Relay is one node's end of the relay.
type Relay struct {
	Conn   *nats.Conn
	Self   string // this node's name in the cluster
	Runner Runner
	Warmth Warmth
	Logger *slog.Logger

	// Listen, when set, is where this node also takes warm invocations
	// straight from the others, over HTTP (HOST:PORT, port 0 for any):
	// one TCP round trip, where NATS takes two hops each way through the
	// servers. Addrs returns the address another node listens on, as its
	// heartbeat told ("": none).
	Listen string
	Addrs  func(node string) string

	members atomic.Pointer[lambada.Members]
	inbox   string // prefix of this node's reply subjects
	seq     atomic.Uint64
	direct  direct

	mu      sync.Mutex
	waiting map[string]chan *nats.Msg     // by reply subject
	warm    map[string]*nats.Subscription // by lambada.VersionID
	dirty   map[[2]string]bool            // function, version
	subs    []*nats.Subscription          // the node's own subject and its inbox
	closed  bool                          // no subscription is made, nor request run, after Close

	kick    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // its own goroutines
	running sync.WaitGroup // the invocations it was asked to run
}

// Open subscribes to this node's subjects and starts keeping its warm
// subscriptions current.
func (r *Relay) Open() error {
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.waiting = map[string]chan *nats.Msg{}
	r.warm = map[string]*nats.Subscription{}
	r.dirty = map[[2]string]bool{}
	r.kick = make(chan struct{}, 1)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.inbox = nats.NewInbox() + "."
	in, err := r.Conn.Subscribe(r.inbox+"*", r.reply)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	own, err := r.Conn.Subscribe(nodeSubject(r.Self), func(m *nats.Msg) { r.serve(m, false) })
	if err != nil {
		_ = in.Unsubscribe()
		return fmt.Errorf("relay: %w", err)
	}
	r.subs = []*nats.Subscription{in, own}
	if err := r.openDirect(); err != nil {
		_ = in.Unsubscribe()
		_ = own.Unsubscribe()
		return err
	}
	r.wg.Go(r.keepWarm)
	return nil
}

// CloseWait is how long Close lets the invocations this node took from
// others run before it cuts them short.
const CloseWait = 5 * time.Second

// Close takes nothing more, lets the invocations this node was asked to
// run end (CloseWait at most: then it cuts them short), and waits for
// them.
func (r *Relay) Close() error {
	if r.cancel == nil {
		return nil
	}
	r.mu.Lock()
	r.closed = true
	for _, s := range r.subs {
		_ = s.Unsubscribe()
	}
	for _, s := range r.warm {
		_ = s.Unsubscribe()
	}
	r.mu.Unlock()
	ended := make(chan struct{})
	go func() { // ends with the invocations, cut short at the latest
		r.running.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(CloseWait):
	}
	r.cancel()
	r.closeDirect() // its connections dropped: no answer waits for a reader
	<-ended
	r.wg.Wait()
	return nil
}

// SetMembers records the cluster's live nodes.
func (r *Relay) SetMembers(m *lambada.Members) {
	r.members.Store(m)
	if r.Addrs == nil {
		return
	}
	live := map[string]bool{}
	for _, n := range m.Others() {
		if addr := r.Addrs(n); addr != "" {
			live[addr] = true
		}
	}
	r.direct.prune(live) // a node gone, or started again on another port
}

func nodeSubject(node string) string {
	return "lambada.relay.node." + base64.RawURLEncoding.EncodeToString([]byte(node))
}

func warmSubject(key, version string) string {
	return "lambada.relay.warm." + base64.RawURLEncoding.EncodeToString([]byte(lambada.VersionID(key, version)))
}

// IdleChanged marks a version whose warm subscription may have to change.
func (r *Relay) IdleChanged(function, version string) {
	r.mu.Lock()
	if r.dirty != nil {
		r.dirty[[2]string{function, version}] = true
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// keepWarm subscribes to a version's warm subject while this node has an
// environment of it, as its idle environments come and go.
func (r *Relay) keepWarm() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		}
		r.mu.Lock()
		dirty := r.dirty
		r.dirty = map[[2]string]bool{}
		r.mu.Unlock()
		for fv := range dirty {
			idle := r.Warmth.HasEnvironment(fv[0], fv[1])
			id := lambada.VersionID(fv[0], fv[1])
			r.mu.Lock()
			sub := r.warm[id]
			switch {
			case idle && sub == nil && !r.closed:
				s, err := r.Conn.QueueSubscribe(warmSubject(fv[0], fv[1]), "warm", func(m *nats.Msg) { r.serve(m, true) })
				if err != nil {
					r.Logger.Error("relay: subscribe", "version", id, "err", err)
				} else {
					r.warm[id] = s
				}
			case !idle && sub != nil:
				_ = sub.Unsubscribe()
				delete(r.warm, id)
			}
			r.mu.Unlock()
		}
	}
}

// Request and answer headers.
const (
	hKey, hQualifier, hVersion, hGeneration = "K", "Q", "V", "G"
	hRequestID, hType, hLogType, hARN       = "Id", "T", "L", "Arn"
	hClientContext, hTimeout                = "Cc", "To"
	hAnswer, hNode                          = "A", "N"
	hFunctionError, hExecuted, hLogTail     = "Fe", "Ev", "Lt"
	hCode, hReason                          = "C", "R"
)

// Answers.
const (
	took     = "took"     // it runs the invocation; its result follows
	declined = "declined" // no idle environment after all, no share left, or the version is not known there yet
	done     = "done"     // the result
	failed   = "failed"   // the invocation's error (message in the data)
)

// Warm runs inv on a node with an idle environment of version of the
// function whose AccountKey is key: straight on one that ran one lately,
// else on the one NATS hands it to.
func (r *Relay) Warm(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, bool, error) {
	id := lambada.VersionID(t.Key, t.Version)
	if node, addr := r.direct.pick(id, r.members.Load(), r.Addrs); addr != "" {
		if res, ok, err := r.askDirect(ctx, addr, t, inv); ok {
			return res, ok, err
		}
		r.direct.forget(id, node)
	}
	res, node, ok, err := r.ask(ctx, warmSubject(t.Key, t.Version), t, inv)
	if ok && node != "" && node != r.Self {
		r.direct.remember(id, node)
	}
	return res, ok, err
}

// Elsewhere offers inv to every other live node in turn until one admits
// it and does not throttle it.
func (r *Relay) Elsewhere(ctx context.Context, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, bool, error) {
	others := r.members.Load().Others()
	for _, i := range rand.Perm(len(others)) { // the nodes share the overflow
		if res, _, ok, err := r.ask(ctx, nodeSubject(others[i]), t, inv); ok {
			return res, ok, err
		}
	}
	return nil, false, nil
}

// request is the header of a request to run inv (the payload is its
// data). Its keys are in the canonical form of HTTP's, so that it is an
// http.Header as well.
func request(t lambada.RunTarget, inv *lambada.Invocation) nats.Header {
	h := nats.Header{}
	h.Set(hKey, t.Key)
	h.Set(hQualifier, t.Qualifier)
	h.Set(hVersion, t.Version)
	h.Set(hGeneration, strconv.FormatUint(t.Generation, 10))
	h.Set(hRequestID, inv.RequestID)
	h.Set(hType, string(inv.Type))
	h.Set(hLogType, string(inv.LogType))
	h.Set(hARN, inv.InvokedARN)
	if len(inv.ClientContext) > 0 {
		h.Set(hClientContext, base64.StdEncoding.EncodeToString(inv.ClientContext))
	}
	h.Set(hTimeout, strconv.FormatInt(t.Timeout.Milliseconds(), 10))
	return h
}

// ask sends inv to subject and returns its result and the node that ran
// it, or false when no node took it.
func (r *Relay) ask(ctx context.Context, subject string, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, string, bool, error) {
	if len(inv.Payload)+len(inv.ClientContext)*2+4096 > int(r.Conn.MaxPayload()) {
		return nil, "", false, nil // too big for this NATS: run here
	}
	msg := nats.NewMsg(subject)
	msg.Reply = r.inbox + strconv.FormatUint(r.seq.Add(1), 36)
	msg.Header = request(t, inv)
	msg.Data = inv.Payload
	answers := make(chan *nats.Msg, 2)
	r.mu.Lock()
	r.waiting[msg.Reply] = answers
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, msg.Reply)
		r.mu.Unlock()
	}()
	if err := r.Conn.PublishMsg(msg); err != nil {
		return nil, "", false, nil
	}
	accept := time.NewTimer(AcceptWait)
	defer accept.Stop()
	var first *nats.Msg
	select {
	case first = <-answers:
	case <-accept.C:
		r.Logger.Warn("relay: no answer in time; running here", "subject", subject, "request_id", inv.RequestID)
		return nil, "", false, nil
	case <-ctx.Done():
		return nil, "", true, ctx.Err()
	}
	node := first.Header.Get(hNode)
	switch first.Header.Get(hAnswer) {
	case took:
	case done, failed: // it ran, quickly
		res, ok, err := quick(first.Header, first.Data)
		return res, node, ok, err
	default: // declined, or NATS's 503: nobody listens
		return nil, "", false, nil
	}
	wait := time.NewTimer(t.Timeout + resultGrace)
	defer wait.Stop()
	alive := time.NewTicker(time.Second)
	defer alive.Stop()
	for {
		select {
		case m := <-answers:
			res, err := result(m.Header, m.Data)
			return res, node, true, err
		case <-alive.C:
			if !r.live(node) {
				return nil, node, true, fmt.Errorf("relay: node %s left the cluster while running %s", node, inv.RequestID)
			}
		case <-wait.C:
			return nil, node, true, fmt.Errorf("relay: no result from node %s for %s", node, inv.RequestID)
		case <-ctx.Done():
			return nil, node, true, ctx.Err()
		}
	}
}

// live tells whether node is among the cluster's live nodes.
func (r *Relay) live(node string) bool {
	m := r.members.Load()
	return m == nil || slices.Contains(m.Nodes, node)
}

// quick is the result of an answer that came first (no "took" before it),
// and false for an invocation throttled once admitted: the node's memory
// budget had no room for a new environment, and another node may have.
func quick(h nats.Header, data []byte) (*lambada.Result, bool, error) {
	res, err := result(h, data)
	if lambada.ErrorCode(err) == lambada.ETHROTTLED {
		return nil, false, nil
	}
	return res, true, err
}

// result decodes a final answer.
func result(h nats.Header, data []byte) (*lambada.Result, error) {
	if h.Get(hAnswer) != done {
		return nil, &lambada.Error{Code: h.Get(hCode), Message: string(data), Reason: h.Get(hReason)}
	}
	res := &lambada.Result{Payload: data, FunctionError: h.Get(hFunctionError), ExecutedVersion: h.Get(hExecuted)}
	if lt := h.Get(hLogTail); lt != "" {
		var err error
		if res.LogTail, err = base64.StdEncoding.DecodeString(lt); err != nil {
			return nil, fmt.Errorf("relay: log tail: %w", err)
		}
	}
	return res, nil
}

// reply hands an answer to the ask waiting for it.
func (r *Relay) reply(m *nats.Msg) {
	r.mu.Lock()
	ch := r.waiting[m.Subject]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

// track counts an asked invocation in r.running, or false once Close
// began.
func (r *Relay) track() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.running.Add(1) // under r.mu: Close's Wait cannot miss it
	return true
}

// serve runs an invocation another node asked this one to over NATS
// (warm: only on an idle environment).
func (r *Relay) serve(m *nats.Msg, warm bool) {
	received := time.Now()
	if !r.track() { // delivered as Close unsubscribed: the asking node runs it after its wait
		return
	}
	go func() {
		defer r.running.Done()
		r.take(received, m.Header, m.Data, warm, func(kind string, res *lambada.Result, err error) {
			out := nats.NewMsg(m.Reply)
			out.Header, out.Data = r.answer(kind, res, err)
			if err := r.Conn.PublishMsg(out); err != nil {
				r.Logger.Error("relay: answer", "err", err)
			}
		})
	}()
}

// take runs the invocation that h and data ask for, received at received,
// and sends its answers: none when it is too old (the asking node may have
// run it itself by now); declined; or the result, after "took" when it
// runs a while. send is called at most twice, never at once.
func (r *Relay) take(received time.Time, h nats.Header, data []byte, warm bool, send func(kind string, res *lambada.Result, err error)) {
	if time.Since(received) > AcceptWait/2 {
		return
	}
	t := lambada.RunTarget{Key: h.Get(hKey), Qualifier: h.Get(hQualifier), Version: h.Get(hVersion)}
	t.Generation, _ = strconv.ParseUint(h.Get(hGeneration), 10, 64)
	ms, _ := strconv.ParseInt(h.Get(hTimeout), 10, 64)
	t.Timeout = time.Duration(ms) * time.Millisecond
	if warm && !r.Warmth.HasIdle(t.Key, t.Version) {
		send(declined, nil, nil)
		return
	}
	inv := &lambada.Invocation{RequestID: h.Get(hRequestID), Type: lambada.InvocationType(h.Get(hType)),
		LogType: lambada.LogType(h.Get(hLogType)), InvokedARN: h.Get(hARN), Payload: data}
	if cc := h.Get(hClientContext); cc != "" {
		inv.ClientContext, _ = base64.StdEncoding.DecodeString(cc)
	}
	ctx, cancel := context.WithTimeout(r.ctx, t.Timeout+resultGrace)
	defer cancel()
	// "took" goes only to an invocation still running a while after
	// it was admitted: a short one is answered once, with its result.
	var mu sync.Mutex
	admitted, answered := false, false
	var slow *time.Timer
	res, err := r.Runner.RunHere(ctx, t, inv, func() {
		admitted = true
		slow = time.AfterFunc(tookAfter, func() {
			mu.Lock()
			defer mu.Unlock()
			if !answered {
				answered = true
				send(took, nil, nil)
			}
		})
	})
	if !admitted { // not taken: the asking node runs it, or asks another
		send(declined, nil, err)
		return
	}
	slow.Stop()
	mu.Lock()
	answered = true
	mu.Unlock()
	send(done, res, err)
}

// answer is one answer's header and data: kind, or with a result or an
// error.
func (r *Relay) answer(kind string, res *lambada.Result, err error) (nats.Header, []byte) {
	h := nats.Header{}
	var data []byte
	h.Set(hNode, r.Self)
	switch {
	case err != nil:
		if kind == done {
			kind = failed
		}
		code, msg, reason := lambada.ErrorCode(err), err.Error(), ""
		var le *lambada.Error
		if errors.As(err, &le) {
			msg, reason = le.Message, le.Reason
		}
		h.Set(hCode, code)
		h.Set(hReason, reason)
		data = []byte(msg)
	case res != nil:
		h.Set(hFunctionError, res.FunctionError)
		h.Set(hExecuted, res.ExecutedVersion)
		if len(res.LogTail) > 0 {
			h.Set(hLogTail, base64.StdEncoding.EncodeToString(res.LogTail))
		}
		data = res.Payload
	}
	h.Set(hAnswer, kind)
	return h, data
}
