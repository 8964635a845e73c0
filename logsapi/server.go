// Package logsapi serves the CloudWatch Logs API's subset that reads
// function logs (the AWS JSON 1.1 protocol, X-Amz-Target:
// Logs_20140328.<Operation>) on the Lambda API's endpoint, so that the AWS
// CLI and the SDKs read what functions print: log groups and their
// retention, log streams, and their events (GetLogEvents, FilterLogEvents
// with filter patterns). It owns the wire (requests, tokens, errors) and
// the filter patterns; the events are kept by a store (jetstream.Logs).
package logsapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lambada-dev/lambada"
)

// targetPrefix starts the X-Amz-Target of every Logs request.
const targetPrefix = "Logs_20140328."

// maxRequest bounds a request's body.
const maxRequest = 1 << 20

// Groups keeps log groups (jetstream.Logs).
type Groups interface {
	CreateGroup(ctx context.Context, g lambada.LogGroup) error // ECONFLICT if it exists
	DeleteGroup(ctx context.Context, account, name string) error
	SetRetention(ctx context.Context, account, name string, days int) error
}

// GroupReader reads log groups (jetstream.Logs).
type GroupReader interface {
	Group(ctx context.Context, account, name string) (*lambada.LogGroup, error) // ENOTFOUND if none
	Groups(ctx context.Context, account string) ([]lambada.LogGroup, error)     // sorted by name
}

// Events reads the streams and events of a log group (jetstream.Logs).
type Events interface {
	Streams(ctx context.Context, account, group string) ([]lambada.LogStream, error)
	// Scan calls fn with the events of s in the order they were stored,
	// until fn returns false or none is left.
	Scan(ctx context.Context, s lambada.LogScan, fn func(lambada.LogEvent) bool) error
}

// Authorizer decides whether the caller of a request (in its context) may
// perform an IAM action (logs:GetLogEvents, …) on a resource (a log group's
// ARN): nil, or an EACCESSDENIED error with AWS's message.
type Authorizer interface {
	Authorize(ctx context.Context, action, resource, policy string) error
	// Account is the caller's account.
	Account(ctx context.Context) string
}

// Server answers the Logs API.
type Server struct {
	Groups      Groups
	GroupReader GroupReader
	Events      Events
	// Authorizer, when set, decides every request.
	Authorizer Authorizer
	Region     string
	Account    string
	Logger     *slog.Logger
	Now        func() time.Time
}

// request is one Logs request being served.
type request struct {
	ctx     context.Context
	action  string
	account string // the caller's
	body    []byte
}

type operation func(s *Server, req *request) (any, error)

// operations are the operations served, by name.
var operations = map[string]operation{
	"CreateLogGroup":        (*Server).createLogGroup,
	"DeleteLogGroup":        (*Server).deleteLogGroup,
	"DescribeLogGroups":     (*Server).describeLogGroups,
	"PutRetentionPolicy":    (*Server).putRetentionPolicy,
	"DeleteRetentionPolicy": (*Server).deleteRetentionPolicy,
	"DescribeLogStreams":    (*Server).describeLogStreams,
	"GetLogEvents":          (*Server).getLogEvents,
	"FilterLogEvents":       (*Server).filterLogEvents,
}

// Recognises reports whether r is a Logs request.
func (s *Server) Recognises(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
}

// Mount returns a handler that serves Logs requests and passes every other
// request to next.
func (s *Server) Mount(next http.Handler) http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Recognises(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("X-Amzn-Requestid", uuid.NewString())
		if r.Header.Get("X-Amz-Target") == targetPrefix+"StartLiveTail" {
			req, err := s.request(r)
			if err == nil {
				err = s.startLiveTail(w, r, req)
			}
			if err != nil {
				s.writeError(w, err)
			}
			return
		}
		out, err := s.run(r)
		if err != nil {
			s.writeError(w, err)
			return
		}
		body := []byte("{}")
		if out != nil {
			if body, err = json.Marshal(out); err != nil {
				s.writeError(w, err)
				return
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(body)
	})
}

func (s *Server) run(r *http.Request) (any, error) {
	req, err := s.request(r)
	if err != nil {
		return nil, err
	}
	op, ok := operations[req.action]
	if !ok {
		return nil, &apiError{"UnknownOperationException", ""}
	}
	return op(s, req)
}

// request reads r: its operation, body and caller.
func (s *Server) request(r *http.Request) (*request, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{"UnknownOperationException", ""}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	req := &request{ctx: r.Context(), action: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix), account: s.Account, body: body}
	if s.Authorizer != nil {
		req.account = cmp.Or(s.Authorizer.Account(r.Context()), s.Account)
	}
	return req, nil
}

// decode reads req's body into v.
func (req *request) decode(v any) error {
	if err := json.Unmarshal(req.body, v); err != nil {
		return &apiError{"SerializationException", ""}
	}
	return nil
}

// authorize asks the Authorizer whether the caller may perform req's
// action on group ("": on every group of the caller's account).
func (s *Server) authorize(req *request, group string) error {
	if s.Authorizer == nil {
		return nil
	}
	resource := s.groupARN(req.account, cmp.Or(group, "*"))
	if group != "" {
		resource += ":*"
	}
	return s.Authorizer.Authorize(req.ctx, "logs:"+req.action, resource, "")
}

// groupARN is the ARN of account's group, without the trailing :*.
func (s *Server) groupARN(account, group string) string {
	return "arn:aws:logs:" + s.Region + ":" + account + ":log-group:" + group
}

// stored is the account a group of the caller's account is stored under:
// "" for the node's own.
func (s *Server) stored(req *request) string {
	if req.account == s.Account {
		return ""
	}
	return req.account
}

// apiError is a Logs error: its type and message.
type apiError struct {
	typ, message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

// The errors of the Logs API that carry AWS's messages.
var (
	errNoGroup  = &apiError{"ResourceNotFoundException", "The specified log group does not exist."}
	errNoStream = &apiError{"ResourceNotFoundException", "The specified log stream does not exist."}
	errExists   = &apiError{"ResourceAlreadyExistsException", "The specified log group already exists"}
	errToken    = &apiError{"InvalidParameterException", "The specified nextToken is invalid."}
)

func invalid(message string) error { return &apiError{"InvalidParameterException", message} }

// WriteSignatureError answers r, when it is a Logs request, with a
// signature's error (typ as the Lambda API names it:
// InvalidSignatureException, …) as the AWS JSON 1.1 protocol carries it,
// and reports whether it did. The status is 400, as JSON services answer
// them.
func (s *Server) WriteSignatureError(w http.ResponseWriter, r *http.Request, typ, message string) bool {
	if !s.Recognises(r) {
		return false
	}
	s.writeError(w, &apiError{typ, message})
	return true
}

// writeError answers err: an apiError as it is, a domain error by its code,
// anything else as a ServiceUnavailableException whose cause is logged.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &e):
	case lambada.ErrorCode(err) == lambada.EACCESSDENIED:
		e, status = &apiError{"AccessDeniedException", lambada.ErrorMessage(err)}, http.StatusBadRequest
	default:
		s.Logger.Error("logs request failed", "err", err)
		e, status = &apiError{"ServiceUnavailableException", "The service cannot complete the request."}, http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", e.typ)
	w.WriteHeader(status)
	body := map[string]string{"__type": e.typ}
	if e.message != "" {
		body["message"] = e.message
	}
	_ = json.NewEncoder(w).Encode(body)
}
