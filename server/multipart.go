package server

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
)

// form is a multipart/form-data body read once into its parts. The validate middleware reads
// it to check the body against openapi.yaml, and the face-match handler checks the same parts
// against the rules a schema cannot express.
type form struct {
	// parts are the parts of the form's fields, by name, in the order they came.
	parts map[string][]part
	// problem, when not empty, is why the body could not be read as a form: the message of
	// non_field_errors. parts then holds nothing.
	problem string
}

// part is one form part as read.
type part struct {
	filename string
	isFile   bool
	data     []byte
	tooLarge bool
}

// The problems that stop a form from being read.
const (
	problemMediaType = "Unsupported media type: the body must be multipart/form-data."
	problemMalformed = "The multipart body is malformed."
)

// readForm reads the parts of a multipart/form-data body. Parts of fields the form does not know
// are skipped (FM-VAL-3); at most maxParts parts are read; a part is kept up to its field's
// limit and one byte more, so that its check can tell it is too large.
func readForm(contentType string, body []byte) *form {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return &form{problem: problemMediaType}
	}
	parts := map[string][]part{}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return &form{parts: parts}
		}
		if err != nil {
			return &form{problem: problemMalformed}
		}
		if n >= maxParts {
			return &form{problem: "The form has too many parts: at most " + strconv.Itoa(maxParts) + " are read."}
		}
		name := p.FormName()
		if _, known := formFields[name]; !known {
			io.Copy(io.Discard, p)
			continue
		}
		limit := int64(maxTextBytes)
		if name == "user_image" || name == "ref_image" {
			limit = MaxImageBytes
		}
		data, err := readPart(p, limit+1)
		if err != nil {
			return &form{problem: problemMalformed}
		}
		parts[name] = append(parts[name], part{filename: p.FileName(), isFile: p.FileName() != "", data: data, tooLarge: int64(len(data)) > limit})
	}
}

// schemaValue is the form as the value kin-openapi checks against the request body's schema.
// Each field is read as the handler reads it (FM-VAL-5): its last part, and an optional field
// sent blank is absent. An image part (a binary string) stands for itself with an empty value,
// since the bytes of an image are checked by the handler (extension, size, header), not by the
// schema. Text parts are decoded by their schema's type, booleans with the words of FM-VAL-2; a
// value that does not parse is kept as a string, so that the schema check names its field.
func (f *form) schemaValue(schema *openapi3.Schema) map[string]any {
	obj := map[string]any{}
	for name := range f.parts {
		prop := schema.Properties[name]
		if prop == nil || prop.Value == nil {
			continue
		}
		p, ok := f.fieldValue(name)
		if !ok {
			continue
		}
		if prop.Value.Format == "binary" {
			obj[name] = ""
			continue
		}
		obj[name] = primitive(string(p.data), prop.Value)
	}
	return obj
}

// primitive converts a text part to its schema's type when it parses.
func primitive(s string, sch *openapi3.Schema) any {
	switch {
	case sch.Type.Is("number"):
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case sch.Type.Is("integer"):
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	case sch.Type.Is("boolean"):
		if b, ok := parseBool(s); ok {
			return b
		}
	}
	return s
}
