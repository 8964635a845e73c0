package walls

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Router serves the Runtime APIs of every environment of a jail on one
// loopback listener, bound once when the node starts: an environment
// cannot hold the port (as it could hold every free one, and stop any
// other environment from starting), and every environment is told the same
// address, as on AWS. Each connection goes to the environment whose user
// owns its client socket (PeerUID); one of no environment's user is closed
// unread.
type Router struct {
	ln     net.Listener
	logger *slog.Logger

	mu     sync.Mutex
	routes map[uint32]*route
	closed bool
	done   chan struct{} // closed when the accept loop ends
}

// NewRouter routes the connections that ln accepts, until Close.
func NewRouter(ln net.Listener, logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{ln: ln, logger: logger, routes: map[uint32]*route{}, done: make(chan struct{})}
	go r.run()
	return r
}

// Addr is where every environment's Runtime API is.
func (r *Router) Addr() net.Addr { return r.ln.Addr() }

// Listen returns the listener of the connections of user uid (an
// environment's), until its Close.
func (r *Router) Listen(uid uint32) (net.Listener, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, net.ErrClosed
	}
	if r.routes[uid] != nil {
		return nil, errors.New("walls: the uid already has a Runtime API")
	}
	rt := &route{r: r, uid: uid, conns: make(chan net.Conn, 16), closed: make(chan struct{})}
	r.routes[uid] = rt
	return rt, nil
}

// Close stops routing: the listener is closed, and so is every route.
func (r *Router) Close() error {
	r.mu.Lock()
	r.closed = true
	routes := r.routes
	r.routes = map[uint32]*route{}
	r.mu.Unlock()
	err := r.ln.Close()
	<-r.done
	for _, rt := range routes {
		rt.shut()
	}
	return err
}

// run accepts connections and hands each to its user's route. A failing
// accept (the node out of descriptors) is retried after a pause that
// doubles up to a second, and logged once until one succeeds again.
func (r *Router) run() {
	defer close(r.done)
	var pause time.Duration
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if pause == 0 {
				r.logger.Warn("walls: Runtime API accept failing; retrying", "err", err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		uid, err := PeerUID(c)
		r.mu.Lock() // held while delivering: a route closed meanwhile is no longer found
		rt := r.routes[uid]
		ok := err == nil && rt != nil && rt.deliver(c)
		r.mu.Unlock()
		if !ok {
			c.Close()
			r.logger.Debug("walls: connection refused: no environment's user",
				"remote", c.RemoteAddr().String(), "uid", uid, "err", err)
		}
	}
}

// MaxRuntimeConns bounds the connections one environment holds open to
// its Runtime API at once: a runtime needs one or two; past that a
// function would only be spending the node's descriptors.
const MaxRuntimeConns = 8

// route is one environment's share of a Router: a listener.
type route struct {
	r      *Router
	uid    uint32
	conns  chan net.Conn
	open   atomic.Int32 // connections delivered and not closed yet
	once   sync.Once
	closed chan struct{}
}

// deliver hands c to the route's Accept, unless the route is closed or
// its environment holds MaxRuntimeConns connections already.
func (rt *route) deliver(c net.Conn) bool {
	select {
	case <-rt.closed:
		return false
	default:
	}
	if rt.open.Add(1) > MaxRuntimeConns {
		rt.open.Add(-1)
		return false
	}
	select {
	case rt.conns <- &routedConn{Conn: c, rt: rt}:
		return true
	default:
		rt.open.Add(-1)
		return false
	}
}

// routedConn counts as its route's until closed.
type routedConn struct {
	net.Conn
	rt   *route
	once sync.Once
}

// CloseWrite closes the sending half, as a TCP connection's does.
func (c *routedConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *routedConn) Close() error {
	c.once.Do(func() { c.rt.open.Add(-1) })
	return c.Conn.Close()
}

func (rt *route) Accept() (net.Conn, error) {
	select {
	case c := <-rt.conns:
		return c, nil
	case <-rt.closed:
		return nil, net.ErrClosed
	}
}

// Close ends the route: its user's later connections are refused.
func (rt *route) Close() error {
	rt.r.mu.Lock()
	if rt.r.routes[rt.uid] == rt {
		delete(rt.r.routes, rt.uid)
	}
	rt.r.mu.Unlock()
	rt.shut()
	return nil
}

// shut closes the route and the connections still waiting in it.
func (rt *route) shut() {
	rt.once.Do(func() {
		close(rt.closed)
		for {
			select {
			case c := <-rt.conns:
				c.Close()
			default:
				return
			}
		}
	})
}

func (rt *route) Addr() net.Addr { return rt.r.Addr() }
