package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/webhook"
)

// destinationJSON is a destination as the API shows it (FM-WH-1): its secret only on creation
// and rotation, its delivery summary only when asked for one.
type destinationJSON struct {
	UUID             string              `json:"uuid"`
	Label            string              `json:"label"`
	URL              string              `json:"url"`
	SubscribedEvents []string            `json:"subscribed_events"`
	Enabled          bool                `json:"enabled"`
	WebhookVersion   string              `json:"webhook_version"`
	CreatedAt        facematch.Timestamp `json:"created_at"`
	UpdatedAt        facematch.Timestamp `json:"updated_at"`
	SecretSharedKey  *string             `json:"secret_shared_key,omitempty"`
	Summary          *summaryJSON        `json:"summary,omitempty"`
}

// summaryJSON is the delivery summary of a destination under the provider's names (FM-WH-1,
// FM-WH-4). Every attempt counts as a delivery; response times cover the attempts that got an
// HTTP answer and are null while there is none.
type summaryJSON struct {
	TotalDeliveries     int                  `json:"total_deliveries"`
	FailedDeliveries    int                  `json:"failed_deliveries"`
	ErrorRatePercentage float64              `json:"error_rate_percentage"`
	MinResponseTimeMS   *float64             `json:"min_response_time_ms"`
	AvgResponseTimeMS   *float64             `json:"avg_response_time_ms"`
	MaxResponseTimeMS   *float64             `json:"max_response_time_ms"`
	LastDeliveryAt      *facematch.Timestamp `json:"last_delivery_at"`
}

func toDestinationJSON(d facematch.Destination, withSecret bool) destinationJSON {
	out := destinationJSON{
		UUID: d.ID, Label: d.Label, URL: d.URL, SubscribedEvents: d.SubscribedEvents, Enabled: d.Enabled,
		WebhookVersion: d.WebhookVersion, CreatedAt: facematch.Timestamp(d.CreatedAt), UpdatedAt: facematch.Timestamp(d.UpdatedAt),
	}
	if withSecret {
		s := d.Secret
		out.SecretSharedKey = &s
	}
	return out
}

func toSummaryJSON(s facematch.DeliverySummary) *summaryJSON {
	ms := func(d *time.Duration) *float64 {
		if d == nil {
			return nil
		}
		v := float64(d.Microseconds()) / 1000
		return &v
	}
	out := &summaryJSON{TotalDeliveries: s.Total, FailedDeliveries: s.Failed,
		MinResponseTimeMS: ms(s.MinResponse), AvgResponseTimeMS: ms(s.AvgResponse), MaxResponseTimeMS: ms(s.MaxResponse)}
	if s.Total > 0 {
		out.ErrorRatePercentage = math.Round(float64(s.Failed)/float64(s.Total)*10000) / 100
	}
	if s.LastDeliveryAt != nil {
		t := facematch.Timestamp(*s.LastDeliveryAt)
		out.LastDeliveryAt = &t
	}
	return out
}

// destinationInput is a checked create or update body.
type destinationInput struct {
	update facematch.DestinationUpdate
	rotate bool
}

