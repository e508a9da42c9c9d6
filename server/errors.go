package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/facematch/facematch"
)

// errorAnswers is the one table from domain error codes to HTTP answers. Anything not in it is
// an internal error: logged with the request id, answered with a body that reveals nothing.
var errorAnswers = map[string]struct {
	status int
	body   func(e *facematch.Error) any
}{
	facematch.EINVALID: {http.StatusBadRequest, func(e *facematch.Error) any {
		if len(e.Fields) > 0 {
			return e.Fields
		}
		return map[string][]string{"non_field_errors": {e.Message}}
	}},
	facematch.EPERMISSION: {http.StatusForbidden, func(*facematch.Error) any {
		return map[string]string{"detail": "You do not have permission to perform this action."}
	}},
	facematch.ENOCREDITS: {http.StatusForbidden, func(*facematch.Error) any {
		return map[string]string{"detail": "You do not have enough credits to perform this action.", "error": "not-enough-credits"}
	}},
	facematch.ENOTFOUND: {http.StatusNotFound, func(*facematch.Error) any {
		return map[string]string{"detail": "Not found."}
	}},
	facematch.ETHROTTLED: {http.StatusTooManyRequests, func(e *facematch.Error) any {
		return map[string]string{"detail": fmt.Sprintf("Request was throttled. Expected available in %d seconds.", retryAfterSeconds(e.RetryAfter))}
	}},
	facematch.EUNAVAILABLE: {http.StatusServiceUnavailable, func(e *facematch.Error) any {
		if e.Message != "" {
			return map[string]string{"detail": e.Message}
		}
		return map[string]string{"detail": "Service temporarily unavailable, try again later."}
	}},
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// writeError answers err.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := facematch.Coded(err); ok {
		if a, ok := errorAnswers[e.Code]; ok {
			// Over the rate limit, and a live call refused for want of a worker (admitLive).
			if e.Code == facematch.ETHROTTLED || (e.Code == facematch.EUNAVAILABLE && e.RetryAfter > 0) {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
			}
			writeJSON(w, a.status, a.body(e))
			return
		}
	}
	if isCanceled(err) {
		s.cfg.Logger.Info("request canceled", slog.String("request_id", requestIDFrom(r.Context())), slog.String("error", err.Error()))
		w.WriteHeader(499) // the client went away; nobody reads this
		return
	}
	s.cfg.Logger.Error("internal error", slog.String("request_id", requestIDFrom(r.Context())),
		slog.String("op", facematch.ErrorOp(err)), slog.String("error", err.Error()))
	writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "A server error occurred."})
}

// methodNotAllowed answers a known path asked with another method.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": fmt.Sprintf("Method %q not allowed.", r.Method)})
}

// writeJSON writes v as the JSON body of an answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"detail": "A server error occurred."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// marshal encodes v as compact JSON without HTML escaping, which a JSON API does not need and
// which would change echoed vendor_data.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
