package lambdaapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lambada-dev/lambada"
)

// wireError is how one lambada error code appears on the wire.
type wireError struct {
	status int
	typ    string // x-amzn-ErrorType
	upper  bool   // body member "Message" rather than "message"
	noType bool   // body has no "Type" member
}

// wire is the one map from domain codes to AWS's error types
// (docs/aws-behaviour.md §1.2).
var wire = map[string]wireError{
	lambada.EVALIDATION:   {status: 400, typ: "ValidationException", noType: true},
	lambada.EINVALID:      {status: 400, typ: "InvalidParameterValueException"},
	lambada.EINVALIDBARE:  {status: 400, typ: "InvalidParameterValueException", noType: true},
	lambada.ECONTENT:      {status: 400, typ: "InvalidRequestContentException"},
	lambada.ENOTFOUND:     {status: 404, typ: "ResourceNotFoundException", upper: true},
	lambada.EACCESSDENIED: {status: 403, typ: "AccessDeniedException", upper: true},
	lambada.ECONFLICT:     {status: 409, typ: "ResourceConflictException"},
	lambada.EPRECONDITION: {status: 412, typ: "PreconditionFailedException"},
	lambada.ETOOLARGE:     {status: 413, typ: "RequestEntityTooLargeException"},
	lambada.ETHROTTLED:    {status: 429, typ: "TooManyRequestsException"},
	lambada.EINTERNAL:     {status: 500, typ: "ServiceException", upper: true},

	lambada.ENOPROVISIONED: {status: 404, typ: "ProvisionedConcurrencyConfigNotFoundException"},
	lambada.EPOLICYLENGTH:  {status: 400, typ: "PolicyLengthExceededException"},
}

// apiError is an error already in wire form, for the few responses that are
// not domain errors (an unknown route).
type apiError struct {
	status int
	typ    string
	body   any
}

func (e *apiError) Error() string { return e.typ }

// writeError renders err. Internal errors are logged and answered with AWS's
// generic ServiceException text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeJSONError(w, ae.status, ae.typ, ae.body)
		return
	}
	code := lambada.ErrorCode(err)
	if code == lambada.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	we, ok := wire[code]
	if !ok {
		we = wire[lambada.EINTERNAL]
	}
	body := map[string]any{}
	msgKey := "message"
	if we.upper {
		msgKey = "Message"
	}
	if msg := lambada.ErrorMessage(err); msg != "" || code != lambada.EACCESSDENIED {
		body[msgKey] = msg
	} else {
		body[msgKey] = nil // AWS's AccessDeniedException may carry a null message
	}
	if !we.noType {
		if code == lambada.EINTERNAL {
			body["Type"] = "Service"
		} else {
			body["Type"] = "User"
		}
	}
	var le *lambada.Error
	if errors.As(err, &le) && le.Reason != "" {
		body["Reason"] = le.Reason
	}
	writeJSONError(w, we.status, we.typ, body)
}

func writeJSONError(w http.ResponseWriter, status int, typ string, body any) {
	w.Header().Set("X-Amzn-Errortype", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeJSON writes v as a JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}
