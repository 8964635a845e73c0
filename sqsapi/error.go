package sqsapi

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/lambada-dev/lambada"
)

// wireError is how one SQS error appears in each protocol: the JSON body's
// __type, and the query protocol's code (also sent to JSON clients in
// x-amzn-query-error, from which the SDKs take the code they show).
type wireError struct {
	status   int
	typ      string // JSON __type
	code     string // query protocol <Code>, x-amzn-query-error
	receiver bool   // the fault is the server's
}

// wire is the one table of SQS's error types (their JSON types and query
// codes as SQS sends them: botocore's sqs model for the modelled ones,
// com.amazon.coral.service# for the unmodelled ones).
var wire = map[string]wireError{
	"QueueDoesNotExist":      {400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", false},
	"QueueNameExists":        {400, "com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", false},
	"ReceiptHandleIsInvalid": {400, "com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", false},
	"InvalidAttributeName":   {400, "com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", false},
	"InvalidAttributeValue":  {400, "com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", false},
	"UnsupportedOperation":   {400, "com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", false},
	"InvalidParameterValue":  {400, "com.amazon.coral.service#InvalidParameterValueException", "InvalidParameterValue", false},
	"MissingParameter":       {400, "com.amazon.coral.service#MissingParameter", "MissingParameter", false},
	"InvalidAction":          {400, "com.amazon.coral.service#InvalidAction", "InvalidAction", false},
	"AccessDenied":           {403, "com.amazon.coral.service#AccessDeniedException", "AccessDenied", false},
	// A request's signature (AWS's common errors of query-protocol services).
	"MissingAuthenticationToken": {403, "com.amazon.coral.service#MissingAuthenticationTokenException", "MissingAuthenticationToken", false},
	"InvalidClientTokenId":       {403, "com.amazon.coral.service#UnrecognizedClientException", "InvalidClientTokenId", false},
	"SignatureDoesNotMatch":      {403, "com.amazon.coral.service#InvalidSignatureException", "SignatureDoesNotMatch", false},
	"IncompleteSignature":        {400, "com.amazon.coral.service#IncompleteSignatureException", "IncompleteSignature", false},
	"InternalFailure":            {500, "com.amazon.coral.service#InternalFailure", "InternalFailure", true},
}

// byCode names the SQS error of each domain code.
var byCode = map[string]string{
	lambada.ENOTFOUND:     "QueueDoesNotExist",
	lambada.ECONFLICT:     "QueueNameExists",
	lambada.EINVALID:      "InvalidParameterValue",
	lambada.EACCESSDENIED: "AccessDenied",
}

// signatureErrors names the SQS error of each error type a request's
// signature may get (as the Lambda API names them).
var signatureErrors = map[string]string{
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"IncompleteSignatureException":        "IncompleteSignature",
}

// WriteSignatureError answers r, when it is an SQS request, with the SQS
// form of a signature's error (typ as the Lambda API names it), and
// reports whether it did.
func (s *Server) WriteSignatureError(w http.ResponseWriter, r *http.Request, typ, message string) bool {
	req, ok := s.recognise(r)
	name, known := signatureErrors[typ]
	if !ok || !known {
		return false
	}
	id := uuid.NewString()
	w.Header().Set("X-Amzn-Requestid", id)
	s.writeError(w, req, id, &apiError{name: name, message: message})
	return true
}

// apiError is an SQS error that has no domain code (a protocol matter).
type apiError struct {
	name    string // a key of wire
	message string
}

func (e *apiError) Error() string { return e.name + ": " + e.message }

func wireErrorf(name, format string, args ...any) error {
	return &apiError{name: name, message: fmt.Sprintf(format, args...)}
}

func missing(param string) error {
	return wireErrorf("MissingParameter", "The request must contain the parameter %s.", param)
}

// invalidValue is SQS's message for an out-of-range request parameter.
func invalidValue(param string, value int, reason string) error {
	return lambada.Errorf(lambada.EINVALID, "Value %d for parameter %s is invalid. Reason: %s", value, param, reason)
}

// writeError renders err in req's protocol. Internal errors are logged and
// answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, req *request, requestID string, err error) {
	name, message := "InternalFailure", "An internal error occurred. Please retry your request."
	var ae *apiError
	var le *lambada.Error
	switch {
	case errors.As(err, &ae):
		name, message = ae.name, ae.message
	case errors.As(err, &le) && le.Reason == lambada.ReasonReceiptHandle:
		name, message = "ReceiptHandleIsInvalid", le.Message
	case errors.As(err, &le) && byCode[le.Code] != "":
		name, message = byCode[le.Code], le.Message
	default:
		s.Logger.Error("internal error", "action", req.action, "err", err)
	}
	we := wire[name]
	fault := "Sender"
	if we.receiver {
		fault = "Receiver"
	}
	if req.protocol == protocolQuery {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(we.status)
		type xmlError struct {
			Type    string
			Code    string
			Message string
			Detail  string
		}
		_ = writeXMLDoc(w, struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			XMLNS     string   `xml:"xmlns,attr"`
			Error     xmlError
			RequestID string `xml:"RequestId"`
		}{XMLNS: xmlns, Error: xmlError{Type: fault, Code: we.code, Message: message}, RequestID: requestID})
		return
	}
	w.Header().Set("X-Amzn-Query-Error", we.code+";"+fault)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(we.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": we.typ, "message": message})
}
