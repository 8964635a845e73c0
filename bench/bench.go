// Package bench measures Lambada against floors taken in the same run: a
// keep-alive loopback HTTP round trip to a trivial server in its own process
// (the floor of a warm invocation), a bare start of a bootstrap timed to its
// first GET next (the floor of a cold start), and the function's own sleep
// (the floor of a burst). `lambada bench` and the Go benchmarks of
// cmd/lambada both use it.
//
// It owns the measuring: closed-loop load (Run), percentiles, a process's
// CPU time, and the report with its speed targets. It knows nothing of
// Lambada's packages and sends traffic to 127.0.0.1 only; deploying the
// functions and starting the node belong to cmd/lambada.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Body is the 100-byte event sent to the floor and to the no-op function
// alike: the test function reads its action and ignores the padding.
var Body = []byte(`{"action":"noop","msg":"` + strings.Repeat("p", 100-len(`{"action":"noop","msg":""}`)) + `"}`)

// SleepBody is the event that makes the test function sleep ms milliseconds.
func SleepBody(ms int) []byte {
	return []byte(`{"action":"sleep","ms":` + strconv.Itoa(ms) + `}`)
}

// NewClient returns the HTTP client every measurement uses: keep-alive, no
// proxy, enough idle connections for maxConns concurrent requests to one
// host.
func NewClient(maxConns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: maxConns, MaxIdleConnsPerHost: maxConns}}
}

// Post sends body to url and reads the whole answer, failing on a status
// other than 200 or a function error. The floor and Lambada are measured
// with it alike, so both pay the same client costs.
func Post(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return send(c, req)
}

// HTTPError is an answer other than a successful invocation.
type HTTPError struct {
	Status        int
	ErrorType     string // x-amzn-ErrorType: the API's error
	FunctionError string // X-Amz-Function-Error
	Body          string // its first KB
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("bench: status %d, error type %q, function error %q: %s", e.Status, e.ErrorType, e.FunctionError, e.Body)
}

// kind is err without what differs between requests of the same failure
// (request ids, ports), to count failures by kind.
func kind(err error) string {
	var he *HTTPError
	if errors.As(err, &he) {
		var body struct{ ErrorType string }
		_ = json.Unmarshal([]byte(he.Body), &body)
		k := fmt.Sprintf("status %d", he.Status)
		for _, t := range []string{he.ErrorType, he.FunctionError, body.ErrorType} {
			if t != "" {
				k += " " + t
			}
		}
		return k
	}
	return addrs.ReplaceAllString(err.Error(), "ADDR")
}

var addrs = regexp.MustCompile(`[0-9.]+:[0-9]+`)

// Poster returns a request function for Run that posts body to url.
func Poster(c *http.Client, url string, body []byte) func(context.Context) error {
	return func(ctx context.Context) error { return Post(ctx, c, url, body) }
}
