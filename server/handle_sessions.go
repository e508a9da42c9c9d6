package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/facematch/facematch"
)

// SessionDecision is the body of GET /v3/session/{id}/decision/ (FM-SES-2).
type SessionDecision struct {
	SessionID     string              `json:"session_id"`
	SessionNumber int64               `json:"session_number"`
	SessionKind   string              `json:"session_kind"`
	Status        string              `json:"status"`
	Environment   string              `json:"environment"`
	WorkflowID    *string             `json:"workflow_id"`
	Features      []string            `json:"features"`
	VendorData    *string             `json:"vendor_data"`
	Metadata      json.RawMessage     `json:"metadata"`
	CreatedAt     facematch.Timestamp `json:"created_at"`
	FaceMatches   []SessionFaceMatch  `json:"face_matches"`
	// The commercial decision object's other features: always null for these sessions.
	IDVerifications     []any `json:"id_verifications"`
	NFCVerifications    []any `json:"nfc_verifications"`
	LivenessChecks      []any `json:"liveness_checks"`
	PoAVerifications    []any `json:"poa_verifications"`
	PhoneVerifications  []any `json:"phone_verifications"`
	EmailVerifications  []any `json:"email_verifications"`
	AMLScreenings       []any `json:"aml_screenings"`
	IPAnalyses          []any `json:"ip_analyses"`
	DatabaseValidations []any `json:"database_validations"`
	Reviews             []any `json:"reviews"`
}

// SessionFaceMatch is the face match of a saved session, its images as signed URLs.
type SessionFaceMatch struct {
	Status               string              `json:"status"`
	Score                *float64            `json:"score"`
	SourceImage          string              `json:"source_image"`
	TargetImage          string              `json:"target_image"`
	SourceImageSessionID *string             `json:"source_image_session_id"`
	Warnings             []facematch.Warning `json:"warnings"`
	NodeID               *string             `json:"node_id"`
}

// Decision builds the decision of a session; imageURL signs the URL of each image.
func Decision(s facematch.Session, imageURL func(kind string) string) SessionDecision {
	return SessionDecision{
		SessionID:     s.ID,
		SessionNumber: s.Number,
		SessionKind:   "user",
		Status:        s.FaceMatch.Status,
		Environment:   string(facematch.ModeLive),
		Features:      []string{"FACE_MATCH"},
		VendorData:    s.VendorData,
		Metadata:      s.Metadata,
		CreatedAt:     facematch.Timestamp(s.CreatedAt),
		FaceMatches: []SessionFaceMatch{{
			Status:      s.FaceMatch.Status,
			Score:       s.FaceMatch.Score,
			SourceImage: imageURL(facematch.ImageSource),
			TargetImage: imageURL(facematch.ImageTarget),
			Warnings:    s.FaceMatch.Warnings,
		}},
	}
}

// handleDecision serves GET /v3/session/{sessionId}/decision/: the caller's own sessions only,
// 404 for anything else (FM-AUTH-3, FM-SES-3).
func (s *Server) handleDecision() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := sessionID(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sess, err := s.cfg.Store.Session(r.Context(), callerFrom(r.Context()).App.ID, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		base := s.publicURL(r)
		expires := s.now().Add(s.cfg.MediaTTL).Unix()
		writeJSON(w, http.StatusOK, Decision(sess, func(kind string) string {
			return s.mediaURL(base, sess.ID, kind, expires)
		}))
	})
}

// handleDeleteSession serves DELETE /v3/session/{sessionId}/delete/ (FM-SES-4).
func (s *Server) handleDeleteSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := sessionID(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.cfg.Store.DeleteSession(r.Context(), callerFrom(r.Context()).App.ID, id); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// sessionID reads the {sessionId} of a session route once the request passed validation; an id
// that is not a UUID names no session.
func sessionID(r *http.Request) (string, error) {
	if err := validated(r.Context(), facematch.FieldErrors{}); err != nil {
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
func (s *Server) handleMedia() http.Handler {
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
		img, err := s.cfg.Store.SessionImage(r.Context(), id, kind)
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
