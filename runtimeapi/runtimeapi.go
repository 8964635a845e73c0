// Package runtimeapi serves the Lambda Runtime API (2018-06-01) that one
// execution environment offers to its runtime process: next, response, error
// and init/error. It owns the HTTP details (long-poll headers, chunked bodies
// with trailers as aws-lambda-go sends them, the response size limit, the
// error bodies a runtime expects) and nothing else: the state machine of an
// environment lives in package sandbox, behind the Runtime interface.
package runtimeapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/lambada-dev/lambada"
)

// Event is what GET …/invocation/next hands the runtime.
type Event struct {
	RequestID     string
	DeadlineMs    int64  // Unix milliseconds
	InvokedARN    string // as invoked: unqualified, version or alias
	TraceID       string
	ClientContext []byte // decoded JSON, or nil
	Payload       []byte

	// Delivered, if not nil, is called once the event has been written to
	// the runtime, off the path of the event.
	Delivered func()
}

// Response is what the runtime posted for an invocation, or for init.
type Response struct {
	Body        []byte
	ContentType string
	Error       bool   // posted to /error or /init/error, or signalled by trailer
	ErrorType   string // Lambda-Runtime-Function-Error-Type, if any
	TooLarge    bool   // the body exceeded lambada.MaxResponsePayload; Body is nil
	Truncated   bool   // the body ended early: Body is the Runtime.TruncatedResponse fault
}

// Runtime is the execution environment the handlers serve.
type Runtime interface {
	// Next blocks until there is an invocation for the runtime, or ctx ends.
	// A call to Next also tells the environment that the previous invocation
	// has ended.
	Next(ctx context.Context) (*Event, error)

	// Respond delivers the runtime's response (or error) for request id. It
	// returns ErrInvalidRequestID for an id that is not the current one and
	// ErrInvalidState when the current one was already answered.
	Respond(id string, r Response) error

	// InitError reports that the runtime failed to initialise.
	InitError(r Response) error
}

// Errors a Runtime returns, rendered as the Runtime API does.
var (
	ErrInvalidRequestID = errors.New("invalid request id")
	ErrInvalidState     = errors.New("invalid state transition")
)

// Runtime states, as AWS names them in InvalidStateTransition messages.
const (
	StateReady                   = "Ready"
	StateRunning                 = "Running"
	StateResponseSent            = "RuntimeResponseSentState"
	StateInvocationResponse      = "InvocationResponse"
	StateInvocationErrorResponse = "InvocationErrorResponse"
	StateInitError               = "InitError"
)

// StateError is ErrInvalidState with the state the runtime was in.
type StateError struct{ From string }

func (e *StateError) Error() string { return "invalid state transition from " + e.From }

// Is makes a StateError match ErrInvalidState.
func (e *StateError) Is(target error) bool { return target == ErrInvalidState }

// The paths of the two requests of every invocation.
const (
	pathNext       = "/2018-06-01/runtime/invocation/next"
	pathInvocation = "/2018-06-01/runtime/invocation/"
	suffixResponse = "/response"
)

// NewHandler returns the Runtime API routes served to rt's process.
func NewHandler(rt Runtime) http.Handler {
	h := &handler{rt: rt, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+pathNext, h.next)
	h.mux.HandleFunc("POST "+pathInvocation+"{id}"+suffixResponse, h.response)
	h.mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", h.error)
	h.mux.HandleFunc("POST /2018-06-01/runtime/init/error", h.initError)
	h.mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong") })
	return h
}

type handler struct {
	rt  Runtime
	mux *http.ServeMux
}

// ServeHTTP routes next and response, the requests of every invocation,
// without the mux when their path is plain (what the mux would route to
// them unchanged), and everything else through it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == pathNext:
		h.next(w, r)
		return
	case r.Method == http.MethodPost && len(p) > len(pathInvocation)+len(suffixResponse) &&
		strings.HasPrefix(p, pathInvocation) && strings.HasSuffix(p, suffixResponse) && r.URL.RawPath == "":
		id := p[len(pathInvocation) : len(p)-len(suffixResponse)]
		if id != "" && id != "." && id != ".." && !strings.Contains(id, "/") {
			r.SetPathValue("id", id)
			h.response(w, r)
			return
		}
	}
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		// The mux would redirect to the clean path: no runtime asks so.
		http.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Canonical header keys, assigned directly to skip canonicalisation.
const (
	hRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hDeadline      = "Lambda-Runtime-Deadline-Ms"
	hInvokedARN    = "Lambda-Runtime-Invoked-Function-Arn"
	hTraceID       = "Lambda-Runtime-Trace-Id"
	hClientContext = "Lambda-Runtime-Client-Context"
	hErrorType     = "Lambda-Runtime-Function-Error-Type"
	hErrorBody     = "Lambda-Runtime-Function-Error-Body"
)

