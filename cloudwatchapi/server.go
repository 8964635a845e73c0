// Package cloudwatchapi serves the CloudWatch API's subset that reads
// Lambda's metrics (the AWS/Lambda namespace) on the Lambda API's endpoint:
// GetMetricStatistics, GetMetricData and ListMetrics, in the two protocols
// CloudWatch's clients speak today: AWS JSON 1.0 (X-Amz-Target:
// GraniteServiceVersion20100801.<Operation>; the AWS CLI v1) and Smithy RPC
// v2 CBOR (POST /service/GraniteServiceVersion20100801/operation/<Operation>;
// newer SDKs). It owns the wire (both encodings, statistics, errors); the
// data points are kept by metrics.History.
package cloudwatchapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/metrics"
)

// pathPrefix starts the path of every request of the RPC v2 protocol;
// targetPrefix the X-Amz-Target of every request of the JSON one.
const (
	pathPrefix   = "/service/GraniteServiceVersion20100801/operation/"
	targetPrefix = "GraniteServiceVersion20100801."
)

const maxRequest = 1 << 20

// History answers queries of data points (metrics.History).
type History interface {
	Query(q metrics.MetricQuery) []metrics.Datapoint
	Metrics(account string) []metrics.Metric
}

// Authorizer decides whether the caller of a request may perform an action
// (cloudwatch:GetMetricData, …) on "*": nil, or an EACCESSDENIED error.
type Authorizer interface {
	Authorize(ctx context.Context, action, resource, policy string) error
	Account(ctx context.Context) string
}

// Server answers the CloudWatch API.
type Server struct {
	History    History
	Authorizer Authorizer // when set, decides every request
	Account    string     // the node's own
	Logger     *slog.Logger
}

type request struct {
	ctx     context.Context
	action  string
	account string // the caller's
	body    []byte
	json    bool // AWS JSON 1.0, not CBOR
}

var operations = map[string]func(*Server, *request) (any, error){
	"GetMetricStatistics": (*Server).getMetricStatistics,
	"GetMetricData":       (*Server).getMetricData,
	"ListMetrics":         (*Server).listMetrics,
}

// Recognises reports whether r is a CloudWatch request.
func (s *Server) Recognises(r *http.Request) bool {
	_, _, ok := recognise(r)
	return ok
}

// recognise returns r's operation and whether it is in JSON.
func recognise(r *http.Request) (action string, json, ok bool) {
	if a, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix); ok {
		return a, true, true
	}
	if a, ok := strings.CutPrefix(r.URL.Path, pathPrefix); ok && r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
		return a, false, true
	}
	return "", false, false
}

var (
	encMode, _ = cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	decMode, _ = cbor.DecOptions{}.DecMode()
)

// Mount returns a handler that serves CloudWatch requests and passes every
// other request to next.
func (s *Server) Mount(next http.Handler) http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Recognises(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("X-Amzn-Requestid", uuid.NewString())
		_, inJSON, _ := recognise(r)
		if !inJSON {
			w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		}
		out, err := s.run(r)
		if err == nil {
			var body []byte
			if body, err = marshal(inJSON, out); err == nil {
				w.Header().Set("Content-Type", contentType(inJSON))
				_, _ = w.Write(body)
				return
			}
		}
		s.writeError(w, inJSON, err)
	})
}

func contentType(inJSON bool) string {
	if inJSON {
		return "application/x-amz-json-1.0"
	}
	return "application/cbor"
}

func marshal(inJSON bool, v any) ([]byte, error) {
	if inJSON {
		return json.Marshal(v)
	}
	return encMode.Marshal(v)
}

func (s *Server) run(r *http.Request) (any, error) {
	action, inJSON, _ := recognise(r)
	op, ok := operations[action]
	if !ok || r.Method != http.MethodPost {
		return nil, &apiError{typ: "UnknownOperationException", status: http.StatusNotFound}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		return nil, err
	}
	req := &request{ctx: r.Context(), action: action, account: s.Account, body: body, json: inJSON}
	if s.Authorizer != nil {
		req.account = cmp.Or(s.Authorizer.Account(r.Context()), s.Account)
		if err := s.Authorizer.Authorize(r.Context(), "cloudwatch:"+action, "*", ""); err != nil {
			return nil, err
		}
	}
	return op(s, req)
}

