package runtimeapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

func serve(t *testing.T, rt Runtime) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(rt))
	t.Cleanup(srv.Close)
	return srv
}

func TestNext_Headers(t *testing.T) {
	rt := &fakeRuntime{event: &Event{RequestID: "id-1", DeadlineMs: 1700000000123, InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:f:live",
		TraceID: "Root=1-2-3;Sampled=0", ClientContext: []byte(`{"custom":{}}`), Payload: []byte(`{"a":1}`)}}
	srv := serve(t, rt)
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
func post(t *testing.T, url string, header http.Header, body string, trailer http.Header) (int, string) {
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
	srv := serve(t, rt)
	base := srv.URL + "/2018-06-01/runtime/"

	status, body := post(t, base+"invocation/id-1/response", http.Header{"Content-Type": {"application/octet-stream"}}, `{"ok":true}`, nil)
	if status != 202 || body != `{"status":"OK"}`+"\n" || rt.respondID != "id-1" || string(rt.resp.Body) != `{"ok":true}` || rt.resp.Error {
		t.Fatalf("response: %d %s %+v", status, body, rt.resp)
	}

	// aws-lambda-go reports a failure to read its handler's result in trailers.
	errBody := `{"errorMessage":"broken","errorType":"ReadError"}`
	status, _ = post(t, base+"invocation/id-1/response", http.Header{}, `partial`, http.Header{
		"Lambda-Runtime-Function-Error-Type": {"ReadError"},
		"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(errBody))},
	})
	if status != 202 || !rt.resp.Error || rt.resp.ErrorType != "ReadError" || string(rt.resp.Body) != errBody {
		t.Fatalf("trailer error: %d %+v", status, rt.resp)
	}

	status, _ = post(t, base+"invocation/id-1/error", http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Custom"}}, `{"errorMessage":"m"}`, nil)
	if status != 202 || !rt.resp.Error || rt.resp.ErrorType != "Runtime.Custom" || string(rt.resp.Body) != `{"errorMessage":"m"}` {
		t.Fatalf("error: %d %+v", status, rt.resp)
	}

	status, body = post(t, base+"invocation/id-1/response", http.Header{}, strings.Repeat("x", lambada.MaxResponsePayload+1), nil)
	if status != 413 || !rt.resp.TooLarge || body != `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`+"\n" {
		t.Fatalf("too large: %d %s", status, body)
	}

	status, _ = post(t, base+"init/error", http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.ImportModuleError"}}, `{"errorMessage":"no"}`, nil)
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
		status, body := post(t, base+"invocation/other/response", http.Header{}, `{}`, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%v: %d %s", tc.err, status, body)
		}
	}
}

// The handler's own routing of next and response answers every request as
// the mux alone would.
func TestHandler_RoutesAsTheMux(t *testing.T) {
	for _, tc := range []struct{ method, target string }{
		{"GET", "/2018-06-01/runtime/invocation/next"},
		{"HEAD", "/2018-06-01/runtime/invocation/next"},
		{"PUT", "/2018-06-01/runtime/invocation/next"},
		{"GET", "/2018-06-01/runtime/invocation/next/"},
		{"POST", "/2018-06-01/runtime/invocation/id-1/response"},
		{"POST", "/2018-06-01/runtime/invocation/id%2D1/response"},
		{"POST", "/2018-06-01/runtime/invocation/a%2Fb/response"},
		{"POST", "/2018-06-01/runtime/invocation/a/b/response"},
		{"POST", "/2018-06-01/runtime/invocation//response"},
		{"POST", "/2018-06-01/runtime/invocation/../response"},
		{"POST", "/2018-06-01/runtime/invocation/./response"},
		{"POST", "/2018-06-01/runtime/invocation/response"},
		{"GET", "/2018-06-01/runtime/invocation/id-1/response"},
		{"POST", "/2018-06-01/runtime/invocation/id-1/error"},
	} {
		var got, want *httptest.ResponseRecorder
		var gotID, wantID string
		for _, viaMux := range []bool{false, true} {
			rt := &fakeRuntime{event: &Event{RequestID: "id-1", Payload: []byte(`{}`)}}
			h := NewHandler(rt).(*handler)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(`{"ok":1}`))
			if viaMux {
				h.mux.ServeHTTP(rec, req)
				want, wantID = rec, rt.respondID
			} else {
				h.ServeHTTP(rec, req)
				got, gotID = rec, rt.respondID
			}
		}
		if want.Code == http.StatusTemporaryRedirect {
			// Where the mux would redirect to a clean path, the handler
			// answers 404: no runtime asks for an unclean path.
			want = httptest.NewRecorder()
			want.Code = http.StatusNotFound
			want.Body.WriteString("404 page not found\n")
		}
		if got.Code != want.Code || got.Body.String() != want.Body.String() || gotID != wantID ||
			got.Header().Get("Location") != want.Header().Get("Location") || got.Header().Get("Allow") != want.Header().Get("Allow") {
			t.Errorf("%s %s: got %d %q (id %q), the mux %d %q (id %q)", tc.method, tc.target,
				got.Code, got.Body.String(), gotID, want.Code, want.Body.String(), wantID)
		}
	}
}

// A response whose body ends before its Content-Length is refused with
// 400 TruncatedHTTPRequest; the invocation gets Runtime.TruncatedResponse.
func TestResponse_Truncated(t *testing.T) {
	rt := &fakeRuntime{}
	srv := serve(t, rt)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
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
