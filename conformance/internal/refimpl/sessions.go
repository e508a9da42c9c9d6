package refimpl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// saveSession stores the session, its images and its pending webhook deliveries in one change.
func (s *Server) saveSession(r *http.Request, c caller, f *form, id string, created time.Time, fm map[string]any) error {
	ref, err := s.st.putBlob(f.ref.data)
	if err != nil {
		return err
	}
	user, err := s.st.putBlob(f.user.data)
	if err != nil {
		return err
	}
	if s.fault(FaultImagesSwapped) {
		ref, user = user, ref
	}
	score, _ := marshal(fm["score"])
	warnings, _ := marshal(fm["warnings"])
	status, _ := fm["status"].(string)
	err = s.st.update(func(st *state) error {
		a := st.Apps[c.app.ID]
		a.NextNumber++
		st.Sessions[id] = &session{
			ID: id, App: a.ID, Number: a.NextNumber, Status: status, Score: score, Warnings: warnings,
			VendorData: f.vendorData, Metadata: f.metadata, Created: created.UTC(), RefBlob: ref, UserBlob: user,
			BaseURL: baseURL(r),
		}
		if a.Sandbox {
			return nil
		}
		for _, d := range st.Destinations {
			if d.App == a.ID && d.Enabled && subscribed(d, "status.updated") {
				dl := &delivery{ID: "evt_" + randomHex(12), Dest: d.UUID, Session: id, Due: time.Now()}
				st.Deliveries[dl.ID] = dl
			}
		}
		return nil
	})
	if err == nil {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return err
}

func subscribed(d *destination, event string) bool {
	for _, e := range d.Events {
		if e == event {
			return true
		}
	}
	return false
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// decision is a session as GET /decision/ shows it. The reference leaves out the feature arrays
// face-match sessions do not use: the contract does not require them.
func (s *Server) decision(ses *session, base, secret string) map[string]any {
	var score, warnings, metadata any
	score, _ = decode(ses.Score)
	warnings, _ = decode(ses.Warnings)
	if ses.Metadata != nil {
		metadata, _ = decode(ses.Metadata)
	}
	exp := time.Now().Add(s.cfg.MediaTTL).Unix()
	return map[string]any{
		"session_id":     ses.ID,
		"session_number": ses.Number,
		"session_kind":   "user",
		"status":         ses.Status,
		"environment":    "live",
		"workflow_id":    nil,
		"features":       []string{"FACE_MATCH"},
		"vendor_data":    ses.VendorData,
		"metadata":       metadata,
		"created_at":     timestamp(ses.Created),
		"face_matches": []any{map[string]any{
			"status":                  ses.Status,
			"score":                   score,
			"source_image":            mediaURL(base, secret, ses.ID, "ref", exp),
			"target_image":            mediaURL(base, secret, ses.ID, "user", exp),
			"source_image_session_id": nil,
			"warnings":                warnings,
			"node_id":                 nil,
		}},
	}
}

// mediaURL is the reference's image URL: /blob/{session}/{ref|user}?t={expiry}&m={mac}.
func mediaURL(base, secret, id, which string, exp int64) string {
	return base + "/blob/" + id + "/" + which + "?t=" + strconv.FormatInt(exp, 10) + "&m=" + mediaMAC(secret, id, which, exp)
}

func mediaMAC(secret, id, which string, exp int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id + "|" + which + "|" + strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) findSession(c caller, id string) *session {
	var found *session
	s.st.view(func(st *state) {
		if ses := st.Sessions[id]; ses != nil && (ses.App == c.app.ID || s.fault(FaultOtherAppSession)) {
			cp := *ses
			found = &cp
		}
	})
	return found
}

func (s *Server) getDecision(w http.ResponseWriter, r *http.Request, c caller, id string) {
	ses := s.findSession(c, id)
	if ses == nil {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	var secret string
	s.st.view(func(st *state) { secret = st.MediaSecret })
	b, err := marshal(s.decision(ses, baseURL(r), secret))
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, `{"detail": "A server error occurred."}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// kept holds deleted sessions whose images the ses-delete-keeps-images fault still serves.
var kept sync.Map

func (s *Server) deleteSession(w http.ResponseWriter, c caller, id string) {
	found := false
	s.st.update(func(st *state) error {
		ses := st.Sessions[id]
		if ses == nil || ses.App != c.app.ID {
			return nil
		}
		found = true
		delete(st.Sessions, id)
		for k, d := range st.Deliveries {
			if d.Session == id {
				delete(st.Deliveries, k)
			}
		}
		if s.fault(FaultDeleteKeepsImages) {
			kept.Store(id, ses)
			return nil
		}
		s.st.dropBlobLocked(ses.RefBlob)
		s.st.dropBlobLocked(ses.UserBlob)
		return nil
	})
	if !found {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveBlob serves an image URL: 404 once the session is gone, 403 for an altered or expired URL.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/blob/"), "/"), "/")
	if len(parts) != 2 || (parts[1] != "ref" && parts[1] != "user") || r.Method != http.MethodGet {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	id, which := parts[0], parts[1]
	var ses *session
	var secret string
	s.st.view(func(st *state) {
		secret = st.MediaSecret
		if x := st.Sessions[id]; x != nil {
			cp := *x
			ses = &cp
		}
	})
	if ses == nil {
		if v, ok := kept.Load(id); ok {
			ses = v.(*session)
		} else {
			writeRaw(w, http.StatusNotFound, notFoundBody)
			return
		}
	}
	if !s.fault(FaultUnsignedURLs) {
		exp, err := strconv.ParseInt(r.URL.Query().Get("t"), 10, 64)
		mac := r.URL.Query().Get("m")
		if err != nil || time.Now().Unix() > exp || !hmac.Equal([]byte(mac), []byte(mediaMAC(secret, id, which, exp))) {
			writeRaw(w, http.StatusForbidden, permissionDenied)
			return
		}
	}
	name := ses.RefBlob
	if which == "user" {
		name = ses.UserBlob
	}
	data, err := s.st.blob(name)
	if err != nil {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(data))
	w.Write(data)
}
