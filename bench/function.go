package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// FunctionResult is what the function alone costs per invocation.
type FunctionResult struct {
	Result // from writing an event to the runtime to reading its response
	CPU    CPU
}

// functionWarmUp is how many invocations FunctionAlone runs before it
// measures.
const functionWarmUp = 50

// FunctionAlone runs bootstrap, an aws-lambda-go style runtime, against the
// most trivial Runtime API this process can serve: next answers at once
// with body, a response is accepted at once. After a warm-up it measures
// load (its concurrency is ignored: one process, back to back): the latency
// from writing each event to reading its response, and the process's CPU
// time per invocation. It is the function's own floor: no node can drive
// this function with less.
func FunctionAlone(ctx context.Context, bootstrap string, body []byte, load Load) (FunctionResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return FunctionResult{}, err
	}
	// Bounded, should the function stall.
	ctx, cancel := context.WithTimeout(ctx, load.Duration+30*time.Second)
	defer cancel()
	rt := &trivialRuntime{body: body, limit: load.Requests, duration: load.Duration, done: make(chan struct{})}
	srv := &http.Server{Handler: rt.handler(ctx)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "_HANDLER=bootstrap", "AWS_LAMBDA_FUNCTION_NAME=bench-alone",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_REGION=us-east-1", "TZ=:UTC"}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	// No Pdeathsig: it fires when the forking OS thread ends, which Go does
	// to a thread whose goroutine exits locked to it (an in-process node's
	// cgroup forks do). Should this process die, the runtime exits anyway:
	// its Runtime API is gone.
	if err := cmd.Start(); err != nil {
		return FunctionResult{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	rt.pid = cmd.Process.Pid

	select {
	case <-rt.done:
	case <-ctx.Done():
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	res := FunctionResult{Result: rt.res, CPU: CPU{Used: rt.cpuEnd - rt.cpuStart, Requests: len(rt.res.Latencies)}}
	if res.CPU.Requests == 0 {
		return res, errors.Join(errors.New("bench: the function alone answered no measured invocation"), context.Cause(ctx))
	}
	return res, nil
}

// trivialRuntime serves the Runtime API to one runtime, one invocation at a
// time, and times each.
type trivialRuntime struct {
	body     []byte
	limit    int           // measured invocations; 0: for duration
	duration time.Duration // with limit 0
	pid      int
	done     chan struct{} // closed once the measurement is over

	mu               sync.Mutex
	n                int       // invocations handed out
	sent             time.Time // when the current event was written
	start            time.Time // of the measurement
	cpuStart, cpuEnd time.Duration
	res              Result
	over             bool
}

func (rt *trivialRuntime) handler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		if rt.over {
			rt.mu.Unlock()
			<-ctx.Done() // park the runtime until the process is killed
			return
		}
		rt.n++
		id := strconv.Itoa(rt.n)
		if rt.n == functionWarmUp+1 {
			rt.start = time.Now()
			rt.cpuStart, _ = ProcessCPU(rt.pid)
		}
		rt.mu.Unlock()
		h := w.Header()
		h["Lambda-Runtime-Aws-Request-Id"] = []string{id}
		h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)}
		h["Lambda-Runtime-Invoked-Function-Arn"] = []string{"arn:aws:lambda:us-east-1:000000000000:function:bench-alone"}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(rt.body))}
		_, _ = w.Write(rt.body)
		w.(http.Flusher).Flush()
		rt.mu.Lock()
		rt.sent = time.Now()
		rt.mu.Unlock()
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now()
		rt.mu.Lock()
		if rt.n > functionWarmUp && !rt.over {
			rt.res.Latencies = append(rt.res.Latencies, now.Sub(rt.sent))
			if (rt.limit > 0 && len(rt.res.Latencies) >= rt.limit) || (rt.limit == 0 && now.Sub(rt.start) >= rt.duration) {
				rt.over = true
				rt.res.Wall = now.Sub(rt.start)
				rt.cpuEnd, _ = ProcessCPU(rt.pid)
				slices.Sort(rt.res.Latencies)
				close(rt.done)
			}
		}
		rt.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`+"\n")
	})
	return mux
}