func (h *handler) next(w http.ResponseWriter, r *http.Request) {
	ev, err := h.rt.Next(r.Context())
	if err != nil {
		renderError(w, err, StateReady)
		return
	}
	hd := w.Header()
	// One backing array for the header values: one allocation, not seven.
	v := &[7]string{ev.RequestID, strconv.FormatInt(ev.DeadlineMs, 10), ev.InvokedARN, ev.TraceID, "",
		"application/json", strconv.Itoa(len(ev.Payload))}
	hd[hRequestID] = v[0:1:1]
	hd[hDeadline] = v[1:2:2]
	hd[hInvokedARN] = v[2:3:3]
	if ev.TraceID != "" {
		hd[hTraceID] = v[3:4:4]
	}
	if len(ev.ClientContext) > 0 {
		v[4] = string(ev.ClientContext)
		hd[hClientContext] = v[4:5:5]
	}
	hd["Content-Type"] = v[5:6:6]
	hd["Content-Length"] = v[6:7:7]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ev.Payload)
	if ev.Delivered != nil {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		ev.Delivered()
	}
}

func (h *handler) response(w http.ResponseWriter, r *http.Request) {
	resp := readResponse(r)
	resp.ContentType = r.Header.Get("Content-Type")
	err := h.rt.Respond(r.PathValue("id"), resp)
	switch {
	case err != nil:
		renderError(w, err, StateInvocationResponse)
	case resp.TooLarge:
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Exceeded maximum allowed payload size ("+strconv.Itoa(lambada.MaxResponsePayload)+" bytes).")
	default:
		acknowledge(w, resp)
	}
}

func (h *handler) error(w http.ResponseWriter, r *http.Request) {
	resp := readResponse(r)
	resp.Error = true
	if t := r.Header.Get(hErrorType); t != "" {
		resp.ErrorType = t
	}
	if err := h.rt.Respond(r.PathValue("id"), resp); err != nil {
		renderError(w, err, StateInvocationErrorResponse)
		return
	}
	acknowledge(w, resp)
}

func (h *handler) initError(w http.ResponseWriter, r *http.Request) {
	resp := readResponse(r)
	resp.Error = true
	resp.ErrorType = r.Header.Get(hErrorType)
	if err := h.rt.InitError(resp); err != nil {
		renderError(w, err, StateInitError)
		return
	}
	acknowledge(w, resp)
}

// readResponse reads a posted body up to the response limit. aws-lambda-go
// sends chunked bodies and, when reading its handler's result failed, the
// trailers Lambda-Runtime-Function-Error-Type and -Body (base64 JSON): the
// invocation is then an error whose payload is that body.
func readResponse(r *http.Request) Response {
	b, err := io.ReadAll(io.LimitReader(r.Body, lambada.MaxResponsePayload+1))
	if err != nil {
		return Response{Error: true, Truncated: true, ErrorType: "Runtime.TruncatedResponse", Body: lambada.FunctionFault{Type: "Runtime.TruncatedResponse", Message: "HTTP request detected as truncated"}.Payload()}
	}
	if len(b) > lambada.MaxResponsePayload {
		return Response{TooLarge: true}
	}
	if t := r.Trailer.Get(hErrorType); t != "" {
		body, derr := base64.StdEncoding.DecodeString(r.Trailer.Get(hErrorBody))
		if derr != nil || len(body) == 0 {
			body = lambada.FunctionFault{Type: t, Message: "the runtime reported an error while sending its response"}.Payload()
		}
		return Response{Error: true, ErrorType: t, Body: body}
	}
	return Response{Body: b}
}

var statusOK = []byte(`{"status":"OK"}` + "\n")

// acknowledge answers a posted response: 202, or 400 when its body was
// truncated (the invocation has Runtime.TruncatedResponse).
func acknowledge(w http.ResponseWriter, resp Response) {
	if resp.Truncated {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(statusOK)
}

// renderError answers a request the Runtime refused; to is the state the
// request would have moved the runtime to.
func renderError(w http.ResponseWriter, err error, to string) {
	switch {
	case errors.Is(err, ErrInvalidRequestID):
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
	case errors.Is(err, ErrInvalidState):
		from := StateRunning
		if se, ok := errors.AsType[*StateError](err); ok {
			from = se.From
		}
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "State transition from "+from+" to "+to+" failed for runtime. Error: State transition is not allowed")
	default: // the environment is stopping

		writeError(w, http.StatusInternalServerError, "Runtime.Unknown", "Container error. Non-recoverable state. Runtime should exit promptly.")
	}
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
}
