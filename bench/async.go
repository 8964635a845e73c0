package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Targets of asynchronous invocation.
const (
	TargetAcceptShare    = 0.5                  // events accepted per second ≥ 0.5× JetStream's synchronous publishes per second
	TargetEnqueueToStart = 5 * time.Millisecond // idle node: p50 from the Event request to the function's start
)

// AsyncRun is the asynchronous invocation figures beside the publish floor.
type AsyncRun struct {
	Levels []int
	Accept map[int]Result // Event invocations answered 202, by concurrency; their events run meanwhile
	// AcceptOnly are Event invocations of a function with reserved
	// concurrency 0, whose events leave the queue without running: the
	// cost of accepting and of the queue alone.
	AcceptOnly map[int]Result
	Publish    map[int]Result // synchronous publishes to a file-backed JetStream stream, by concurrency
	Start      Result         // from the Event request to the function's start, one event at a time
}

// PostEvent sends body to url as an Event invocation and fails unless it is
// answered 202.
func PostEvent(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusAccepted {
		return &HTTPError{Status: resp.StatusCode, ErrorType: resp.Header.Get("X-Amzn-Errortype"), Body: string(b)}
	}
	return nil
}

// NotifyBody is the event that makes the test function post the time it
// started (Unix nanoseconds) to url, with its request id in the
// X-Request-Id header.
func NotifyBody(url string) []byte {
	return []byte(`{"action":"notify","msg":"` + url + `"}`)
}

// Starts receives the test function's notices of its starts, on a loopback
// listener of its own.
type Starts struct {
	URL string
	srv *http.Server
	ln  net.Listener

	mu      sync.Mutex
	started map[string]time.Time
	arrived chan struct{}
}

// ListenStarts starts the listener.
func ListenStarts() (*Starts, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Starts{URL: "http://" + ln.Addr().String() + "/", ln: ln, started: map[string]time.Time{}, arrived: make(chan struct{}, 1)}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil {
			s.mu.Lock()
			s.started[r.Header.Get("X-Request-Id")] = time.Unix(0, ns)
			s.mu.Unlock()
			select {
			case s.arrived <- struct{}{}:
			default:
			}
		}
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the listener.
func (s *Starts) Close() error { return s.srv.Close() }

// Measure sends n Event invocations of body to url one at a time, each once
// the previous one has started, and returns how long each took from its
// request to its function's start. The request id of each is the
// x-amzn-RequestId of its answer.
func (s *Starts) Measure(ctx context.Context, c *http.Client, url string, n int, body []byte) Result {
	var r Result
	for i := 0; i < n && ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			r.Add(0, err)
			continue
		}
		req.Header.Set("X-Amz-Invocation-Type", "Event")
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			r.Add(0, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Amzn-Requestid")
		if resp.StatusCode != http.StatusAccepted {
			r.Add(0, &HTTPError{Status: resp.StatusCode})
			continue
		}
		started, err := s.wait(ctx, id, 10*time.Second)
		r.Add(started.Sub(t0), err)
	}
	return r
}

// wait waits for the start of request id, at most timeout.
func (s *Starts) wait(ctx context.Context, id string, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		t, ok := s.started[id]
		s.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("event %s did not start within %v", id, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// PublishFloor is JetStream alone, as a client sees it: a server in this
// process (file storage, a work-queue stream, as Lambada's queue uses them)
// listening on 127.0.0.1, and a client connected over loopback TCP, as an
// Event invocation's caller is.
type PublishFloor struct {
	srv  *server.Server
	conn *nats.Conn
	js   natsjs.JetStream
	dir  string
}

// StartPublishFloor starts the server with its storage in a new directory
// under dir.
func StartPublishFloor(ctx context.Context, dir string) (*PublishFloor, error) {
	d, err := os.MkdirTemp(dir, "publish-floor")
	if err != nil {
		return nil, err
	}
	f := &PublishFloor{dir: d}
	if f.srv, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, JetStream: true, StoreDir: d}); err != nil {
		return nil, err
	}
	f.srv.Start()
	if !f.srv.ReadyForConnections(30 * time.Second) {
		f.Close()
		return nil, fmt.Errorf("publish floor: server not ready")
	}
	if f.conn, err = nats.Connect(f.srv.ClientURL()); err != nil {
		f.Close()
		return nil, err
	}
	if f.js, err = natsjs.New(f.conn); err != nil {
		f.Close()
		return nil, err
	}
	if _, err = f.js.CreateStream(ctx, natsjs.StreamConfig{Name: "floor", Subjects: []string{"floor.>"},
		Retention: natsjs.WorkQueuePolicy, Storage: natsjs.FileStorage}); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Publisher returns a request that publishes body and waits for the
// stream's acknowledgement.
func (f *PublishFloor) Publisher(body []byte) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := f.js.Publish(ctx, "floor.events", body)
		return err
	}
}

// Close stops the server and removes its storage.
func (f *PublishFloor) Close() {
	if f.conn != nil {
		f.conn.Close()
	}
	if f.srv != nil {
		f.srv.Shutdown()
		f.srv.WaitForShutdown()
	}
	os.RemoveAll(f.dir)
}

func (r *Report) asyncRows() []Row {
	a := r.Async
	if a == nil {
		return []Row{{Figure: "asynchronous invocation", Value: "skipped", Mark: NotMeasured,
			Target: fmt.Sprintf("≥ %g× publish; p50 ≤ %s", TargetAcceptShare, duration(TargetEnqueueToStart))}}
	}
	var rows []Row
	var errs, n int
	for _, kind := range []struct {
		what    string
		results map[int]Result
	}{{"events accepted", a.Accept}, {"events accepted, none run", a.AcceptOnly}} {
		for _, l := range a.Levels {
			acc, pub := kind.results[l], a.Publish[l]
			errs, n = errs+acc.Errors, n+acc.Requests()
			row := Row{Figure: fmt.Sprintf("%s, c=%d", kind.what, l), Value: rate(acc.Throughput()), Floor: "publish " + rate(pub.Throughput()),
				Ratio: times(Ratio(acc.Throughput(), pub.Throughput())), Target: fmt.Sprintf("≥ %g× publish, no errors", TargetAcceptShare), Mark: NotMeasured}
			if acc.Requests() > 0 && pub.Requests() > 0 {
				row.Mark = verdict(acc.Errors == 0 && Ratio(acc.Throughput(), pub.Throughput()) >= TargetAcceptShare)
			}
			rows = append(rows, row)
		}
	}
	rows = append(rows, Row{Figure: "events accepted: errors", Value: of(errs, n)})
	s := a.Start
	p50 := Row{Figure: "enqueue to start p50, idle node", Target: "≤ " + duration(TargetEnqueueToStart), Mark: NotMeasured, Value: "none"}
	p99 := Row{Figure: "enqueue to start p99", Value: "none"}
	if len(s.Latencies) > 0 {
		p50.Value, p99.Value = duration(s.Percentile(0.5)), duration(s.Percentile(0.99))
		p50.Mark = verdict(s.Errors == 0 && s.Percentile(0.5) <= TargetEnqueueToStart)
	}
	return append(rows, p50, p99, Row{Figure: "enqueue to start: errors", Value: of(s.Errors, s.Requests())})
}
