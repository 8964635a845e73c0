package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The targets of a node with --auth, beside the same node without it.
const (
	TargetAuthCPU    = 15 * time.Microsecond // c=TargetLevel: node CPU per signed invocation ≤ without --auth + 15 µs
	TargetFloodShare = 0.9                   // signed callers' throughput under the flood ≥ 0.9× under the same flood sent elsewhere
	FloodRate        = 1000                  // bad signatures per second in the flood
	FloodLevel       = 8                     // the signed callers' concurrency under the flood
)

// Signed is a request's signature: the key, and the region it is scoped
// to (for the lambda service).
type Signed struct {
	Credentials aws.Credentials
	Region      string
}

// SignedPoster is Poster with each request signed as the AWS SDK for Go
// signs it (Signature Version 4, in the header), at the time it is sent.
func SignedPoster(c *http.Client, url string, body []byte, s Signed) func(context.Context) error {
	signer := v4.NewSigner()
	return func(ctx context.Context) error {
		req, err := s.request(ctx, signer, url, body)
		if err != nil {
			return err
		}
		return send(c, req)
	}
}

// request is a POST of body to url, signed for lambda now.
func (s Signed) request(ctx context.Context, signer *v4.Signer, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, s.Credentials, req, hex.EncodeToString(sum[:]), "lambda", s.Region, time.Now()); err != nil {
		return nil, err
	}
	return req, nil
}

// Refused sends signed invocations the node must refuse with 403, each
// with a body of its own (so that no two signatures are alike): a request
// answered 403 succeeds, any other answer is an error.
func Refused(c *http.Client, url string, s Signed) func(context.Context) error {
	var n atomic.Int64
	signer := v4.NewSigner()
	return func(ctx context.Context) error {
		body := []byte(`{"action":"noop","n":` + strconv.FormatInt(n.Add(1), 10) + `}`)
		req, err := s.request(ctx, signer, url, body)
		if err != nil {
			return err
		}
		err = send(c, req)
		var he *HTTPError
		switch {
		case errors.As(err, &he) && he.Status == http.StatusForbidden:
			return nil
		case err == nil:
			return errors.New("accepted")
		}
		return err
	}
}

