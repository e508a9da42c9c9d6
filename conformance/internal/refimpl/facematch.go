package refimpl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the formats of FM-IMG-1, and no other: GIF must not decode
	_ "image/png"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

const (
	maxImage      = 5 << 20
	maxPixels     = 40_000_000
	maxVendorData = 1024
	maxMetadata   = 16384
	maxBody       = 2*maxImage + 1<<20
)

var allowedExt = map[string]bool{"tiff": true, "jpg": true, "jpeg": true, "png": true, "webp": true}

// upload is a file part of the form.
type upload struct {
	name string
	data []byte
}

// form is a validated face-match request.
type form struct {
	user, ref    upload
	threshold    float64
	thresholdRaw string
	rotate, save bool
	vendorData   *string
	metadata     json.RawMessage // sorted and compact, or nil
}

// fieldErrors are the 400's field-keyed lists of messages.
type fieldErrors map[string][]string

var numberRe = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

// parseFaceMatch reads and validates the multipart form: every invalid field at once.
func (s *Server) parseFaceMatch(w http.ResponseWriter, r *http.Request) (*form, fieldErrors) {
	nonField := func(msg string) fieldErrors { return fieldErrors{"non_field_errors": {msg}} }
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nonField("Send the request as multipart/form-data.")
	}
	if r.ContentLength > maxBody {
		return nil, nonField("The request body is too large.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, nonField("The request body could not be read or is too large.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body)) // for a second reading (rl-validate-first)
	values := map[string][]string{}
	files := map[string][]upload{}
	partKinds := map[string][]bool{} // per field, whether each part in order was a file
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nonField("Multipart form parse error: " + err.Error())
		}
		name := p.FormName()
		data, err := io.ReadAll(io.LimitReader(p, maxImage+1))
		if err != nil {
			return nil, nonField("Multipart form parse error: " + err.Error())
		}
		if name == "" {
			continue
		}
		partKinds[name] = append(partKinds[name], p.FileName() != "")
		if p.FileName() != "" {
			files[name] = append(files[name], upload{name: p.FileName(), data: data})
		} else {
			values[name] = append(values[name], string(data))
		}
	}
	if len(values) == 0 && len(files) == 0 && len(body) == 0 {
		return nil, nonField("The request body is empty.")
	}

	errs := fieldErrors{}
	f := &form{threshold: 30, save: true}
	// Django REST framework's reading of form data (FM-VAL-5): a field sent twice takes its last
	// value (a file field its last file), an optional field sent blank counts as absent.
	pick := func(list []string) string {
		if s.fault(FaultFirstValueWins) {
			return list[0]
		}
		return list[len(list)-1]
	}
	lastIsFile := func(field string) bool { return partKinds[field] != nil && partKinds[field][len(partKinds[field])-1] }
	image := func(field string) upload {
		switch {
		case len(files[field])+len(values[field]) == 0:
			errs[field] = []string{"This field is required."}
		case !lastIsFile(field) && !s.fault(FaultFirstValueWins):
			errs[field] = []string{"The submitted data was not a file. Check the encoding type on the form."}
		case len(files[field]) == 0:
			errs[field] = []string{"The submitted data was not a file. Check the encoding type on the form."}
		default:
			u := files[field][len(files[field])-1]
			if s.fault(FaultFirstValueWins) {
				u = files[field][0]
			}
			if msg := s.checkImage(u); msg != "" {
				errs[field] = []string{msg}
			}
			return u
		}
		return upload{}
	}
	f.user, f.ref = image("user_image"), image("ref_image")
	single := func(field string) (string, bool) {
		if len(values[field]) == 0 {
			if len(files[field]) > 0 {
				errs[field] = []string{"Send this field as text, not a file."}
			}
			return "", false
		}
		v := pick(values[field])
		return v, v != ""
	}
	if v, ok := single("face_match_score_decline_threshold"); ok {
		t, msg := parseThreshold(v)
		if msg != "" {
			errs["face_match_score_decline_threshold"] = []string{msg}
		}
		f.threshold, f.thresholdRaw = t, v
	}
	for _, b := range []struct {
		field string
		dst   *bool
	}{{"rotate_image", &f.rotate}, {"save_api_request", &f.save}} {
		if v, ok := single(b.field); ok {
			val, good := s.parseBool(v)
			if !good {
				errs[b.field] = []string{"Must be a valid boolean."}
			}
			*b.dst = val
		}
	}
	if v, ok := single("vendor_data"); ok {
		if utf8.RuneCountInString(v) > maxVendorData {
			errs["vendor_data"] = []string{fmt.Sprintf("Ensure this field has no more than %d characters.", maxVendorData)}
		}
		f.vendorData = &v
	}
	if v, ok := single("metadata"); ok {
		m, msg := parseMetadata(v)
		if msg != "" {
			errs["metadata"] = []string{msg}
		}
		f.metadata = m
	}
	if len(errs) == 0 {
		return f, nil
	}
	if s.fault(FaultFirstErrorOnly) {
		for _, k := range []string{"user_image", "ref_image", "face_match_score_decline_threshold", "rotate_image", "save_api_request", "vendor_data", "metadata"} {
			if msgs, ok := errs[k]; ok {
				return nil, fieldErrors{k: msgs}
			}
		}
	}
	return nil, errs
}

