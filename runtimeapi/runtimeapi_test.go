package runtimeapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

// fakeRuntime records what the handlers deliver.
type fakeRuntime struct {
	event     *Event
	respondID string
	resp      Response
	respErr   error
	initResp  *Response
}

func (f *fakeRuntime) Next(context.Context) (*Event, error) { return f.event, nil }

func (f *fakeRuntime) Respond(id string, r Response) error {
	f.respondID, f.resp = id, r
	return f.respErr
}

func (f *fakeRuntime) InitError(r Response) error {
	f.initResp = &r
	return nil
}

// testServer is a Runtime API served on a loopback port.
type testServer struct{ URL string }

// dial opens a raw connection to the server, closed when the test ends.
func (s *testServer) dial(t *testing.T) *net.TCPConn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*net.TCPConn)
}

func serveTest(t *testing.T, rt Runtime) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(rt)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &testServer{URL: "http://" + ln.Addr().String()}
}

func TestNext_Headers(t *testing.T) {
	rt := &fakeRuntime{event: &Event{RequestID: "id-1", DeadlineMs: 1700000000123, InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:f:live",
		TraceID: "Root=1-2-3;Sampled=0", ClientContext: []byte(`{"custom":{}}`), Payload: []byte(`{"a":1}`)}}
	srv := serveTest(t, rt)
	resp, err := http.Get(srv.URL + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "id-1",
		"Lambda-Runtime-Deadline-Ms":          "1700000000123",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f:live",
		"Lambda-Runtime-Trace-Id":             "Root=1-2-3;Sampled=0",
		"Lambda-Runtime-Client-Context":       `{"custom":{}}`,
		"Content-Type":                        "application/json",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.StatusCode != 200 || string(body) != `{"a":1}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// post sends body chunked (as aws-lambda-go does), with trailers.
func postChunked(t *testing.T, url string, header http.Header, body string, trailer http.Header) (int, string) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.Header = header
	req.ContentLength = -1
	req.Trailer = http.Header{}
	for k := range trailer {
		req.Trailer[k] = nil
	}
	go func() {
		_, _ = io.WriteString(pw, body)
		for k, v := range trailer {
			req.Trailer[k] = v
		}
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestResponseAndErrors(t *testing.T) {
	rt := &fakeRuntime{}
	srv := serveTest(t, rt)
	base := srv.URL + "/2018-06-01/runtime/"

	status, body := postChunked(t, base+"invocation/id-1/response", http.Header{"Content-Type": {"application/octet-stream"}}, `{"ok":true}`, nil)
	if status != 202 || body != `{"status":"OK"}`+"\n" || rt.respondID != "id-1" || string(rt.resp.Body) != `{"ok":true}` || rt.resp.Error {
		t.Fatalf("response: %d %s %+v", status, body, rt.resp)
	}

	// aws-lambda-go reports a failure to read its handler's result in trailers.
	errBody := `{"errorMessage":"broken","errorType":"ReadError"}`
	status, _ = postChunked(t, base+"invocation/id-1/response", http.Header{}, `partial`, http.Header{
		"Lambda-Runtime-Function-Error-Type": {"ReadError"},
		"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(errBody))},
	})
	if status != 202 || !rt.resp.Error || rt.resp.ErrorType != "ReadError" || string(rt.resp.Body) != errBody {
		t.Fatalf("trailer error: %d %+v", status, rt.resp)
	}

	status, _ = postChunked(t, base+"invocation/id-1/error", http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Custom"}}, `{"errorMessage":"m"}`, nil)
	if status != 202 || !rt.resp.Error || rt.resp.ErrorType != "Runtime.Custom" || string(rt.resp.Body) != `{"errorMessage":"m"}` {
		t.Fatalf("error: %d %+v", status, rt.resp)
	}

	status, body = postChunked(t, base+"invocation/id-1/response", http.Header{}, strings.Repeat("x", lambada.MaxResponsePayload+1), nil)
	if status != 413 || !rt.resp.TooLarge || body != `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`+"\n" {
		t.Fatalf("too large: %d %s", status, body)
	}

	status, _ = postChunked(t, base+"init/error", http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.ImportModuleError"}}, `{"errorMessage":"no"}`, nil)
	if status != 202 || rt.initResp == nil || rt.initResp.ErrorType != "Runtime.ImportModuleError" {
		t.Fatalf("init error: %d %+v", status, rt.initResp)
	}

	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{ErrInvalidRequestID, 400, `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`},
		{ErrInvalidState, 403, `{"errorMessage":"State transition from Running to InvocationResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`},
		{&StateError{From: StateResponseSent}, 403, `{"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}`},
	} {
		rt.respErr = tc.err
		status, body := postChunked(t, base+"invocation/other/response", http.Header{}, `{}`, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%v: %d %s", tc.err, status, body)
		}
	}
}

// Every route answers its method, and only it; paths no runtime sends are
// not found, never redirected.
func TestRoutes(t *testing.T) {
	rt := &fakeRuntime{event: &Event{RequestID: "id-1", Payload: []byte(`{}`)}}
	srv := serveTest(t, rt)
	for _, tc := range []struct {
		method, target string
		status         int
		id             string // the id Respond saw
	}{
		{"GET", "/2018-06-01/runtime/invocation/next", 200, ""},
		{"HEAD", "/2018-06-01/runtime/invocation/next", 405, ""},
		{"PUT", "/2018-06-01/runtime/invocation/next", 405, ""},
		{"GET", "/2018-06-01/runtime/invocation/next/", 404, ""},
		{"GET", "/2018-06-01/runtime/invocation/next?x=1", 200, ""},
		{"POST", "/2018-06-01/runtime/invocation/id-1/response", 202, "id-1"},
		{"POST", "/2018-06-01/runtime/invocation/id%2D1/response", 202, "id-1"},
		{"POST", "/2018-06-01/runtime/invocation/a%2Fb/response", 202, "a/b"},
		{"POST", "/2018-06-01/runtime/invocation/a/b/response", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation//response", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/../response", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/./response", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/response", 404, ""},
		{"GET", "/2018-06-01/runtime/invocation/id-1/response", 405, ""},
		{"POST", "/2018-06-01/runtime/invocation/id-1/error", 202, "id-1"},
		{"POST", "/2018-06-01/runtime/init/error", 202, ""},
		{"GET", "/ping", 200, ""},
		{"GET", "/nowhere", 404, ""},
	} {
		rt.respondID = ""
		var body io.Reader
		if tc.method == "POST" || tc.method == "PUT" {
			body = strings.NewReader(`{"ok":1}`)
		}
		req, _ := http.NewRequest(tc.method, srv.URL+tc.target, body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.target, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || rt.respondID != tc.id {
			t.Errorf("%s %s: %d (id %q), want %d (id %q)", tc.method, tc.target, resp.StatusCode, rt.respondID, tc.status, tc.id)
		}
	}
}

// A response whose body ends before its Content-Length is refused with
// 400 TruncatedHTTPRequest; the invocation gets Runtime.TruncatedResponse.
func TestResponse_Truncated(t *testing.T) {
	rt := &fakeRuntime{}
	srv := serveTest(t, rt)
	conn := srv.dial(t)
	if _, err := io.WriteString(conn, "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != `{"errorMessage":"HTTP request detected as truncated","errorType":"TruncatedHTTPRequest"}`+"\n" {
		t.Fatalf("truncated response: %d %s", resp.StatusCode, body)
	}
	if rt.respondID != "id-1" || !rt.resp.Truncated || !rt.resp.Error || rt.resp.ErrorType != "Runtime.TruncatedResponse" {
		t.Fatalf("the invocation got %+v", rt.resp)
	}
}

// A response over the limit is refused with 413 and Connection: close, and
// the connection ends with the server's FIN once the client has read the
// answer, not with a reset that could destroy it: the server reads what the
// client still sends for a while first.
func TestResponse_TooLargeClosesCleanly(t *testing.T) {
	rt := &fakeRuntime{}
	srv := serveTest(t, rt)
	conn := srv.dial(t)
	head := "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(lambada.MaxResponsePayload+1) + "\r\n\r\n"
	// The start of the body, which the server never reads as a body.
	if _, err := io.WriteString(conn, head+strings.Repeat("x", 64<<10)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !resp.Close || !rt.resp.TooLarge {
		t.Fatalf("too large: %d close=%v %s; the invocation got %+v", resp.StatusCode, resp.Close, body, rt.resp)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the answer: %d bytes, %v; want the server's FIN (EOF)", n, err)
	}
}

// A request with more than maxHeaders header lines is malformed: 400, and
// the connection closes.
func TestRequest_TooManyHeaders(t *testing.T) {
	srv := serveTest(t, &fakeRuntime{event: &Event{RequestID: "id-1", Payload: []byte("{}")}})
	for _, tc := range []struct {
		headers int
		status  int
	}{{maxHeaders, 200}, {maxHeaders + 1, 400}} {
		conn := srv.dial(t)
		req := "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n" + strings.Repeat("X-Filler: x\r\n", tc.headers) + "\r\n"
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%d headers: %d, want %d", tc.headers, resp.StatusCode, tc.status)
		}
	}
}