// send sends req and reads the whole answer, as Post does.
func send(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return &HTTPError{Status: resp.StatusCode, ErrorType: resp.Header.Get("X-Amzn-Errortype"),
			FunctionError: resp.Header.Get("X-Amz-Function-Error"), Body: string(b)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// floodWorkers bound the flood's requests in flight: at 1000/s each has
// 16 ms to be answered before a tick is dropped.
const floodWorkers = 16

// Flood sends do at rate per second from a pool of workers until the
// returned stop is called (or ctx is done); stop returns what was sent.
// The pace is kept by the clock, a late tick sending what is due; what
// finds every worker busy and the backlog full is dropped, so the rate is a
// ceiling.
func Flood(ctx context.Context, rate int, do func(context.Context) error) (stop func() Result) {
	ctx, cancel := context.WithCancel(ctx)
	due := make(chan struct{}, max(rate/10, 1))
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		res Result
	)
	start := time.Now()
	for range floodWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine Result
			for {
				select {
				case <-ctx.Done():
					mu.Lock()
					res.merge(mine)
					mu.Unlock()
					return
				case <-due:
				}
				t0 := time.Now()
				if err := do(ctx); err != nil && ctx.Err() == nil {
					mine.addErr(err)
				} else if err == nil {
					mine.Latencies = append(mine.Latencies, time.Since(t0))
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		sent := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for ; sent < int(time.Since(start).Seconds()*float64(rate)); sent++ {
				select {
				case due <- struct{}{}:
				default: // the backlog is full
				}
			}
		}
	}()
	return func() Result {
		cancel()
		wg.Wait()
		res.Wall = time.Since(start)
		return res
	}
}

// AuthRun is the warm path of a node with --auth beside one without it,
// both sent the same signed invocations of the same function, and the
// signed callers of the node with --auth under a flood of bad signatures.
type AuthRun struct {
	Skipped string // why it was not measured, if it was not

	Off, On       map[int]Result // by concurrency level
	OffCPU, OnCPU map[int]*CPU   // the nodes' CPU time over each load

	Calm, Flooded Result // signed invocations at FloodLevel, without and with the flood
	Flood         Result // the bad signatures sent meanwhile: answered 403, or errors
	// FloodedAside is the signed invocations while the same flood goes to
	// another server (the floor's): what the flood's own client takes
	// from a machine shared with it.
	FloodedAside Result
}

// authRows are the rows of the --auth section.
func (r *Report) authRows() []Row {
	a := r.Auth
	if a == nil {
		return nil
	}
	if a.Skipped != "" {
		return []Row{{Figure: "--auth", Value: "skipped (" + a.Skipped + ")", Target: "≤ off + 15 µs CPU", Mark: NotMeasured}}
	}
	var rows []Row
	if len(r.Levels) > 0 {
		l := r.Levels[0]
		row := Row{Figure: fmt.Sprintf("--auth: signed warm p50, c=%d", l)}
		row.fill(a.On[l].Percentile(0.5), a.Off[l].Percentile(0.5), "off", len(a.On[l].Latencies) > 0 && len(a.Off[l].Latencies) > 0)
		rows = append(rows, row)
	}
	l := TargetLevel
	rows = append(rows, Row{Figure: fmt.Sprintf("--auth: signed throughput, c=%d", l), Value: rate(a.On[l].Throughput()),
		Floor: "off " + rate(a.Off[l].Throughput()), Ratio: times(Ratio(a.On[l].Throughput(), a.Off[l].Throughput()))})
	cpu := Row{Figure: fmt.Sprintf("--auth: node CPU per invocation, c=%d", l), Target: fmt.Sprintf("≤ off + %d µs", TargetAuthCPU.Microseconds()), Mark: NotMeasured, Value: "n/a"}
	if on, off := a.OnCPU[l], a.OffCPU[l]; on.measured() && off.measured() {
		cpu.fill(on.PerRequest(), off.PerRequest(), "off", true)
		cpu.Ratio += fmt.Sprintf(" (%+d µs)", (on.PerRequest() - off.PerRequest()).Microseconds())
		cpu.Mark = verdict(on.PerRequest() <= off.PerRequest()+TargetAuthCPU)
	}
	// The flood's own client shares the machine: the floor of the signed
	// callers under the flood is their throughput while the same flood
	// goes to another server.
	flooded := Row{Figure: fmt.Sprintf("--auth: signed throughput under %d bad/s, c=%d", FloodRate, FloodLevel),
		Value: rate(a.Flooded.Throughput()), Floor: "flood elsewhere " + rate(a.FloodedAside.Throughput()),
		Ratio: times(Ratio(a.Flooded.Throughput(), a.FloodedAside.Throughput())), Target: fmt.Sprintf("≥ %g× flood elsewhere, no errors", TargetFloodShare), Mark: NotMeasured}
	if a.FloodedAside.Requests() > 0 && a.Flooded.Requests() > 0 {
		flooded.Mark = verdict(a.Flooded.Errors == 0 && Ratio(a.Flooded.Throughput(), a.FloodedAside.Throughput()) >= TargetFloodShare)
	}
	aside := Row{Figure: fmt.Sprintf("--auth: signed throughput, %d bad/s sent elsewhere, c=%d", FloodRate, FloodLevel),
		Value: rate(a.FloodedAside.Throughput()), Floor: "no flood " + rate(a.Calm.Throughput()),
		Ratio: times(Ratio(a.FloodedAside.Throughput(), a.Calm.Throughput()))}
	calm := Row{Figure: fmt.Sprintf("--auth: signed throughput under %d bad/s, beside no flood", FloodRate),
		Value: rate(a.Flooded.Throughput()), Floor: "no flood " + rate(a.Calm.Throughput()),
		Ratio: times(Ratio(a.Flooded.Throughput(), a.Calm.Throughput()))}
	var errs, n int
	for _, res := range a.On {
		errs, n = errs+res.Errors, n+res.Requests()
	}
	return append(rows, cpu, flooded, aside, calm,
		Row{Figure: "--auth: bad signatures refused", Value: fmt.Sprintf("%s, p50 %s", rate(a.Flood.Throughput()), duration(a.Flood.Percentile(0.5))),
			Floor: fmt.Sprintf("%d answered otherwise", a.Flood.Errors)},
		Row{Figure: "--auth: signed errors", Value: of(errs+a.Calm.Errors+a.Flooded.Errors, n+a.Calm.Requests()+a.Flooded.Requests())})
}
