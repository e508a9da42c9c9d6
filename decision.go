package facematch

import "encoding/json"

// SessionDecision is the body of GET /v3/session/{id}/decision/ (FM-SES-2).
type SessionDecision struct {
	SessionID     string             `json:"session_id"`
	SessionNumber int64              `json:"session_number"`
	SessionKind   string             `json:"session_kind"`
	Status        string             `json:"status"`
	Environment   string             `json:"environment"`
	WorkflowID    *string            `json:"workflow_id"`
	Features      []string           `json:"features"`
	VendorData    *string            `json:"vendor_data"`
	Metadata      json.RawMessage    `json:"metadata"`
	CreatedAt     Timestamp          `json:"created_at"`
	FaceMatches   []SessionFaceMatch `json:"face_matches"`
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
	Status               string    `json:"status"`
	Score                *float64  `json:"score"`
	SourceImage          string    `json:"source_image"`
	TargetImage          string    `json:"target_image"`
	SourceImageSessionID *string   `json:"source_image_session_id"`
	Warnings             []Warning `json:"warnings"`
	NodeID               *string   `json:"node_id"`
}

// Decision builds the decision of a session; imageURL signs the URL of each image.
func Decision(s Session, imageURL func(kind string) string) SessionDecision {
	return SessionDecision{
		SessionID:     s.ID,
		SessionNumber: s.Number,
		SessionKind:   "user",
		Status:        s.FaceMatch.Status,
		Environment:   string(ModeLive),
		Features:      []string{"FACE_MATCH"},
		VendorData:    s.VendorData,
		Metadata:      s.Metadata,
		CreatedAt:     Timestamp(s.CreatedAt),
		FaceMatches: []SessionFaceMatch{{
			Status:      s.FaceMatch.Status,
			Score:       s.FaceMatch.Score,
			SourceImage: imageURL(ImageSource),
			TargetImage: imageURL(ImageTarget),
			Warnings:    s.FaceMatch.Warnings,
		}},
	}
}

// StatusUpdated is the body of a status.updated webhook delivery (FM-WH-2): the event and the
// session's decision, rendered as canonical JSON by the webhook package. Timestamp is the time
// of the attempt that carries the body: the outbox keeps the body as first rendered, and each
// attempt renders it again with its own time (FM-WH-3).
type StatusUpdated struct {
	SessionID   string          `json:"session_id"`
	Status      string          `json:"status"`
	WebhookType string          `json:"webhook_type"`
	VendorData  *string         `json:"vendor_data"`
	Metadata    json.RawMessage `json:"metadata"`
	WorkflowID  *string         `json:"workflow_id"`
	Timestamp   int64           `json:"timestamp"`
	CreatedAt   int64           `json:"created_at"`
	Decision    SessionDecision `json:"decision"`
}