// parseDestination checks a destination body: every field's rules and, for a URL, the address
// guard (FM-WH-5). On creation label and url are required and the defaults apply.
func parseDestination(ctx context.Context, guard *webhook.Guard, body []byte, create bool) (destinationInput, facematch.FieldErrors) {
	errs := facematch.FieldErrors{}
	var in destinationInput
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		errs.Add("non_field_errors", "The body must be a JSON object.")
		return in, errs
	}
	known := 0
	if raw, ok := fields["label"]; ok {
		known++
		var v string
		switch {
		case json.Unmarshal(raw, &v) != nil:
			errs.Add("label", "Not a valid string.")
		case strings.TrimSpace(v) == "":
			errs.Add("label", "This field may not be blank.")
		case utf8.RuneCountInString(v) > 255:
			errs.Add("label", "Ensure this field has no more than 255 characters.")
		default:
			in.update.Label = &v
		}
	} else if create {
		errs.Add("label", msgRequired)
	}
	if raw, ok := fields["url"]; ok {
		known++
		var v string
		switch {
		case json.Unmarshal(raw, &v) != nil:
			errs.Add("url", "Not a valid string.")
		case len(v) > 2048:
			errs.Add("url", "Ensure this field has no more than 2048 characters.")
		default:
			if err := guard.CheckURL(ctx, v); err != nil {
				errs.Add("url", err.Error())
			} else {
				in.update.URL = &v
			}
		}
	} else if create {
		errs.Add("url", msgRequired)
	}
	if raw, ok := fields["subscribed_events"]; ok {
		known++
		var v []string
		switch {
		case json.Unmarshal(raw, &v) != nil || v == nil:
			errs.Add("subscribed_events", "Expected a list of event names.")
		case len(v) == 0:
			errs.Add("subscribed_events", "This list may not be empty.")
		default:
			seen := map[string]bool{}
			for _, e := range v {
				switch {
				case !slices.Contains(facematch.WebhookEvents, e):
					errs.Add("subscribed_events", `"`+e+`" is not a valid choice.`)
				case seen[e]:
					errs.Add("subscribed_events", `"`+e+`" is listed more than once.`)
				}
				seen[e] = true
			}
			in.update.SubscribedEvents = v
		}
	} else if create {
		// FM-WH-1: required, as the provider documents it; no silent default.
		errs.Add("subscribed_events", msgRequired)
	}
	if raw, ok := fields["webhook_version"]; ok {
		known++
		var v string
		switch {
		case json.Unmarshal(raw, &v) != nil:
			errs.Add("webhook_version", "Not a valid string.")
		case !slices.Contains(facematch.WebhookVersions, v):
			errs.Add("webhook_version", `"`+v+`" is not a valid choice.`)
		default:
			in.update.WebhookVersion = &v
		}
	} else if create {
		v := facematch.DefaultWebhookVersion
		in.update.WebhookVersion = &v
	}
	if raw, ok := fields["enabled"]; ok {
		known++
		var v bool
		if json.Unmarshal(raw, &v) != nil {
			errs.Add("enabled", msgBoolean)
		} else {
			in.update.Enabled = &v
		}
	} else if create {
		t := true
		in.update.Enabled = &t
	}
	if raw, ok := fields["rotate_secret_key"]; ok && !create {
		known++
		if json.Unmarshal(raw, &in.rotate) != nil {
			errs.Add("rotate_secret_key", msgBoolean)
		}
	}
	if !create && known == 0 {
		errs.Add("non_field_errors", "Give at least one of label, url, subscribed_events, enabled, webhook_version, rotate_secret_key.")
	}
	return in, errs
}

// destinationID reads the {uuid} of a destination route; anything but a UUID is not found.
func destinationID(r *http.Request) (string, error) {
	id := mux.Vars(r)["uuid"]
	if _, err := uuid.Parse(id); err != nil {
		return "", errNotFound
	}
	return id, nil
}

// handleCreateDestination serves POST /v3/webhook/destinations/.
func (s *Server) handleCreateDestination(dests facematch.Destinations, guard *webhook.Guard) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		in, errs := parseDestination(r.Context(), guard, v.body, true)
		if err := v.merge(errs).Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		d, err := dests.CreateDestination(r.Context(), facematch.Destination{
			AppID: callerFrom(r.Context()).App.ID, Label: *in.update.Label, URL: *in.update.URL,
			SubscribedEvents: in.update.SubscribedEvents, Enabled: *in.update.Enabled, Secret: webhook.NewSecret(),
			WebhookVersion: *in.update.WebhookVersion,
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, toDestinationJSON(d, true))
	}
}

// handleListDestinations serves GET /v3/webhook/destinations/: no secrets.
func (s *Server) handleListDestinations(dests facematch.Destinations) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ds, err := dests.Destinations(r.Context(), callerFrom(r.Context()).App.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]destinationJSON, len(ds))
		for i, d := range ds {
			out[i] = toDestinationJSON(d, false)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleGetDestination serves GET /v3/webhook/destinations/{uuid}/ with its delivery summary.
func (s *Server) handleGetDestination(dests facematch.Destinations) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := destinationID(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		d, err := dests.Destination(r.Context(), callerFrom(r.Context()).App.ID, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sum, err := dests.DeliverySummary(r.Context(), d.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := toDestinationJSON(d, false)
		out.Summary = toSummaryJSON(sum)
		writeJSON(w, http.StatusOK, out)
	})
}

// handleUpdateDestination serves PATCH /v3/webhook/destinations/{uuid}/.
func (s *Server) handleUpdateDestination(dests facematch.Destinations, guard *webhook.Guard) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		id, err := destinationID(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		in, errs := parseDestination(r.Context(), guard, v.body, false)
		if err := v.merge(errs).Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		if in.rotate {
			secret := webhook.NewSecret()
			in.update.Secret = &secret
		}
		d, err := dests.UpdateDestination(r.Context(), callerFrom(r.Context()).App.ID, id, in.update)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toDestinationJSON(d, in.rotate))
	}
}

// handleDeleteDestination serves DELETE /v3/webhook/destinations/{uuid}/.
func (s *Server) handleDeleteDestination(dests facematch.Destinations) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := destinationID(r)
		if err == nil {
			err = dests.DeleteDestination(r.Context(), callerFrom(r.Context()).App.ID, id)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
