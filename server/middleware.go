package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/facematch/facematch"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCaller
	keyRoute
)

// requestIDFrom returns the id of the request: a fresh UUID that logs carry and that a
// face-match call returns as its request_id (FM-RESP-5).
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// callerFrom returns who the request's key speaks for.
func callerFrom(ctx context.Context) facematch.Caller {
	c, _ := ctx.Value(keyCaller).(facematch.Caller)
	return c
}

// routeInfo is filled in as the request goes: the route that matched and the key that spoke,
// for logs and metrics.
type routeInfo struct {
	template string
	caller   *facematch.Caller
}

// requestID gives every request a fresh UUID, returned in X-Request-Id.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// statusWriter remembers the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// observe counts and times every request by route and status, and logs it as one JSON line.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &routeInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), keyRoute, info)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := info.template
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.cfg.Metrics.observeRequest(r.Method, route, sw.status, elapsed)
		attrs := []any{
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Float64("ms", float64(elapsed.Microseconds())/1000),
		}
		if c := info.caller; c != nil {
			attrs = append(attrs, slog.String("key", c.KeyID), slog.String("app", c.App.ID))
		}
		s.cfg.Logger.Info("request", attrs...)
	})
}

// matchedRoute is a router middleware: it records the template of the route that matched.
func matchedRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(keyRoute).(*routeInfo); ok {
			if t, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				info.template = t
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500, so that one bad request cannot take the
// process down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// dummyHash keeps an unknown key's check as long as a known one's.
var dummyHash = facematch.HashSecret("0000000000000000000000000000000000000000000000000000000000000000")

// authenticate lets through only requests whose x-api-key is a valid, unrevoked key
// (FM-AUTH-1): anything else is a 403 with the fixed body, never a 401.
func (s *Server) authenticate(keys facematch.KeyFinder, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented := r.Header.Values("x-api-key")
		if len(presented) != 1 {
			s.writeError(w, r, errPermission)
			return
		}
		id, secret, ok := facematch.ParseAPIKey(presented[0])
		if !ok {
			s.writeError(w, r, errPermission)
			return
		}
		key, app, err := keys.APIKey(r.Context(), id)
		switch {
		case facematch.ErrorCode(err) == facematch.ENOTFOUND:
			facematch.SecretMatches(dummyHash, secret)
			s.writeError(w, r, errPermission)
			return
		case err != nil:
			s.writeError(w, r, err)
			return
		}
		if !facematch.SecretMatches(key.SecretHash, secret) || key.RevokedAt != nil || !strings.HasPrefix(presented[0], "fm_"+string(app.Mode)+"_") {
			s.writeError(w, r, errPermission)
			return
		}
		caller := facematch.Caller{KeyID: key.ID, App: app}
		if info, ok := r.Context().Value(keyRoute).(*routeInfo); ok {
			info.caller = &caller
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCaller, caller)))
	})
}

// rateLimit counts the request in its key's budget (writes and reads apart) and sets the
// X-RateLimit-* headers on every answer to a valid key (FM-RL-1, FM-RL-2). Over budget it
// answers 429 and nothing else happens (FM-RL-3).
func (s *Server) rateLimit(limiter facematch.RateLimiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := callerFrom(r.Context())
		bucket, limit := "read", s.cfg.ReadLimit
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			bucket, limit = "write", s.cfg.WriteLimit
		}
		d, err := limiter.TakeRequest(r.Context(), caller.KeyID, bucket, limit, s.cfg.Window)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(d.Reset.UnixMilli())/1000)), 10))
		if !d.Allowed {
			wait := max(time.Second, d.Reset.Sub(s.now()))
			s.writeError(w, r, &facematch.Error{Code: facematch.ETHROTTLED, RetryAfter: wait})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errPermission is the answer to any key that is not a valid one.
var errPermission = &facematch.Error{Code: facematch.EPERMISSION, Message: "You do not have permission to perform this action."}

// errNotFound is the answer for anything the caller cannot see.
var errNotFound = &facematch.Error{Code: facematch.ENOTFOUND, Message: "Not found."}

// isCanceled tells a client that went away from a failure.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
