package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imageinfo"
	"github.com/facematch/facematch/webhook"
)

// Limits of the face-match form (FM-IMG-1, spec section 3).
const (
	MaxImageBytes      = 5 << 20 // 5 MiB per image
	MaxVendorDataChars = 1024
	MaxMetadataBytes   = 16 << 10
	// MaxMetadataDepth bounds the nesting of metadata's arrays and objects: 16 KiB can nest
	// 8,000 deep, which the webhook receivers' JSON libraries refuse (Python's stops near 1,000).
	MaxMetadataDepth = 64
	// maxParts bounds the parts of a form: ten times the fields it knows is plenty.
	maxParts = 70
	// maxTextBytes bounds a text part read into memory.
	maxTextBytes = 64 << 10
)

// allowedExtensions are the accepted file name extensions. The content need not match the
// extension (FM-IMG-1): a PNG sent as photo.jpg is read as the PNG it is, as the provider's
// Django stack reads it, since clients often send every image under one file name.
var allowedExtensions = map[string]bool{"tiff": true, "jpg": true, "jpeg": true, "png": true, "webp": true}

// upload is one image part of the form, checked down to its header.
type upload struct {
	filename string
	data     []byte
	header   imageinfo.Header
}

// faceMatchForm is a validated POST /v3/face-match/ request.
type faceMatchForm struct {
	user, ref  upload
	threshold  float64
	rotate     bool
	save       bool
	vendorData *string
	metadata   json.RawMessage
}

// numberPattern is a plain decimal number: no hex, no NaN, no infinity.
var numberPattern = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// parseBool reads the booleans of FM-VAL-2: the words Django REST framework's BooleanField
// takes, in any case, and nothing else (no surrounding spaces).
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// isOptional says whether a field of the face-match form may be left out.
func isOptional(name string) bool {
	return name != "user_image" && name != "ref_image"
}

// fieldValue is the part that stands for a field, read as Django REST framework reads form data
// (FM-VAL-5): a field sent more than once takes its last part, files too, and an optional text
// field sent blank counts as absent, so that its default applies. ok is false when the field
// is absent.
func (f *form) fieldValue(name string) (part, bool) {
	ps := f.parts[name]
	if len(ps) == 0 {
		return part{}, false
	}
	p := ps[len(ps)-1]
	if isOptional(name) && !p.isFile && len(p.data) == 0 {
		return part{}, false
	}
	return p, true
}

