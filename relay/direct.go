package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lambada-dev/lambada"
)

// The direct path: a node that had a warm invocation of a version run by
// another (NATS handed it there) sends the next ones of that version to
// that node straight, over HTTP, while it takes them. The request is the
// same header and payload as over NATS. The answer is the same header and
// data in the response, or, when the invocation runs a while, the header
// "took" at once and the final answer's header and data in the body as
// JSON.

// direct is what a node knows of the direct path: which nodes ran which
// versions lately, and its own server and client.
type direct struct {
	mu    sync.Mutex
	nodes map[string][]string // by lambada.VersionID: the nodes that ran one of it lately
	next  uint64

	addr   string
	server *http.Server
	idle   map[string][]*conn // by address
	closed bool
}

// conn is a connection to another node's direct path.
type conn struct {
	net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// maxIdle is how many idle connections a node keeps to another.
const maxIdle = 64

// get returns an idle connection to addr, or a new one.
func (d *direct) get(addr string) (*conn, error) {
	d.mu.Lock()
	if cs := d.idle[addr]; len(cs) > 0 {
		c := cs[len(cs)-1]
		d.idle[addr] = cs[:len(cs)-1]
		d.mu.Unlock()
		return c, nil
	}
	d.mu.Unlock()
	nc, err := net.DialTimeout("tcp", addr, AcceptWait)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}, nil
}

// put keeps c, whose last answer was read whole, for the next request.
func (d *direct) put(addr string, c *conn) {
	_ = c.SetDeadline(time.Time{})
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || len(d.idle[addr]) >= maxIdle {
		c.Close()
		return
	}
	if d.idle == nil {
		d.idle = map[string][]*conn{}
	}
	d.idle[addr] = append(d.idle[addr], c)
}

// prune closes the idle connections to addresses not in live.
func (d *direct) prune(live map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for addr, cs := range d.idle {
		if !live[addr] {
			for _, c := range cs {
				c.Close()
			}
			delete(d.idle, addr)
		}
	}
}

// maxDirect is how many nodes a node remembers for one version.
const maxDirect = 8

// pick returns one of the nodes that ran a warm invocation of version id
// lately, in turn, with its address; "" when it knows none that is live
// and tells one.
func (d *direct) pick(id string, m *lambada.Members, addrs func(string) string) (string, string) {
	if addrs == nil {
		return "", ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for nodes := d.nodes[id]; len(nodes) > 0; nodes = d.nodes[id] {
		d.next++
		node := nodes[int(d.next%uint64(len(nodes)))]
		if m == nil || slices.Contains(m.Nodes, node) {
			if addr := addrs(node); addr != "" {
				return node, addr
			}
		}
		d.forgetLocked(id, node)
	}
	return "", ""
}

// remember records that node ran a warm invocation of version id.
func (d *direct) remember(id, node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nodes == nil {
		d.nodes = map[string][]string{}
	}
	if nodes := d.nodes[id]; !slices.Contains(nodes, node) && len(nodes) < maxDirect {
		d.nodes[id] = append(nodes, node)
	}
}

// forget records that node did not take a warm invocation of version id.
func (d *direct) forget(id, node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetLocked(id, node)
}

func (d *direct) forgetLocked(id, node string) {
	nodes := slices.DeleteFunc(d.nodes[id], func(n string) bool { return n == node })
	if len(nodes) == 0 {
		delete(d.nodes, id)
		return
	}
	d.nodes[id] = nodes
}

// Addr returns the address this node takes invocations on straight from
// the others, for its heartbeats to tell: "" when it does not (no Listen),
// and once Close began (it takes no more).
func (r *Relay) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ""
	}
	return r.direct.addr
}

// openDirect listens on r.Listen, when set.
func (r *Relay) openDirect() error {
	if r.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.Listen)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	r.direct.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /run", r.serveDirect)
	r.direct.server = &http.Server{Handler: mux, ReadHeaderTimeout: AcceptWait}
	r.wg.Go(func() {
		if err := r.direct.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.Logger.Error("relay: serve", "err", err)
		}
	})
	return nil
}