// decode reads req's body into v.
func (req *request) decode(v any) error {
	if len(bytes.TrimSpace(req.body)) == 0 {
		return nil
	}
	unmarshal := decMode.Unmarshal
	if req.json {
		unmarshal = json.Unmarshal
	}
	if err := unmarshal(req.body, v); err != nil {
		return &apiError{typ: "SerializationException", code: "SerializationException", message: err.Error()}
	}
	return nil
}

// function is the key of the function a FunctionName dimension of the
// caller's account names.
func (s *Server) function(req *request, name string) string {
	return lambada.AccountKey(s.Account, req.account, name)
}

// stored is the account the caller's functions are stored under: "" for
// the node's own.
func (s *Server) stored(req *request) string {
	if req.account == s.Account {
		return ""
	}
	return req.account
}

// apiError is a CloudWatch error: its type (the shape's name), its query
// code (what the AWS CLI shows: CloudWatch is compatible with its query
// protocol) and message.
type apiError struct {
	typ, code, message string
	status             int
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalidValue(format string, v ...any) error {
	return &apiError{typ: "InvalidParameterValueException", code: "InvalidParameterValue", message: fmt.Sprintf(format, v...)}
}

func invalidCombination(format string, v ...any) error {
	return &apiError{typ: "InvalidParameterCombinationException", code: "InvalidParameterCombination", message: fmt.Sprintf(format, v...)}
}

func missing(member string) error {
	return &apiError{typ: "MissingRequiredParameterException", code: "MissingParameter", message: "The parameter " + member + " is required."}
}

// writeError answers err in JSON or CBOR, with its query code in
// x-amzn-query-error.
func (s *Server) writeError(w http.ResponseWriter, inJSON bool, err error) {
	var e *apiError
	switch {
	case errors.As(err, &e):
	case lambada.ErrorCode(err) == lambada.EACCESSDENIED:
		e = &apiError{typ: "AccessDeniedException", code: "AccessDenied", message: lambada.ErrorMessage(err), status: http.StatusForbidden}
	default:
		s.Logger.Error("cloudwatch request failed", "err", err)
		e = &apiError{typ: "InternalServiceFault", code: "InternalServiceError", message: "Internal service error.", status: http.StatusInternalServerError}
	}
	status := cmp.Or(e.status, http.StatusBadRequest)
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	if e.code != "" {
		w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	}
	w.Header().Set("Content-Type", contentType(inJSON))
	w.WriteHeader(status)
	body, _ := marshal(inJSON, map[string]string{"__type": "com.amazonaws.cloudwatch#" + e.typ, "message": e.message})
	_, _ = w.Write(body)
}

// WriteSignatureError answers r, when it is a CloudWatch request, with a
// signature's error (typ as the Lambda API names it), and reports whether
// it did.
func (s *Server) WriteSignatureError(w http.ResponseWriter, r *http.Request, typ, message string) bool {
	if !s.Recognises(r) {
		return false
	}
	code := strings.TrimSuffix(typ, "Exception")
	if typ == "UnrecognizedClientException" {
		code = "InvalidClientTokenId"
	}
	if typ == "InvalidSignatureException" {
		code = "SignatureDoesNotMatch"
	}
	_, inJSON, _ := recognise(r)
	s.writeError(w, inJSON, &apiError{typ: typ, code: code, message: message, status: http.StatusForbidden})
	return true
}

// timestamp is a time on the wire: epoch seconds (a number) in JSON, or
// ISO 8601 text; tag 1 in CBOR.
type timestamp struct{ time.Time }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err == nil {
		t.Time = time.Unix(0, int64(secs*1e9)).UTC()
		return nil
	}
	return json.Unmarshal(b, &t.Time)
}

func (t timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(t.UnixMilli()) / 1000)
}

func (t *timestamp) UnmarshalCBOR(b []byte) error { return decMode.Unmarshal(b, &t.Time) }

func (t timestamp) MarshalCBOR() ([]byte, error) { return encMode.Marshal(t.Time) }