// checkImage checks an image from its name, its size and its header, never its pixels.
func (s *Server) checkImage(u upload) string {
	ext := strings.TrimPrefix(filepath.Ext(u.name), ".")
	if !s.fault(FaultExtensionCase) {
		ext = strings.ToLower(ext)
	}
	if !allowedExt[ext] {
		return fmt.Sprintf("File extension %q is not allowed. Allowed extensions are: tiff, jpg, jpeg, png, webp.", ext)
	}
	if len(u.data) == 0 {
		return "The submitted file is empty."
	}
	if len(u.data) > maxImage {
		return fmt.Sprintf("Ensure this file has at most %d bytes.", maxImage)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(u.data))
	if err != nil || (format != "jpeg" && format != "png" && format != "webp" && format != "tiff") {
		return "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels && !s.fault(FaultNoPixelLimit) {
		return fmt.Sprintf("Ensure the image has at most 40 megapixels (it has %d x %d).", cfg.Width, cfg.Height)
	}
	return ""
}

func parseThreshold(v string) (float64, string) {
	if !numberRe.MatchString(v) {
		return 0, "A valid number is required."
	}
	var t float64
	if _, err := fmt.Sscan(v, &t); err != nil || math.IsInf(t, 0) || math.IsNaN(t) {
		return 0, "A valid number is required."
	}
	switch {
	case t < 0:
		return t, "Ensure this value is greater than or equal to 0."
	case t > 100:
		return t, "Ensure this value is less than or equal to 100."
	}
	return t, ""
}

func (s *Server) parseBool(v string) (bool, bool) {
	if s.fault(FaultStrictBooleans) {
		return v == "true", v == "true" || v == "false"
	}
	switch strings.ToLower(v) {
	case "true", "t", "1", "yes", "y", "on":
		return true, true
	case "false", "f", "0", "no", "n", "off":
		return false, true
	}
	return false, false
}

// parseMetadata checks metadata is a JSON object and returns it sorted and compact.
func parseMetadata(v string) (json.RawMessage, string) {
	if utf8.RuneCountInString(v) > maxMetadata {
		return nil, fmt.Sprintf("Ensure this field has no more than %d characters.", maxMetadata)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, "Value must be valid JSON."
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, "Value must be a JSON object."
	}
	b, err := marshal(doc)
	if err != nil {
		return nil, "Value must be valid JSON."
	}
	return b, ""
}

// marshal writes v compact, with sorted keys and no HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decode reads JSON keeping numbers as written.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// faceMatch is POST /v3/face-match/: validation, then the sandbox's fixed answer, or credits,
// the backend's comparison, the session and its webhooks.
func (s *Server) faceMatch(w http.ResponseWriter, r *http.Request, c caller) {
	f, errs := s.parseFaceMatch(w, r)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	created := time.Now()
	if c.app.Sandbox {
		fm, err := s.sandboxExample(r.Header.Get("Prefer"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, fieldErrors{"non_field_errors": {err.Error()}})
			return
		}
		id := newUUID()
		if s.fault(FaultSandboxSaves) {
			s.saveSession(r, c, f, id, created, fm)
		}
		s.answer(w, id, fm, f, created)
		return
	}
	if !s.reserveCredit(c.org.ID) {
		writeRaw(w, http.StatusForbidden, notEnoughCredits)
		return
	}
	status, body, err := s.compare(r.Context(), f)
	if err != nil || status != http.StatusOK {
		s.refund(c.org.ID)
		if err == nil && status == http.StatusBadRequest {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write(body)
			return
		}
		writeJSON(w, http.StatusBadGateway, map[string]string{"detail": fmt.Sprintf("The face comparison failed (%d, %v).", status, err)})
		return
	}
	doc, err := decode(body)
	m, _ := doc.(map[string]any)
	fm, _ := m["face_match"].(map[string]any)
	if err != nil || fm == nil {
		s.refund(c.org.ID)
		writeJSON(w, http.StatusBadGateway, map[string]string{"detail": "The face comparison answered no face_match."})
		return
	}
	if s.fault(FaultApproveAtThreshold) {
		if sc, ok := fm["score"].(json.Number); ok {
			if v, err := sc.Float64(); err == nil && v == f.threshold {
				fm["status"], fm["warnings"] = "Approved", []any{}
			}
		}
	}
	if s.fault(FaultDeclinedFree) && fm["status"] == "Declined" {
		s.refund(c.org.ID)
	}
	id := newUUID()
	if f.save {
		if noPair(fm) {
			fm["score"] = nil
		}
		if err := s.saveSession(r, c, f, id, created, fm); err != nil {
			s.refund(c.org.ID)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "The session could not be saved."})
			return
		}
	}
	s.answer(w, id, fm, f, created)
}

