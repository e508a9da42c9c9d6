package server

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// routes lists the whole API surface. Every /v3/ request, whatever its path, passes through the
// key check and the rate limit first (FM-AUTH-1, FM-RL-3); each operation then validates its
// request against openapi.yaml before its handler runs.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(matchedRoute)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errNotFound) })
	r.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)

	// The one place handlers get what they use: narrow parts of the store, the matcher, the
	// sandbox and the webhook guard.
	st := s.cfg.Store

	// Operations, no key.
	r.Handle("/healthz", s.handleHealthz()).Methods(http.MethodGet)
	r.Handle("/readyz", s.handleReadyz()).Methods(http.MethodGet)
	if !s.cfg.MetricsElsewhere {
		r.Handle("/metrics", s.cfg.Metrics.Handler()).Methods(http.MethodGet)
	}
	r.Handle("/openapi.yaml", s.handleOpenAPI()).Methods(http.MethodGet)
	r.Handle("/media/sessions/{sessionId}/{image}", s.handleMedia(st)).Methods(http.MethodGet)

	// The API, behind a key.
	r.Handle("/v3/face-match/", s.admitLive(s.validate(s.handleFaceMatch(st, st, s.cfg.Matcher, s.cfg.Sandbox)))).Methods(http.MethodPost)
	r.Handle("/v3/sessions/", s.validate(s.handleListSessions(st))).Methods(http.MethodGet)
	r.Handle("/v3/session/{sessionId}/decision/", s.validate(s.handleDecision(st))).Methods(http.MethodGet)
	r.Handle("/v3/session/{sessionId}/delete/", s.validate(s.handleDeleteSession(st, st))).Methods(http.MethodDelete)
	r.Handle("/v3/webhook/destinations/", s.validate(bodyless(s.handleListDestinations(st)))).Methods(http.MethodGet)
	r.Handle("/v3/webhook/destinations/", s.validate(s.handleCreateDestination(st, s.cfg.Guard))).Methods(http.MethodPost)
	r.Handle("/v3/webhook/destinations/{uuid}/", s.validate(bodyless(s.handleGetDestination(st)))).Methods(http.MethodGet)
	r.Handle("/v3/webhook/destinations/{uuid}/", s.validate(s.handleUpdateDestination(st, s.cfg.Guard))).Methods(http.MethodPatch)
	r.Handle("/v3/webhook/destinations/{uuid}/", s.validate(bodyless(s.handleDeleteDestination(st)))).Methods(http.MethodDelete)

	api := s.authenticate(st, s.rateLimit(st, r))
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v3/") {
			api.ServeHTTP(w, req)
			return
		}
		r.ServeHTTP(w, req)
	})
	return s.requestID(s.observe(s.recoverPanics(h)))
}

// bodyless adapts a handler of a request without a body (GET, DELETE) to validate, whose checks
// of path and query it still needs.
func bodyless(h http.Handler) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *validation) { h.ServeHTTP(w, r) }
}
