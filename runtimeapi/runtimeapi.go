// Package runtimeapi serves the Lambda Runtime API (2018-06-01) that one
// execution environment offers to its runtime process: next, response, error
// and init/error. It owns the HTTP details (its own HTTP/1.1 server for this
// one kind of client, long-poll headers, chunked bodies with trailers as
// aws-lambda-go sends them, the response size limit, the error bodies a
// runtime expects) and nothing else: the state machine of an environment
// lives in package sandbox, behind the Runtime interface.
package runtimeapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

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

// Canonical header keys.
const (
	hRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hDeadline      = "Lambda-Runtime-Deadline-Ms"
	hInvokedARN    = "Lambda-Runtime-Invoked-Function-Arn"
	hTraceID       = "Lambda-Runtime-Trace-Id"
	hClientContext = "Lambda-Runtime-Client-Context"
	hErrorType     = "Lambda-Runtime-Function-Error-Type"
	hErrorBody     = "Lambda-Runtime-Function-Error-Body"
)

// route answers one request whose head q holds, reading its body from r,
// and reports whether the connection may serve another.
func route(ctx context.Context, rt Runtime, q *request, r *bufio.Reader, w *bufio.Writer) bool {
	seg, ok := q.segments()
	switch {
	case !ok:
	case len(seg) == 4 && seg[0] == "2018-06-01" && seg[1] == "runtime" && seg[2] == "invocation" && seg[3] == "next":
		if q.method != http.MethodGet {
			return methodNotAllowed(q, r, w, http.MethodGet)
		}
		return next(ctx, rt, w)
	case len(seg) == 5 && seg[0] == "2018-06-01" && seg[1] == "runtime" && seg[2] == "invocation" && seg[3] != "" &&
		(seg[4] == "response" || seg[4] == "error"):
		if q.method != http.MethodPost {
			return methodNotAllowed(q, r, w, http.MethodPost)
		}
		return post(rt, q, r, w, seg[3], seg[4] == "error")
	case len(seg) == 4 && seg[0] == "2018-06-01" && seg[1] == "runtime" && seg[2] == "init" && seg[3] == "error":
		if q.method != http.MethodPost {
			return methodNotAllowed(q, r, w, http.MethodPost)
		}
		return initError(rt, q, r, w)
	case len(seg) == 1 && seg[0] == "ping" && q.method == http.MethodGet:
		if !discard(q, r, w) {
			return false
		}
		writeText(w, q, http.StatusOK, "pong", "")
		return true
	}
	if !discard(q, r, w) {
		return false
	}
	writeText(w, q, http.StatusNotFound, "404 page not found", "")
	return true
}

// discard reads and drops a body no route wants.
func discard(q *request, r *bufio.Reader, w *bufio.Writer) bool {
	_, res := q.readBody(r, w, lambada.MaxResponsePayload)
	return res == bodyOK
}

func methodNotAllowed(q *request, r *bufio.Reader, w *bufio.Writer, allow string) bool {
	if !discard(q, r, w) {
		return false
	}
	writeText(w, q, http.StatusMethodNotAllowed, "Method Not Allowed", allow)
	return true
}

func next(ctx context.Context, rt Runtime, w *bufio.Writer) bool {
	ev, err := rt.Next(ctx)
	if err != nil {
		renderError(w, err, StateReady, true)
		return false
	}
	writeHead(w, http.StatusOK, "application/json", len(ev.Payload))
	writeHeader(w, hRequestID, ev.RequestID)
	var num [20]byte
	writeHeader(w, hDeadline, string(strconv.AppendInt(num[:0], ev.DeadlineMs, 10)))
	writeHeader(w, hInvokedARN, ev.InvokedARN)
	if ev.TraceID != "" {
		writeHeader(w, hTraceID, ev.TraceID)
	}
	if len(ev.ClientContext) > 0 {
		writeHeader(w, hClientContext, string(ev.ClientContext))
	}
	endHead(w, ev.Payload)
	if w.Flush() != nil {
		return false
	}
	if ev.Delivered != nil {
		ev.Delivered()
	}
	return true
}

