package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// FuzzHandler feeds arbitrary HTTP/1.1 requests (chunked bodies and
// trailers included) to the Runtime API handlers: none may panic, every
// answer has a status the Runtime API uses, and every error answer is the
// JSON body runtimes expect. Run with go test ./runtimeapi -fuzz FuzzHandler.
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
	allowed := map[int]bool{200: true, 202: true, 400: true, 403: true, 404: true, 405: true, 413: true, 500: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // not a request net/http would hand to a handler
		}
		w := httptest.NewRecorder()
		NewHandler(&fuzzRuntime{}).ServeHTTP(w, req)
		if !allowed[w.Code] {
			t.Fatalf("status %d for %q", w.Code, raw)
		}
		if w.Code >= 400 && w.Code != 404 && w.Code != 405 {
			var body struct {
				ErrorMessage string `json:"errorMessage"`
				ErrorType    string `json:"errorType"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.ErrorType == "" || body.ErrorMessage == "" {
				t.Fatalf("error answer %d %q for %q", w.Code, w.Body.String(), raw)
			}
		}
	})
}