// closeDirect stops listening and drops the connections (the invocations
// running for them are still waited for, in r.running).
func (r *Relay) closeDirect() {
	if r.direct.server != nil {
		_ = r.direct.server.Close()
	}
	r.direct.mu.Lock()
	defer r.direct.mu.Unlock()
	r.direct.closed = true
	for _, cs := range r.direct.idle {
		for _, c := range cs {
			c.Close()
		}
	}
	r.direct.idle = nil
}

// final is the final answer of an invocation that ran a while.
type final struct {
	Header nats.Header `json:"h"`
	Data   []byte      `json:"d"`
}

// serveDirect runs a warm invocation another node sent straight.
func (r *Relay) serveDirect(w http.ResponseWriter, req *http.Request) {
	received := time.Now()
	data, err := io.ReadAll(http.MaxBytesReader(w, req.Body, lambada.MaxSyncPayload))
	if err != nil || !r.track() {
		return // no answer: not taken
	}
	defer r.running.Done()
	sentTook := false
	r.take(received, nats.Header(req.Header), data, true, func(kind string, res *lambada.Result, err error) {
		h, data := r.answer(kind, res, err)
		switch {
		case kind == took:
			sentTook = true
			writeHeader(w, h)
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
		case sentTook:
			_ = json.NewEncoder(w).Encode(final{Header: h, Data: data})
		default:
			writeHeader(w, h)
			_, _ = w.Write(data)
		}
	})
}

func writeHeader(w http.ResponseWriter, h nats.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
}

// askDirect sends inv to the node listening on addr, and returns its
// result, or false when it did not take it (or did not answer within
// AcceptWait). It writes and reads on one of its connections to addr
// itself: an http.Client would hand the request to a goroutine that writes
// it and the response from one that reads it, two more wake-ups.
func (r *Relay) askDirect(ctx context.Context, addr string, t lambada.RunTarget, inv *lambada.Invocation) (*lambada.Result, bool, error) {
	c, err := r.direct.get(addr)
	if err != nil {
		return nil, false, nil // gone: another node, or this one, runs it
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/run", bytes.NewReader(inv.Payload))
	if err != nil {
		c.Close()
		return nil, false, nil
	}
	req.Header = http.Header(request(t, inv))
	// ctx's end cuts the exchange short, whichever part it is in.
	stopCtx := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stopCtx()
	deadline := func(d time.Duration) {
		_ = c.SetDeadline(time.Now().Add(d))
		if ctx.Err() != nil { // ended before: the cut must stand
			_ = c.SetDeadline(time.Now())
		}
	}
	keep := func(resp *http.Response) { // its answer was read whole: the next request may use it, unless the node closes it
		if !resp.Close && stopCtx() {
			r.direct.put(addr, c)
		} else {
			c.Close()
		}
	}
	deadline(AcceptWait)
	err = req.Write(c.w)
	if err == nil {
		err = c.w.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(c.r, req)
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, true, ctx.Err()
		}
		return nil, false, nil // gone, or too slow
	}
	h := nats.Header(resp.Header)
	node := h.Get(hNode)
	switch h.Get(hAnswer) {
	case took:
	case done, failed:
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			c.Close()
			return nil, true, fmt.Errorf("relay: the answer of node %s for %s: %w", node, inv.RequestID, err)
		}
		keep(resp)
		return quick(h, data)
	default: // declined, or no answer
		if _, err := io.Copy(io.Discard, resp.Body); err == nil {
			keep(resp)
		} else {
			c.Close()
		}
		return nil, false, nil
	}
	// It took it: wait for the result as long as the function may run,
	// unless the node leaves the cluster first, or ctx ends.
	deadline(t.Timeout + resultGrace)
	var left atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		alive := time.NewTicker(time.Second)
		defer alive.Stop()
		for {
			select {
			case <-stop:
				return
			case <-alive.C:
				if !r.live(node) {
					left.Store(true)
					_ = c.SetDeadline(time.Now())
					return
				}
			}
		}
	}()
	var f final
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		c.Close()
		switch {
		case ctx.Err() != nil:
			return nil, true, ctx.Err()
		case left.Load():
			return nil, true, fmt.Errorf("relay: node %s left the cluster while running %s", node, inv.RequestID)
		}
		return nil, true, fmt.Errorf("relay: no result from node %s for %s: %w", node, inv.RequestID, err)
	}
	c.Close() // the rest of a long answer is not worth reading for the connection
	res, err := result(f.Header, f.Data)
	return res, true, err
}
