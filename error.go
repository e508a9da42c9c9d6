package facematch

import (
	"errors"
	"fmt"
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

// Error is a domain error. Fields carries field-keyed messages for EINVALID (FM-VAL-1);
// RetryAfter is set for ETHROTTLED.
type Error struct {
	Code       string
	Message    string
	Fields     map[string][]string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("facematch error: code=%s fields=%v", e.Code, e.Fields)
	}
	return fmt.Sprintf("facematch error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other non-nil error, and "" for
// nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err's *Error, or a generic one that reveals nothing.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
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
