package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/facematch/facematch"
)

// handleDecision serves GET /v3/session/{sessionId}/decision/: the caller's own sessions only,
// 404 for anything else (FM-AUTH-3, FM-SES-3).
func (s *Server) handleDecision(sessions facematch.Sessions) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		id, err := sessionID(r, v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sess, err := sessions.Session(r.Context(), callerFrom(r.Context()).App.ID, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		base := s.publicURL(r)
		expires := s.now().Add(s.cfg.MediaTTL).Unix()
		writeJSON(w, http.StatusOK, facematch.Decision(sess, func(kind string) string {
			return s.mediaURL(base, sess.ID, kind, expires)
		}))
	}
}

// handleDeleteSession serves DELETE /v3/session/{sessionId}/delete/ (FM-SES-4).
func (s *Server) handleDeleteSession(sessions facematch.Sessions) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		id, err := sessionID(r, v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := sessions.DeleteSession(r.Context(), callerFrom(r.Context()).App.ID, id); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// sessionID reads the {sessionId} of a session route once the request passed validation; an id
// that is not a UUID names no session.
func sessionID(r *http.Request, v *validation) (string, error) {
	if err := v.merge(facematch.FieldErrors{}).Err(); err != nil {
		return "", err
	}
	id := mux.Vars(r)["sessionId"]
	if _, err := uuid.Parse(id); err != nil {
		return "", errNotFound
	}
	return id, nil
}

// publicURL is the scheme and host clients reach this server at.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// mediaSignature signs an image URL: the session, the image and the expiry, with the
// deployment's key.
func (s *Server) mediaSignature(sessionID, kind string, expires int64) string {
	mac := hmac.New(sha256.New, s.mediaKey)
	mac.Write([]byte(sessionID + "\n" + kind + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(mac.Sum(nil))
}

// mediaURL is the signed, expiring URL of a session image (FM-SES-2).
func (s *Server) mediaURL(base, sessionID, kind string, expires int64) string {
	q := url.Values{}
	q.Set("expires", strconv.FormatInt(expires, 10))
	q.Set("signature", s.mediaSignature(sessionID, kind, expires))
	return base + "/media/sessions/" + sessionID + "/" + kind + "?" + q.Encode()
}

// handleMedia serves a signed image URL: an altered or expired URL is a 403, the image of a
// deleted session a 404 (FM-SES-2, FM-SES-4).
func (s *Server) handleMedia(sessions facematch.Sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		id, kind := vars["sessionId"], vars["image"]
		q := r.URL.Query()
		expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		sig, herr := hex.DecodeString(q.Get("signature"))
		want, _ := hex.DecodeString(s.mediaSignature(id, kind, expires))
		if err != nil || herr != nil || !hmac.Equal(sig, want) || s.now().After(time.Unix(expires, 0)) {
			s.writeError(w, r, errPermission)
			return
		}
		img, err := sessions.SessionImage(r.Context(), id, kind)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", img.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(img.Data)))
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(img.Data)
	})
}
