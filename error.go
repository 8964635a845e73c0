package lambada

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one AWS error type in lambdaapi; the domain never
// speaks HTTP.
const (
	EINTERNAL     = "internal"      // ServiceException
	EINVALID      = "invalid"       // InvalidParameterValueException
	EINVALIDBARE  = "invalid_bare"  // InvalidParameterValueException that AWS sends without "Type"
	EVALIDATION   = "validation"    // ValidationException
	ENOTFOUND     = "not_found"     // ResourceNotFoundException
	ECONFLICT     = "conflict"      // ResourceConflictException
	ECONTENT      = "content"       // InvalidRequestContentException
	ETOOLARGE     = "too_large"     // RequestEntityTooLargeException
	ETHROTTLED    = "throttled"     // TooManyRequestsException
	EPRECONDITION = "precondition"  // PreconditionFailedException
	EACCESSDENIED = "access_denied" // AccessDeniedException

	ENOPROVISIONED = "no_provisioned" // ProvisionedConcurrencyConfigNotFoundException
	EPOLICYLENGTH  = "policy_length"  // PolicyLengthExceededException
)

// Error is the one error type Lambada reports to its users. Message is shown
// verbatim, so it carries AWS's exact text. Reason refines Code: it is set
// only for throttling (e.g. ConcurrentInvocationLimitExceeded) and for a
// queue's invalid receipt handle (ReasonReceiptHandle).
type Error struct {
	Code    string
	Message string
	Reason  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("lambada error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the *Error in err's chain, or a generic
// message for any other error, so that internal details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "An error occurred and the request cannot be processed."
}