func noPair(fm map[string]any) bool {
	ws, _ := fm["warnings"].([]any)
	for _, w := range ws {
		if m, ok := w.(map[string]any); ok && m["risk"] == "NO_REFERENCE_IMAGE" {
			return true
		}
	}
	return false
}

func (s *Server) answer(w http.ResponseWriter, id string, fm map[string]any, f *form, created time.Time) {
	out := map[string]any{"request_id": id, "face_match": fm, "vendor_data": f.vendorData, "created_at": timestamp(created)}
	if f.vendorData == nil {
		out["vendor_data"] = nil
	}
	if f.metadata != nil {
		out["metadata"] = f.metadata
	} else if !s.fault(FaultOmitNullMetadata) {
		out["metadata"] = nil
	}
	if s.fault(FaultCreatedAtSeconds) {
		out["created_at"] = created.UTC().Format("2006-01-02T15:04:05") + "+00:00"
	}
	b, err := marshal(out)
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, `{"detail": "A server error occurred."}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// sandboxExample is the sandbox answer a Prefer: example=NAME header asks for (FM-SBX-2):
// approved (the default), declined or no_face.
func (s *Server) sandboxExample(prefer string) (map[string]any, error) {
	name := "approved"
	for _, pref := range strings.FieldsFunc(prefer, func(r rune) bool { return r == ',' || r == ';' }) {
		if k, v, ok := strings.Cut(strings.TrimSpace(pref), "="); ok && strings.EqualFold(k, "example") {
			name = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if s.fault(FaultPreferIgnored) {
		name = "approved"
	}
	fm := sandboxFaceMatch()
	warning := func(risk, short string, data any) []any {
		return []any{map[string]any{"feature": "FACEMATCH", "risk": risk, "log_type": "error", "short_description": short,
			"long_description": short + " (the reference's sandbox example).", "additional_data": data, "node_id": nil}}
	}
	switch name {
	case "approved":
	case "declined":
		fm["status"], fm["score"] = "Declined", json.Number("12.4")
		fm["warnings"] = warning("LOW_FACE_MATCH_SIMILARITY", "The faces are not similar enough", nil)
	case "no_face":
		fm["status"], fm["score"] = "Declined", nil
		fm["user_image"] = map[string]any{"entities": []any{}, "best_angle": 0}
		fm["warnings"] = warning("NO_REFERENCE_IMAGE", "No face to compare", map[string]any{"user_image_faces": 0, "ref_image_faces": 1})
	default:
		return nil, fmt.Errorf("unknown sandbox example %q: the examples are approved, declined and no_face", name)
	}
	return fm, nil
}

// sandboxFaceMatch is the reference's own fixed sandbox answer.
func sandboxFaceMatch() map[string]any {
	entity := func(x, y, side int, age float64, gender string) map[string]any {
		return map[string]any{"bbox": []int{x, y, x + side, y + side}, "confidence": 0.991, "age": age, "gender": gender}
	}
	return map[string]any{
		"status":     "Approved",
		"score":      json.Number("91.27"),
		"user_image": map[string]any{"entities": []any{entity(64, 48, 180, 29.5, "female")}, "best_angle": 0},
		"ref_image":  map[string]any{"entities": []any{entity(210, 96, 240, 27.0, "female")}, "best_angle": 0},
		"warnings":   []any{},
	}
}

// reserveCredit takes one credit of the organization, or says there is none.
func (s *Server) reserveCredit(orgID string) bool {
	if s.fault(FaultBillingRace) {
		var credits int64
		s.st.view(func(st *state) { credits = st.Orgs[orgID].Credits })
		if credits <= 0 {
			return false
		}
		time.Sleep(100 * time.Millisecond) // the window in which concurrent calls all see credit
		s.st.update(func(st *state) error { st.Orgs[orgID].Credits--; return nil })
		return true
	}
	ok := false
	s.st.update(func(st *state) error {
		if o := st.Orgs[orgID]; o != nil && o.Credits > 0 {
			o.Credits--
			ok = true
		}
		return nil
	})
	return ok
}

func (s *Server) refund(orgID string) {
	s.st.update(func(st *state) error {
		if o := st.Orgs[orgID]; o != nil {
			o.Credits++
		}
		return nil
	})
}

// compare asks the backend to compare the two images, unsaved, and returns its answer.
func (s *Server) compare(ctx context.Context, f *form) (int, []byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range []struct {
		field string
		u     upload
	}{{"user_image", f.user}, {"ref_image", f.ref}} {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, "image."+strings.ToLower(strings.TrimPrefix(filepath.Ext(p.u.name), "."))))
		h.Set("Content-Type", "application/octet-stream")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return 0, nil, err
		}
		pw.Write(p.u.data)
	}
	if f.thresholdRaw != "" {
		mw.WriteField("face_match_score_decline_threshold", f.thresholdRaw)
	}
	mw.WriteField("rotate_image", fmt.Sprint(f.rotate))
	mw.WriteField("save_api_request", "false")
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Backend+"/v3/face-match/", &buf)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-api-key", s.cfg.BackendKey)
	res, err := s.backend.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}