// checkFaceMatchForm checks the form of a face-match call: every field's rules, each image's
// extension, size and header (format and dimensions, FM-IMG-1/2), without decoding any pixel.
// All problems are returned at once, keyed by field (FM-VAL-1).
func checkFaceMatchForm(in *form) (*faceMatchForm, facematch.FieldErrors) {
	errs := facematch.FieldErrors{}
	if in.problem != "" {
		errs.Add("non_field_errors", in.problem)
		return nil, errs
	}
	f := &faceMatchForm{threshold: facematch.DefaultThreshold, save: true}
	for name := range formFields {
		p, ok := in.fieldValue(name)
		if !ok {
			if !isOptional(name) {
				errs.Add(name, msgRequired)
			}
			continue
		}
		switch name {
		case "user_image":
			f.user = checkImage(name, p, errs)
		case "ref_image":
			f.ref = checkImage(name, p, errs)
		case "face_match_score_decline_threshold":
			s := string(p.data)
			v, err := strconv.ParseFloat(s, 64)
			switch {
			case p.tooLarge || !numberPattern.MatchString(s) || err != nil || math.IsInf(v, 0) || math.IsNaN(v):
				errs.Add(name, msgNumber)
			case v < 0:
				errs.Add(name, "Ensure this value is greater than or equal to 0.")
			case v > 100:
				errs.Add(name, "Ensure this value is less than or equal to 100.")
			default:
				f.threshold = v
			}
		case "rotate_image", "save_api_request":
			b, ok := parseBool(string(p.data))
			if !ok || p.tooLarge {
				errs.Add(name, msgBoolean)
			} else if name == "rotate_image" {
				f.rotate = b
			} else {
				f.save = b
			}
		case "vendor_data":
			switch {
			case !utf8.Valid(p.data):
				errs.Add(name, "Ensure this field is valid UTF-8 text.")
			case p.tooLarge || utf8.RuneCount(p.data) > MaxVendorDataChars:
				errs.Add(name, fmt.Sprintf("Ensure this field has no more than %d characters.", MaxVendorDataChars))
			default:
				s := string(p.data)
				f.vendorData = &s
			}
		case "metadata":
			f.metadata = checkMetadata(name, p, errs)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, errs
}

// partBuffers are the scratch buffers parts are read into before being copied at their size.
var partBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readPart reads at most n bytes of a part into a slice of exactly its size, so that a request
// allocates its images once rather than at every doubling of a growing buffer.
func readPart(r io.Reader, n int64) ([]byte, error) {
	buf := partBuffers.Get().(*bytes.Buffer)
	defer partBuffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, n)); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// formFields are the fields of the face-match form; any other is ignored.
var formFields = map[string]struct{}{
	"user_image": {}, "ref_image": {}, "face_match_score_decline_threshold": {}, "rotate_image": {},
	"save_api_request": {}, "vendor_data": {}, "metadata": {},
}

// checkImage applies FM-IMG-1 and FM-IMG-2 to one image part: an allowed extension, a size,
// and a header of one of the accepted formats, whatever the extension says.
func checkImage(name string, p part, errs facematch.FieldErrors) upload {
	if !p.isFile {
		errs.Add(name, "The submitted data was not a file. Check the encoding type on the form.")
		return upload{}
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(p.filename), "."))
	switch {
	case !allowedExtensions[ext]:
		errs.Add(name, fmt.Sprintf("File extension %q is not allowed. Allowed extensions are: tiff, jpg, jpeg, png, webp.", ext))
		return upload{}
	case len(p.data) == 0:
		errs.Add(name, "The submitted file is empty.")
		return upload{}
	case p.tooLarge:
		errs.Add(name, fmt.Sprintf("Ensure this file is at most %d bytes (5 MiB).", MaxImageBytes))
		return upload{}
	}
	h, err := imageinfo.ReadHeader(p.data)
	var tooLarge *imageinfo.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		errs.Add(name, fmt.Sprintf("Image too large: %dx%d pixels; at most %d megapixels are accepted.", tooLarge.Width, tooLarge.Height, imageinfo.MaxPixels/1_000_000))
		return upload{}
	case err != nil:
		errs.Add(name, msgNotImage)
		return upload{}
	}
	return upload{filename: p.filename, data: p.data, header: h}
}

// msgNotImage is the answer for an image part that is not one (Django's ImageField message).
const msgNotImage = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."

// checkMetadata applies FM-VAL-3: a JSON object of at most 16 KiB, kept in compact form.
func checkMetadata(name string, p part, errs facematch.FieldErrors) json.RawMessage {
	if p.tooLarge || len(p.data) > MaxMetadataBytes {
		errs.Add(name, fmt.Sprintf("Ensure this field has no more than %d bytes.", MaxMetadataBytes))
		return nil
	}
	if !utf8.Valid(p.data) || !json.Valid(p.data) {
		errs.Add(name, "Value must be valid JSON.")
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p.data, &obj); err != nil || obj == nil {
		errs.Add(name, "Value must be a JSON object.")
		return nil
	}
	if jsonDepth(p.data) > MaxMetadataDepth {
		errs.Add(name, fmt.Sprintf("Ensure this value is nested at most %d levels deep.", MaxMetadataDepth))
		return nil
	}
	// The metadata travels in webhook bodies, whose canonical form needs every number to be one
	// a double can hold: 1e400 is valid JSON that no client library reads back.
	if _, err := webhook.Canonical(p.data); err != nil {
		errs.Add(name, "Value must be valid JSON: a number in it is out of range.")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p.data); err != nil {
		errs.Add(name, "Value must be valid JSON.")
		return nil
	}
	return buf.Bytes()
}

// jsonDepth is the deepest nesting of arrays and objects in a valid JSON document.
func jsonDepth(doc []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
