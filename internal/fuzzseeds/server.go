package fuzzseeds

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/facematch/facematch/internal/testimg"
)

// Metadata are metadata field values: objects, non-objects, numbers past a double, bad
// Unicode, duplicate keys, deep nesting, trailing text.
var Metadata = []string{
	`{}`, `{"flow":"login","n":1,"f":1.5,"t":true,"z":null,"a":[1,{"b":"c"}]}`, `[1,2]`, `"text"`, `null`, `1`,
	`{"a":1e400}`, `{"a":-0}`, `{"a":12345678901234567890123}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	`{"a":1,"a":2}`, `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, `{"a":1} x`, ` {"a" : 1 } `,
	`{"é":"ü","emoji":"\u00e9\ud83d\ude00"}`, `{`, `{"a":}`, ``,
}

// Destinations are bodies of the destination endpoints: valid, refused addresses, wrong
// types, over-long fields.
var Destinations = []string{
	`{"label":"backend","url":"https://example.com/hooks","subscribed_events":["status.updated"],"enabled":true}`,
	`{"rotate_secret_key":true}`,
	`{"label":"x","url":"http://internal.example/"}`,
	`{"label":" ","url":"ftp://example.com/","subscribed_events":[],"enabled":"yes"}`,
	`{"label":"x","url":"https://user:pw@example.com/","subscribed_events":["status.updated","status.updated","other"]}`,
	`{"url":"http://169.254.169.254/latest/meta-data/"}`,
	`{"label":"x","url":"http://[::1]:8080/"}`,
	`{"enabled":null,"label":null}`,
	`[]`, `null`, `{}`, `{"label":1,"url":2,"subscribed_events":"status.updated"}`,
	`{"label":"` + strings.Repeat("é", 256) + `","url":"https://example.com/` + strings.Repeat("a", 2048) + `"}`,
	"{\"label\":\"\xff\",\"url\":\"http://example.com\"}",
}

// Form is one face-match request body with its Content-Type.
type Form struct {
	Name, ContentType string
	Body              []byte
}

// formPart is one part of a hand-made multipart body.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

// multipartBody writes parts as a multipart body with a fixed boundary.
func multipartBody(parts ...formPart) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.SetBoundary("fuzzboundary")
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, _ := w.CreatePart(h)
		pw.Write(p.data)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// Forms are face-match forms: valid ones with a tiny image of each format, and every kind
// of malformation the API answers 400 to.
func Forms(maxParts int) ([]Form, error) {
	var encErr error
	encode := func(img image.Image, format string) []byte {
		b, err := testimg.EncodeBytes(img, format)
		if err != nil && encErr == nil {
			encErr = err
		}
		return b
	}
	img := image.NewRGBA(image.Rect(0, 0, 6, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	jpg := encode(img, "jpeg")
	pngData := encode(img, "png")
	images := []struct {
		name string
		data []byte
	}{{"a.jpg", jpg}, {"a.png", pngData}, {"a.webp", encode(img, "webp")}, {"a.tiff", encode(img, "tiff")}}
	var seeds []Form
	add := func(name string, parts ...formPart) {
		ct, body := multipartBody(parts...)
		seeds = append(seeds, Form{name, ct, body})
	}
	for _, im := range images {
		name, data := im.name, im.data
		add("valid-"+strings.TrimPrefix(name, "a."),
			formPart{name: "user_image", filename: name, data: data, contentType: "application/octet-stream"},
			formPart{name: "ref_image", filename: name, data: data},
			formPart{name: "face_match_score_decline_threshold", data: []byte("55.5")},
			formPart{name: "rotate_image", data: []byte("Yes")},
			formPart{name: "save_api_request", data: []byte("off")},
			formPart{name: "vendor_data", data: []byte("user-123 é")},
			formPart{name: "metadata", data: []byte(`{"flow":"login","n":[1,2.5]}`)},
			formPart{name: "unknown", data: []byte("ignored")})
	}
	user := formPart{name: "user_image", filename: "u.jpg", data: jpg}
	ref := formPart{name: "ref_image", filename: "r.png", data: pngData}
	add("minimal", user, ref)
	add("png-named-jpg", formPart{name: "user_image", filename: "u.jpg", data: pngData}, ref)
	add("jpg-named-png", user, formPart{name: "ref_image", filename: "r.png", data: jpg})
	add("no-extension", formPart{name: "user_image", filename: "u", data: jpg}, ref)
	add("empty-image", formPart{name: "user_image", filename: "u.jpg"}, ref)
	add("image-as-text", formPart{name: "user_image", data: jpg}, ref)
	add("truncated-image", formPart{name: "user_image", filename: "u.jpg", data: jpg[:len(jpg)/2]}, ref)
	add("exif-orientation-65535", formPart{name: "user_image", filename: "u.jpg", data: testimg.WithJPEGOrientation(jpg, 65535)}, ref)
	add("bomb", formPart{name: "user_image", filename: "u.png", data: testimg.PNGBomb(20000, 20000)}, ref)
	add("twice", user, user, ref)
	add("bad-fields", user, ref,
		formPart{name: "face_match_score_decline_threshold", data: []byte("NaN")},
		formPart{name: "rotate_image", data: []byte("maybe")},
		formPart{name: "vendor_data", data: []byte("\xff\xfe")},
		formPart{name: "metadata", data: []byte(`[1`)})
	add("json-part", user, ref, formPart{name: "metadata", contentType: "application/json", data: []byte(`{"a":[[[[1]]]]}`)})
	add("yaml-part", user, ref, formPart{name: "vendor_data", contentType: "application/yaml", data: []byte("a: &a [x]\nb: [*a, *a]\n")})
	add("nested-multipart", user, ref, formPart{name: "vendor_data", contentType: "multipart/form-data; boundary=x", data: []byte("--x\r\n\r\nv\r\n--x--\r\n")})
	add("no-parts")
	var many []formPart
	for range maxParts + 5 {
		many = append(many, formPart{name: "x", data: []byte("y")})
	}
	add("too-many-parts", many...)
	// Malformations a multipart.Writer would not make.
	ct, valid := multipartBody(user, ref)
	seeds = append(seeds,
		Form{"unterminated", ct, valid[:len(valid)-20]},
		Form{"wrong-boundary", "multipart/form-data; boundary=other", valid},
		Form{"no-boundary", "multipart/form-data", valid},
		Form{"json", "application/json", []byte(`{"user_image":"x"}`)},
		Form{"urlencoded", "application/x-www-form-urlencoded", []byte("user_image=x&ref_image=y")},
		Form{"no-content-type", "", valid},
		Form{"bad-header", ct, []byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"user_image\r\n\r\nx\r\n--fuzzboundary--\r\n")},
		Form{"quoted-boundary", `multipart/form-data; boundary="fuzzboundary"`, valid},
		Form{"lf-only", ct, bytes.ReplaceAll(valid, []byte("\r\n"), []byte("\n"))},
		Form{"empty", ct, nil},
	)
	return seeds, encErr
}
