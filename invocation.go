package lambada

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// InvocationType says how the caller waits for an invocation.
type InvocationType string

const (
	RequestResponse InvocationType = "RequestResponse" // synchronous: run once, answer with the result
	Event           InvocationType = "Event"           // asynchronous: queue, run at least once
	DryRun          InvocationType = "DryRun"          // validate and authorise only
)

// LogType says whether a synchronous caller wants the log tail.
type LogType string

const (
	LogNone LogType = "None"
	LogTail LogType = "Tail"
)

// Limits of an invocation, in bytes.
const (
	MaxSyncPayload       = 6291456 // request body of a synchronous invocation
	MaxAsyncPayload      = 1048576 // request body of an Event invocation
	MaxResponsePayload   = 6291556 // what a runtime may answer
	MaxClientContext     = 3583    // base64 text of X-Amz-Client-Context
	LogTailSize          = 4096    // X-Amz-Log-Result, before base64
	UnhandledFunctionErr = "Unhandled"
)

// ParseInvocationType validates the X-Amz-Invocation-Type and X-Amz-Log-Type
// header values (empty means the default), adding violations to v.
func ParseInvocationType(v *Validation, invocationType, logType string) (InvocationType, LogType) {
	it, lt := RequestResponse, LogNone
	switch InvocationType(invocationType) {
	case "":
	case RequestResponse, Event, DryRun:
		it = InvocationType(invocationType)
	default:
		v.Add(invocationType, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	switch LogType(logType) {
	case "":
	case LogNone, LogTail:
		lt = LogType(logType)
	default:
		v.Add(logType, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	return it, lt
}

// DecodeClientContext turns the X-Amz-Client-Context header (base64 of a JSON
// object, at most 3583 bytes) into the JSON text a runtime receives.
func DecodeClientContext(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	bad := Errorf(ECONTENT, "Client context must be a valid Base64-encoded JSON object.")
	if len(s) > MaxClientContext {
		return nil, bad
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, bad
	}
	return b, nil
}

// emptyEvent is what a function receives when invoked with no payload.
var emptyEvent = []byte("{}")

// CheckPayload validates an invocation's body, which must be JSON (any JSON
// value), and returns the event the function receives: the body itself, or
// {} when it is empty. The error text mimics AWS's Jackson parser; clients key
// only on the InvalidRequestContentException code.
func CheckPayload(b []byte) ([]byte, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return emptyEvent, nil
	}
	if json.Valid(b) {
		return b, nil
	}
	return nil, Errorf(ECONTENT, "Could not parse request body into json: Could not parse payload into json: %s", jacksonReason(b))
}

// jacksonReason describes the first fault in b the way AWS's parser does.
func jacksonReason(b []byte) string {
	var off int
	if i := firstInvalidUTF8(b); i >= 0 {
		line, col := position(b, i)
		return fmt.Sprintf("Invalid UTF-8 start byte 0x%02x\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: %d, column: %d]", b[i], line, col+1)
	}
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) && !strings.Contains(se.Error(), "unexpected end") {
		off = int(se.Offset) - 1
	} else {
		off = len(b)
	}
	if off < 0 || off >= len(b) {
		line, col := position(b, len(b))
		return fmt.Sprintf("Unexpected end-of-input\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: %d, column: %d]", line, col)
	}
	line, col := position(b, off)
	c := b[off]
	desc := fmt.Sprintf("'%c' (code %d)", c, c)
	if c < 0x20 || c == 0x7f {
		desc = fmt.Sprintf("(CTRL-CHAR, code %d)", c)
	}
	return fmt.Sprintf("Unexpected character (%s): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: %d, column: %d]", desc, line, col+1)
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// position returns the 1-based line and 0-based column of offset off in b.
func position(b []byte, off int) (line, col int) {
	line = 1 + bytes.Count(b[:off], []byte{'\n'})
	col = off - (bytes.LastIndexByte(b[:off], '\n') + 1)
	return line, col
}

// Invocation is one delivery of an event to a function version.
type Invocation struct {
	RequestID     string
	Type          InvocationType
	LogType       LogType
	InvokedARN    string // the ARN as invoked: unqualified, version or alias
	Payload       []byte // the event, already checked
	ClientContext []byte // decoded JSON, synchronous invocations only

	// Slot is the concurrency the invocation was admitted with (see
	// Concurrency.Admit). Whoever admitted it releases it, once the
	// execution environment reports that it is done with the invocation.
	Slot Slot
}

// Result is what a synchronous invocation answers.
type Result struct {
	Payload         []byte
	FunctionError   string // "" or "Unhandled"
	ExecutedVersion string
	LogTail         []byte // the last LogTailSize bytes of the invocation's log, when asked
}

// FunctionFault is a platform-detected failure of an invocation, reported to
// the caller as the function's error payload (200, Unhandled).
type FunctionFault struct {
	Type    string // e.g. Sandbox.Timedout, Runtime.ExitError
	Message string // e.g. "RequestId: <id> Error: Task timed out after 3.00 seconds"
}

// Payload renders f as {"errorType":…,"errorMessage":…}.
func (f FunctionFault) Payload() []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{f.Type, f.Message})
	return b
}

// Fault returns the FunctionFault AWS reports for a platform failure of
// request id: "RequestId: <id> Error: <msg>".
func Fault(errorType, requestID, msg string) FunctionFault {
	return FunctionFault{Type: errorType, Message: "RequestId: " + requestID + " Error: " + msg}
}

// ResponseTooLarge is the fault for a runtime response over MaxResponsePayload.
var ResponseTooLarge = FunctionFault{
	Type:    "Function.ResponseSizeTooLarge",
	Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponsePayload),
}
