package facematch

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes: the one vocabulary of failures that the HTTP layer maps to statuses and bodies.
const (
	EINTERNAL    = "internal"           // a bug or an outage; details are logged, never shown
	EINVALID     = "invalid"            // the request is malformed (FM-VAL-*)
	ENOTFOUND    = "not_found"          // no such thing visible to the caller (FM-SES-3)
	EPERMISSION  = "permission"         // missing, unknown or revoked key, or a bad signature (FM-AUTH-1)
	ENOCREDITS   = "not_enough_credits" // the organization's balance is zero (FM-BILL-1)
	ETHROTTLED   = "throttled"          // over the rate limit (FM-RL-1)
	EUNAVAILABLE = "unavailable"        // the service is shutting down or not ready
)

// Error is a domain error. Op names the operation that failed (a store or matcher method, e.g.
// "sqlite.ReserveCredit"), Err the cause it wraps; both are for logs and never reach a client.
// Code and Message are what the HTTP layer answers; Fields carries field-keyed messages for
// EINVALID (FM-VAL-1); RetryAfter is set for ETHROTTLED. An Error that only adds an Op to a cause
// leaves Code empty and takes the cause's. The model is upspin's errors.E and WTF's Error.
type Error struct {
	Op         string
	Code       string
	Message    string
	Fields     map[string][]string
	RetryAfter time.Duration
	Err        error
}

// Error describes e for logs: the operation, the code, the message or fields, and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
	}
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	if e.Code != "" {
		add("code=" + e.Code)
	}
	if len(e.Fields) > 0 {
		add(fmt.Sprintf("fields=%v", e.Fields))
	} else if e.Message != "" {
		add(e.Message)
	}
	if e.Err != nil {
		add(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so that errors.Is and errors.As see through e.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapOp records that err happened in op: nil stays nil; anything else becomes an *Error with
// that Op wrapping err, keeping err's code and message.
func WrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Err: err}
}

// ErrorCode returns the first code found along err's chain of *Error, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for e := range chain(err) {
		if e.Code != "" {
			return e.Code
		}
	}
	return EINTERNAL
}

// Coded returns the first *Error along err's chain that carries a code: the one a client is
// answered with.
func Coded(err error) (*Error, bool) {
	for e := range chain(err) {
		if e.Code != "" {
			return e, true
		}
	}
	return nil, false
}

// ErrorMessage returns the first message found along err's chain of *Error, or a generic one that
// reveals nothing.
func ErrorMessage(err error) string {
	for e := range chain(err) {
		if e.Code != "" {
			return e.Message
		}
	}
	return "Internal error."
}

// ErrorOp returns the operations err passed through, outermost first, joined by " > ", or "" when
// none was recorded.
func ErrorOp(err error) string {
	var ops []string
	for e := range chain(err) {
		if e.Op != "" {
			ops = append(ops, e.Op)
		}
	}
	return strings.Join(ops, " > ")
}

// chain yields the *Error values along err's chain of causes, outermost first.
func chain(err error) func(yield func(*Error) bool) {
	return func(yield func(*Error) bool) {
		for err != nil {
			var e *Error
			if !errors.As(err, &e) || !yield(e) {
				return
			}
			err = e.Err
		}
	}
}

// FieldErrors collects validation messages per field, in the shape of FM-VAL-1.
type FieldErrors map[string][]string

// Add records msg for field.
func (f FieldErrors) Add(field, msg string) {
	f[field] = append(f[field], msg)
}

// Err returns an EINVALID *Error holding the messages, or nil when there are none.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Invalid input.", Fields: f}
}

// ImageError reports a submitted image that could not be used although its header passed
// validation: its pixels do not decode. Field names the form field, user_image or ref_image.
type ImageError struct {
	Field string
	Err   error
}

func (e *ImageError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *ImageError) Unwrap() error { return e.Err }
