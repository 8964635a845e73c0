package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// fuzzRuntime answers like an environment with one current invocation,
// "cur": responses for other ids are refused, a second response is a state
// error, init errors after init are refused.
type fuzzRuntime struct{ answered bool }

func (f *fuzzRuntime) Next(context.Context) (*Event, error) {
	return &Event{RequestID: "cur", DeadlineMs: 1, Payload: []byte(`{}`)}, nil
}

func (f *fuzzRuntime) Respond(id string, r Response) error {
	switch {
	case id != "cur":
		return ErrInvalidRequestID
	case f.answered:
		return &StateError{From: StateResponseSent}
	}
	f.answered = true
	return nil
}

func (f *fuzzRuntime) InitError(Response) error { return &StateError{From: StateReady} }

// FuzzHandler feeds arbitrary bytes, as a runtime's connection would send
// them (requests with chunked bodies and trailers included), to the Runtime
// API's server: it may not panic, every answer is a well-formed HTTP/1.1
// response with a status the Runtime API uses, and every JSON error answer
// is the body runtimes expect. Run with go test ./runtimeapi -fuzz
// FuzzHandler.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/cur/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST /2018-06-01/runtime/invocation/other/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"POST /2018-06-01/runtime/invocation/cur/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n2\r\n{}\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.X\r\nLambda-Runtime-Function-Error-Body: e30=\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/cur/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Error-Type: Boom\r\nContent-Length: 14\r\n\r\n{\"errorType\":1",
		"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/%2e%2e/response HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/cur/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	allowed := map[int]bool{100: true, 200: true, 202: true, 400: true, 403: true, 404: true, 405: true, 413: true, 500: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		serve(context.Background(), &fuzzRuntime{}, bufio.NewReaderSize(bytes.NewReader(raw), maxLine), w)
		_ = w.Flush()
		// Every answer is a well-formed HTTP/1.1 response with a status the
		// Runtime API uses; error answers are the JSON runtimes expect.
		r := bufio.NewReader(&out)
		for n := 0; ; n++ {
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				if out.Len() > 0 {
					t.Fatalf("unparsable answer after %d: %v (left %q) for %q", n, err, out.Bytes(), raw)
				}
				return
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("answer body: %v", err)
			}
			if !allowed[resp.StatusCode] {
				t.Fatalf("status %d for %q", resp.StatusCode, raw)
			}
			if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") == "application/json" {
				var e struct {
					ErrorMessage string `json:"errorMessage"`
					ErrorType    string `json:"errorType"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.ErrorType == "" || e.ErrorMessage == "" {
					t.Fatalf("error answer %d %q for %q", resp.StatusCode, body, raw)
				}
			}
		}
	})
}
