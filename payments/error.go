package payments

import (
	"errors"
	"fmt"
)

// Error codes: few and coarse. Only the HTTP layer maps them to status codes.
const (
	EINVALID      = "invalid"      // the request is wrong; do not retry it unchanged
	EUNAUTHORIZED = "unauthorized" // the request carries no credential to identify its sender
	EFORBIDDEN    = "forbidden"    // the credential is unknown, or may not do this
	ENOTFOUND     = "not_found"    // no such resource
	ECONFLICT     = "conflict"     // the request contradicts an earlier one
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later with the same Idempotency-Key
	EINTERNAL     = "internal"     // a bug; details are logged, never shown
)

// Error is an error meant for the client: a code, a stable machine-readable
// reason (e.g. "amount_not_positive") and a human-readable message.
type Error struct {
	Code    string
	Reason  string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("payments: %s (%s): %s", e.Code, e.Reason, e.Message)
}

// Errorf returns an *Error.
func Errorf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of an *Error it wraps, else
// EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
