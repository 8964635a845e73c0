package sigv4

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Gate checks the signature of every request before Next sees it.
type Gate struct {
	Next    http.Handler
	Secrets Secrets
	Region  string
	// Service is the service a request must be signed for (each API on
	// the listener is its own: a signature for another is refused).
	Service func(*http.Request) string
	Exempt  func(*http.Request) bool // requests that carry no signature of this kind (nil: none)
	MaxBody int64                    // the largest body read to check its hash
	Now     func() time.Time         // time.Now when nil
	// Refuse answers a request refused; nil: in the Lambda API's JSON.
	Refuse func(http.ResponseWriter, *http.Request, *Error)
}

type callerKey struct{}

// Caller is the access key id of the request's signature (Gate puts it in
// the request's context), or "".
func Caller(ctx context.Context) string {
	id, _ := ctx.Value(callerKey{}).(string)
	return id
}

// WithCaller returns ctx with the access key id of a request's signature.
func WithCaller(ctx context.Context, accessKeyID string) context.Context {
	return context.WithValue(ctx, callerKey{}, accessKeyID)
}

// ServeHTTP implements http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.Exempt != nil && g.Exempt(r) {
		g.Next.ServeHTTP(w, r)
		return
	}
	if r.ContentLength > g.MaxBody {
		g.refuse(w, r, &Error{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request must be smaller than " + strconv.FormatInt(g.MaxBody, 10) + " bytes"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.MaxBody+1))
	if err != nil {
		g.refuse(w, r, &Error{http.StatusBadRequest, "InvalidRequestContentException", "Could not read request body: " + err.Error()})
		return
	}
	if int64(len(body)) > g.MaxBody {
		g.refuse(w, r, &Error{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request must be smaller than " + strconv.FormatInt(g.MaxBody, 10) + " bytes"})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	a, perr := parseRequest(r)
	if perr != nil {
		g.refuse(w, r, perr)
		return
	}
	id, verr := verify(r, a, body, g.Secrets, g.Region, g.Service(r), now())
	if verr != nil {
		g.refuse(w, r, verr)
		return
	}
	g.Next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), id)))
}

// refuse answers r with e.
func (g *Gate) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	if g.Refuse != nil {
		g.Refuse(w, r, e)
		return
	}
	WriteError(w, e)
}

// WriteError answers an authentication failure in the JSON AWS's Lambda
// API answers it with.
func WriteError(w http.ResponseWriter, e *Error) {
	w.Header().Set("X-Amzn-Errortype", e.Type)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
}
