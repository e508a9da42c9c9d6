package facematch

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Errors carry the operation that failed and wrap their cause: the code and message a client
// sees come from the innermost coded error, the log line names every operation and the cause.
func TestErrorOpAndCause(t *testing.T) {
	cause := errors.New("database is locked")
	for _, c := range []struct {
		name             string
		err              error
		code, msg, op    string
		isCause          bool
		logHas           []string
		codedFieldsCount int
	}{
		{"nil", nil, "", "Internal error.", "", false, nil, 0},
		{"plain", cause, EINTERNAL, "Internal error.", "", true, []string{"database is locked"}, 0},
		{"op around a plain cause", WrapOp("sqlite.ReserveCredit", cause), EINTERNAL, "Internal error.", "sqlite.ReserveCredit", true,
			[]string{"sqlite.ReserveCredit", "database is locked"}, 0},
		{"op around a coded error", WrapOp("sqlite.Session", Errorf(ENOTFOUND, "Not found.")), ENOTFOUND, "Not found.", "sqlite.Session", false,
			[]string{"sqlite.Session", "not_found"}, 0},
		{"two ops", WrapOp("server.liveFaceMatch", WrapOp("sqlite.CreateSession", cause)), EINTERNAL, "Internal error.",
			"server.liveFaceMatch > sqlite.CreateSession", true, []string{"server.liveFaceMatch", "sqlite.CreateSession", "database is locked"}, 0},
		{"fields", WrapOp("check", FieldErrors{"user_image": {"This field is required."}}.Err()), EINVALID, "Invalid input.", "check", false,
			[]string{"user_image"}, 1},
		{"context", WrapOp("matcher.Match", context.Canceled), EINTERNAL, "Internal error.", "matcher.Match", false, []string{"canceled"}, 0},
	} {
		if got := ErrorCode(c.err); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
		if got := ErrorMessage(c.err); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.name, got, c.msg)
		}
		if got := ErrorOp(c.err); got != c.op {
			t.Errorf("%s: op %q, want %q", c.name, got, c.op)
		}
		if errors.Is(c.err, cause) != c.isCause {
			t.Errorf("%s: errors.Is(cause) = %v", c.name, !c.isCause)
		}
		if c.err == nil {
			continue
		}
		for _, s := range c.logHas {
			if !strings.Contains(c.err.Error(), s) {
				t.Errorf("%s: %q lacks %q", c.name, c.err.Error(), s)
			}
		}
		if e, ok := Coded(c.err); ok != (c.code != EINTERNAL) || ok && len(e.Fields) != c.codedFieldsCount {
			t.Errorf("%s: Coded = %+v, %v", c.name, e, ok)
		}
	}
	if !errors.Is(WrapOp("matcher.Match", context.Canceled), context.Canceled) {
		t.Error("a wrapped context error is not context.Canceled")
	}
	if WrapOp("x", nil) != nil {
		t.Error("WrapOp of nil is not nil")
	}
}
