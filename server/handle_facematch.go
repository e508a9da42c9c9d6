package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imageinfo"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/webhook"
)

// handleFaceMatch serves POST /v3/face-match/. Past the key and the rate limit, the order is
// validation (400), then for live keys the credit (403), then the pixels (FM-RL-3): a credit is
// reserved before any image is decoded and kept only by a 200 (FM-BILL-1/2).
func (s *Server) handleFaceMatch(credits facematch.Credits, sessions facematch.Sessions, m facematch.Matcher, sb *sandbox.Responder) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		ctx := r.Context()
		form, fields := v.faceMatchForm(r.Header.Get("Content-Type"))
		caller := callerFrom(ctx)
		requestID := requestIDFrom(ctx)
		if caller.App.Mode == facematch.ModeSandbox {
			// FM-SBX-1: nothing decoded, stored, billed or sent. FM-SBX-2: the example asked
			// for by name; an unknown name is reported with the form's other complaints.
			example := sandbox.PreferredExample(r.Header)
			if err := sb.Check(example); err != nil {
				if coded, ok := facematch.Coded(err); ok {
					for field, msgs := range coded.Fields {
						fields[field] = append(fields[field], msgs...)
					}
				}
			}
			if err := fields.Err(); err != nil {
				s.writeError(w, r, err)
				return
			}
			resp, err := sb.Respond(example, requestID, s.now(), form.vendorData, form.metadata)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, resp)
			return
		}
		if err := fields.Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		if m == nil {
			// serve --sandbox-only: no matcher, and no credit taken.
			s.writeError(w, r, facematch.Errorf(facematch.EUNAVAILABLE, "This server answers sandbox keys only; live face matching is not available on it."))
			return
		}
		live := liveCall{credits: credits, sessions: sessions, matcher: m}
		resp, err := s.liveFaceMatch(ctx, live, caller, requestID, form, s.publicURL(r))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// liveCall is what a live face-match call uses: the credits it reserves, the sessions it saves,
// the matcher it compares with.
type liveCall struct {
	credits  facematch.Credits
	sessions facematch.Sessions
	matcher  facematch.Matcher
}

// liveFaceMatch reserves a credit, compares the faces and makes the result final: with
// save_api_request, the session, both images and the credit's consumption in one transaction
// (FM-SES-1). Any failure gives the credit back.
func (s *Server) liveFaceMatch(ctx context.Context, live liveCall, caller facematch.Caller, requestID string, form *faceMatchForm, base string) (_ facematch.FaceMatchResponse, err error) {
	reservation, err := live.credits.ReserveCredit(ctx, caller.App.OrgID, requestID)
	if err != nil {
		return facematch.FaceMatchResponse{}, err
	}
	defer func() {
		if err != nil {
			// The client may be gone; the credit must come back all the same.
			if rerr := live.credits.ReleaseCredit(context.WithoutCancel(ctx), reservation); rerr != nil {
				s.cfg.Logger.Error("releasing a credit", slog.String("request_id", requestID), slog.String("error", rerr.Error()))
			}
		}
	}()

	fm, err := live.matcher.Match(ctx, facematch.MatchInput{
		User: form.user.data, Ref: form.ref.data, Threshold: form.threshold, Rotate: form.rotate,
	})
	var imgErr *facematch.ImageError
	if errors.As(err, &imgErr) {
		return facematch.FaceMatchResponse{}, facematch.FieldErrors{imgErr.Field: {msgNotImage}}.Err()
	}
	if err != nil {
		return facematch.FaceMatchResponse{}, err
	}
	if fm.Score == nil && !form.save {
		zero := 0.0 // FM-MATCH-3: null when saved, 0 when not
		fm.Score = &zero
	}
	now := s.now().UTC()
	resp := facematch.FaceMatchResponse{
		RequestID:  requestID,
		FaceMatch:  fm,
		VendorData: form.vendorData,
		Metadata:   form.metadata,
		CreatedAt:  facematch.Timestamp(now),
	}
	// The final write must happen even if the client left during matching: the answer is
	// decided and its credit is spent only if it lands.
	final := context.WithoutCancel(ctx)
	if form.save {
		sess := facematch.Session{
			ID: requestID, AppID: caller.App.ID, VendorData: form.vendorData, Metadata: form.metadata,
			CreatedAt: now, FaceMatch: fm, Threshold: form.threshold,
		}
		_, err = live.sessions.CreateSession(final, facematch.NewSession{
			Session: sess,
			Source:  facematch.StoredImage{ContentType: contentType(form.ref.header.Format), Data: form.ref.data},
			Target:  facematch.StoredImage{ContentType: contentType(form.user.header.Format), Data: form.user.data},
			Credit:  reservation,
			WebhookBody: func(saved facematch.Session) ([]byte, error) {
				return s.statusUpdatedBody(saved, base)
			},
		})
		if err == nil {
			s.cfg.Notify()
		}
	} else {
		err = live.credits.ConsumeCredit(final, reservation)
	}
	if err != nil {
		return facematch.FaceMatchResponse{}, err
	}
	s.cfg.Metrics.creditConsumed(fm.Status)
	return resp, nil
}

// contentType is the media type of an image format.
func contentType(f imageinfo.Format) string {
	return "image/" + string(f)
}

// statusUpdatedBody is the canonical JSON (sorted keys, no spaces) every destination of the
// session's application receives; its image URLs are signed like a decision's.
func (s *Server) statusUpdatedBody(sess facematch.Session, base string) ([]byte, error) {
	expires := s.now().Add(s.cfg.MediaTTL).Unix()
	return webhook.CanonicalOf(facematch.StatusUpdated{
		SessionID:   sess.ID,
		Status:      sess.FaceMatch.Status,
		WebhookType: facematch.EventStatusUpdated,
		VendorData:  sess.VendorData,
		Metadata:    sess.Metadata,
		Timestamp:   s.now().Unix(),
		CreatedAt:   sess.CreatedAt.Unix(),
		Decision: facematch.Decision(sess, func(kind string) string {
			return s.mediaURL(base, sess.ID, kind, expires)
		}),
	})
}