// post answers POST …/invocation/{id}/response (or /error).
func post(rt Runtime, q *request, r *bufio.Reader, w *bufio.Writer, id string, isError bool) bool {
	resp := readResponse(q, r, w)
	resp.ContentType = q.contentType
	if isError {
		resp.Error = true
		if q.errorType != "" {
			resp.ErrorType = q.errorType
		}
	}
	to := StateInvocationResponse
	if isError {
		to = StateInvocationErrorResponse
	}
	if err := rt.Respond(id, resp); err != nil {
		renderError(w, err, to, resp.TooLarge || resp.Truncated)
		return !resp.TooLarge && !resp.Truncated
	}
	return acknowledge(w, resp)
}

func initError(rt Runtime, q *request, r *bufio.Reader, w *bufio.Writer) bool {
	resp := readResponse(q, r, w)
	resp.Error = true
	resp.ErrorType = q.errorType
	if err := rt.InitError(resp); err != nil {
		renderError(w, err, StateInitError, resp.TooLarge || resp.Truncated)
		return !resp.TooLarge && !resp.Truncated
	}
	return acknowledge(w, resp)
}

// readResponse reads a posted body up to the response limit. aws-lambda-go
// sends chunked bodies and, when reading its handler's result failed, the
// trailers Lambda-Runtime-Function-Error-Type and -Body (base64 JSON): the
// invocation is then an error whose payload is that body.
func readResponse(q *request, r *bufio.Reader, w *bufio.Writer) Response {
	b, res := q.readBody(r, w, lambada.MaxResponsePayload)
	switch res {
	case bodyTruncated:
		return Response{Error: true, Truncated: true, ErrorType: "Runtime.TruncatedResponse", Body: lambada.FunctionFault{Type: "Runtime.TruncatedResponse", Message: "HTTP request detected as truncated"}.Payload()}
	case bodyTooLarge:
		return Response{TooLarge: true}
	}
	if t := q.trailerType; t != "" {
		body, derr := base64.StdEncoding.DecodeString(q.trailerBody)
		if derr != nil || len(body) == 0 {
			body = lambada.FunctionFault{Type: t, Message: "the runtime reported an error while sending its response"}.Payload()
		}
		return Response{Error: true, ErrorType: t, Body: body}
	}
	if b == nil {
		b = []byte{}
	}
	return Response{Body: b}
}

var statusOK = []byte(`{"status":"OK"}` + "\n")

// acknowledge answers a posted response: 202; 413 when its body was too
// large (the invocation has Function.ResponseSizeTooLarge); 400 when it was
// truncated (the invocation has Runtime.TruncatedResponse). After the last
// two the connection closes (and says so): the rest of the body was not
// read.
func acknowledge(w *bufio.Writer, resp Response) bool {
	switch {
	case resp.Truncated:
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated", true)
		return false
	case resp.TooLarge:
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Exceeded maximum allowed payload size ("+strconv.Itoa(lambada.MaxResponsePayload)+" bytes).", true)
		return false
	}
	writeHead(w, http.StatusAccepted, "application/json", len(statusOK))
	endHead(w, statusOK)
	return true
}

// renderError answers a request the Runtime refused; to is the state the
// request would have moved the runtime to; closing: the connection closes
// after the answer.
func renderError(w *bufio.Writer, err error, to string, closing bool) {
	switch {
	case errors.Is(err, ErrInvalidRequestID):
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID", closing)
	case errors.Is(err, ErrInvalidState):
		from := StateRunning
		if se, ok := errors.AsType[*StateError](err); ok {
			from = se.From
		}
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "State transition from "+from+" to "+to+" failed for runtime. Error: State transition is not allowed", closing)
	default: // the environment is stopping
		writeError(w, http.StatusInternalServerError, "Runtime.Unknown", "Container error. Non-recoverable state. Runtime should exit promptly.", closing)
	}
}

// writeError writes an error answer; closing: the connection closes after
// it, which the answer says, so that the client does not send another
// request on it.
func writeError(w *bufio.Writer, status int, typ, msg string, closing bool) {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	b = append(b, '\n')
	writeHead(w, status, "application/json", len(b))
	if closing {
		writeHeader(w, "Connection", "close")
	}
	endHead(w, b)
}
