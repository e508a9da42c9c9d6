package suite

import (
	"net/http"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
)

// The shape specs check each operation's answers against openapi.yaml, one spec per operation
// and status, each labelled with the rule that describes that answer. Behaviour specs check only
// what their rule says, so that a wrong field fails its shape spec alone. The fixed bodies (403,
// 404, 429) have no shape spec: the behaviour specs of their rules compare them whole.

// shapeOf sends c and checks its status and its shape.
func shapeOf(c Call, status int) Resp {
	GinkgoHelper()
	r := do(c)
	Expect(r.Status).To(Equal(status), "%s %s: body %.400s", c.Method, c.url(), r.Body)
	expectShape(c, r)
	return r
}

func faceMatchCall(k Key, user, ref fixtures.File, kv ...string) Call {
	return Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k,
		Parts: append([]report.Part{file("user_image", user), file("ref_image", ref)}, fields(kv...)...)}
}

var _ = Describe("Answer shapes", Label(areaResponse), func() {
	It("POST /v3/face-match/ 200: a live match, with faces and without", Label("FM-RESP-1", "FM-RESP-3", "FM-RESP-4"), func() {
		k := live()
		shapeOf(faceMatchCall(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "save_api_request", "false", "vendor_data", "v", "metadata", `{"a": 1}`), http.StatusOK)
		shapeOf(faceMatchCall(k, photo(fixtures.PersonB), photo(fixtures.PersonA1), "save_api_request", "false"), http.StatusOK)
		shapeOf(faceMatchCall(k, photo(fixtures.NoFace), photo(fixtures.PersonA1)), http.StatusOK)
	})

	It("POST /v3/face-match/ 200: a sandbox answer", Label("FM-SBX-1"), func() {
		shapeOf(faceMatchCall(sandbox(), photo(fixtures.PersonA1), photo(fixtures.PersonB)), http.StatusOK)
	})

	It("POST /v3/face-match/ 400: field-keyed lists of messages", Label("FM-VAL-1"), func() {
		k := sandbox()
		shapeOf(Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k, Parts: fields("face_match_score_decline_threshold", "101")}, http.StatusBadRequest)
		shapeOf(Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k, JSON: map[string]any{"user_image": "x"}}, http.StatusBadRequest)
	})

	It("GET /v3/session/{id}/decision/ 200", Label("FM-SES-2"), func() {
		k := live()
		fm := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "vendor_data", "shape"))
		shapeOf(Call{Method: http.MethodGet, Path: "/v3/session/" + fm.RequestID + "/decision/", Key: k}, http.StatusOK)
		none := matchOf(faceMatch(k, photo(fixtures.NoFace), photo(fixtures.PersonA1)))
		shapeOf(Call{Method: http.MethodGet, Path: "/v3/session/" + none.RequestID + "/decision/", Key: k}, http.StatusOK)
	})

	It("DELETE /v3/session/{id}/delete/ 204 and 404", Label("FM-SES-4"), func() {
		k := live()
		fm := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		shapeOf(Call{Method: http.MethodDelete, Path: "/v3/session/" + fm.RequestID + "/delete/", Key: k}, http.StatusNoContent)
		shapeOf(Call{Method: http.MethodDelete, Path: "/v3/session/" + fm.RequestID + "/delete/", Key: k}, http.StatusNotFound)
	})

	It("the webhook destination operations: 201, 200, 200, 200, 204", Label("FM-WH-1", areaWebhooks), func() {
		k := webhookKey()
		r := shapeOf(Call{Method: http.MethodPost, Path: destinationsPath, Key: k,
			JSON: map[string]any{"label": "shape", "url": destinationURL(), "subscribed_events": []string{"status.updated"}, "enabled": false}}, http.StatusCreated)
		var d Destination
		r.Decode(&d)
		one := destinationsPath + d.UUID + "/"
		shapeOf(Call{Method: http.MethodGet, Path: destinationsPath, Key: k}, http.StatusOK)
		shapeOf(Call{Method: http.MethodGet, Path: one, Key: k}, http.StatusOK)
		shapeOf(Call{Method: http.MethodPatch, Path: one, Key: k, JSON: map[string]any{"label": "shape 2"}}, http.StatusOK)
		shapeOf(Call{Method: http.MethodPatch, Path: one, Key: k, JSON: map[string]any{"rotate_secret_key": true}}, http.StatusOK)
		shapeOf(Call{Method: http.MethodDelete, Path: one, Key: k}, http.StatusNoContent)
	})

	It("the webhook destination operations: 400 and 404", Label("FM-WH-1", "FM-VAL-1", areaWebhooks), func() {
		k := webhookKey()
		shapeOf(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: map[string]any{"label": "shape"}}, http.StatusBadRequest)
		shapeOf(Call{Method: http.MethodGet, Path: destinationsPath + uuid.NewString() + "/", Key: k}, http.StatusNotFound)
	})
})
