package server

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func init() {
	openapi3filter.RegisterBodyDecoder("multipart/form-data", decodeMultipart)
}

// decodeMultipart is the multipart/form-data decoder kin-openapi validates forms with. Unlike
// its own, it does not copy file parts into strings: a part whose schema is a binary string is
// read through and stands for itself with an empty value, since the bytes of an image are
// checked by the handler (extension, size, header), not by the schema. Text parts are decoded
// by their schema's type; a value that does not parse is kept as a string, so that the schema
// check names its field. The first of repeated parts is kept (the handler refuses repeats).
func decodeMultipart(body io.Reader, header http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	if schema == nil || schema.Value == nil || !schema.Value.Type.Is("object") {
		return nil, errors.New("unsupported schema of request body")
	}
	_, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return obj, nil
		}
		if err != nil {
			return nil, err
		}
		name := part.FormName()
		prop := schema.Value.Properties[name]
		_, seen := obj[name]
		if prop == nil || prop.Value == nil || seen {
			io.Copy(io.Discard, part)
			continue
		}
		if prop.Value.Format == "binary" {
			io.Copy(io.Discard, part)
			obj[name] = ""
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxTextBytes+1))
		if err != nil {
			return nil, err
		}
		obj[name] = primitive(string(data), prop.Value)
	}
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
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}
