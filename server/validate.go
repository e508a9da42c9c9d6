package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/facematch/facematch"
)

// validation is what the validate middleware learnt of a request: its body, read once, or,
// when it is multipart/form-data, the body's form instead, and the field-keyed complaints of
// openapi.yaml about it.
type validation struct {
	body   []byte
	form   *form
	fields facematch.FieldErrors
}

// faceMatchForm checks the request's form by the face-match rules (reading it now if validate
// did not) and adds openapi.yaml's complaints about fields the rules did not already name. A
// schema's complaint about the body as a whole goes when the rules found anything, since theirs
// says what is wrong in the API's words.
func (v *validation) faceMatchForm(contentType string) (*faceMatchForm, facematch.FieldErrors) {
	in := v.form
	if in == nil {
		in = readForm(contentType, v.body)
	}
	f, fields := checkFaceMatchForm(in)
	return f, v.merge(fields)
}

// merge adds openapi.yaml's complaints to a handler's own (ours) and returns them: a field the
// handler named keeps the handler's messages, and a schema complaint about the body as a whole
// goes when the handler found anything, since the handler's says what is wrong in the API's
// words.
func (v *validation) merge(ours facematch.FieldErrors) facematch.FieldErrors {
	for field, msgs := range v.fields {
		if _, have := ours[field]; !have && !(field == "non_field_errors" && len(ours) > 0) {
			ours[field] = msgs
		}
	}
	return ours
}

// validatedHandler serves a request that validate has read and checked; v holds the body and
// openapi.yaml's complaints about it.
type validatedHandler func(w http.ResponseWriter, r *http.Request, v *validation)

// validate reads the body (bounded) and checks the request against its operation in
// openapi.yaml with kin-openapi, before any handler runs. Handlers add the checks a schema cannot
// express and answer every complaint at once (FM-VAL-1).
func (s *Server) validate(next validatedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			s.writeError(w, r, facematch.Errorf(facematch.EINVALID,
				"The request body is too large: at most %d bytes (two images of at most %d bytes and the other fields).", MaxBodyBytes, MaxImageBytes))
		}
		// A body declared larger than the limit is refused unread.
		if r.ContentLength > MaxBodyBytes {
			tooLarge()
			return
		}
		// At most MaxInFlight bodies, of at most BodyMemory bytes in all, are held at once; the
		// others wait their turn, unread. This bounds the memory requests take, whatever the
		// load and the size of the photos. A request without a body waits for neither.
		reserved := r.ContentLength
		if reserved < 0 {
			reserved = MaxBodyBytes
		}
		if reserved > 0 {
			select {
			case s.bodies <- struct{}{}:
				defer func() { <-s.bodies }()
			case <-r.Context().Done():
				s.writeError(w, r, r.Context().Err())
				return
			}
			if err := s.bodyMem.Acquire(r.Context(), reserved); err != nil {
				s.writeError(w, r, err)
				return
			}
			defer func() { s.bodyMem.Release(reserved) }()
		}
		body, err := readBody(w, r)
		if r.ContentLength < 0 && err == nil {
			// A body of unknown length reserved the most it could be; keep what it is.
			s.bodyMem.Release(reserved - int64(len(body)))
			reserved = int64(len(body))
		}
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				tooLarge()
				return
			}
			s.writeError(w, r, facematch.Errorf(facematch.EINVALID, "The request body could not be read."))
			return
		}
		v := &validation{body: body, fields: facematch.FieldErrors{}}
		req := r.Clone(r.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		if route, params, err := s.oaRouter.FindRoute(req); err == nil {
			err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
				Request:    req,
				PathParams: params,
				Route:      route,
				Options: &openapi3filter.Options{
					MultiError:         true,
					ExcludeRequestBody: true,
					AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				},
			})
			translateOpenAPIError(err, v.fields)
			translateOpenAPIError(validateBody(r, route, v), v.fields)
		}
		if v.form != nil {
			// The form's parts are copies: keeping the body too would double what a live call
			// holds while it waits for a worker (docs/scaling.md).
			v.body, body = nil, nil
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r, v)
	})
}

// validateBody checks the body read once against its operation's request body in openapi.yaml,
// as kin-openapi's ValidateRequestBody does (declared content type, required body, decoding,
// schema), without reading and copying the body again. A multipart/form-data body is read
// into its parts here, once, and kept in v for the handler.
func validateBody(r *http.Request, route *routers.Route, v *validation) error {
	rb := route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	if len(v.body) == 0 {
		if rb.Value.Required {
			return &openapi3filter.RequestError{RequestBody: rb.Value, Err: openapi3filter.ErrInvalidRequired}
		}
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt := rb.Value.Content.Get(ct)
	if mt == nil {
		return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: fmt.Sprintf("header Content-Type has unexpected value %q", ct)}
	}
	if mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: "failed to decode request body"}
	}
	var value any
	if mediaType == "multipart/form-data" {
		v.form = readForm(ct, v.body)
		if v.form.problem != "" {
			return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: "failed to decode request body"}
		}
		value = v.form.schemaValue(mt.Schema.Value)
	} else {
		decode := openapi3filter.RegisteredBodyDecoder(mediaType)
		if decode == nil {
			return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: "failed to decode request body"}
		}
		value, err = decode(bytes.NewReader(v.body), r.Header, mt.Schema, func(name string) *openapi3.Encoding { return mt.Encoding[name] })
		if err != nil {
			return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: "failed to decode request body", Err: err}
		}
	}
	if err := mt.Schema.Value.VisitJSON(value, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
		return &openapi3filter.RequestError{RequestBody: rb.Value, Reason: "doesn't match schema", Err: err}
	}
	return nil
}

// readBody reads the body, at most MaxBodyBytes of it, into a buffer sized from Content-Length
// so that it is not grown and copied as it comes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	size := r.ContentLength
	if size < 0 || size > MaxBodyBytes {
		size = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	return buf.Bytes(), err
}

// translateOpenAPIError turns kin-openapi's validation errors into field-keyed messages in the
// words of FM-VAL-1. Its error texts are never shown: they quote the schema and the values.
func translateOpenAPIError(err error, out facematch.FieldErrors) {
	if err == nil {
		return
	}
	var multi openapi3.MultiError
	if errors.As(err, &multi) && len(multi) > 0 && !isRequestError(err) {
		for _, e := range multi {
			translateOpenAPIError(e, out)
		}
		return
	}
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		if reqErr.Err == nil {
			if reqErr.RequestBody != nil || reqErr.Parameter == nil {
				out.Add("non_field_errors", bodyProblem(reqErr.Reason))
				return
			}
			out.Add(reqErr.Parameter.Name, "Invalid value.")
			return
		}
		if errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired) {
			out.Add("non_field_errors", "The request body is empty.")
			return
		}
		var inner openapi3.MultiError
		if errors.As(reqErr.Err, &inner) {
			for _, e := range inner {
				translateOpenAPIError(e, out)
			}
			return
		}
		translateOpenAPIError(reqErr.Err, out)
		return
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		field := "non_field_errors"
		if ptr := se.JSONPointer(); len(ptr) > 0 {
			field = ptr[0]
		}
		out.Add(field, schemaMessage(se))
		return
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		if path := pe.Path(); len(path) > 0 {
			if name, ok := path[0].(string); ok {
				out.Add(name, "A valid value is required.")
				return
			}
		}
		out.Add("non_field_errors", "The request body could not be parsed.")
		return
	}
	out.Add("non_field_errors", "Invalid request.")
}

func isRequestError(err error) bool {
	var reqErr *openapi3filter.RequestError
	return errors.As(err, &reqErr)
}

// bodyProblem words a problem with the body as a whole.
func bodyProblem(reason string) string {
	if bytes.Contains([]byte(reason), []byte("Content-Type")) {
		return "Unsupported media type: the body must be multipart/form-data for this operation, or application/json where the API takes JSON."
	}
	return "The request body could not be parsed."
}

// schemaMessage words one schema violation the way the API's clients expect (Django REST
// framework's messages).
func schemaMessage(se *openapi3.SchemaError) string {
	sch := se.Schema
	switch se.SchemaField {
	case "required":
		return msgRequired
	case "maximum":
		if sch != nil && sch.Max != nil {
			return fmt.Sprintf("Ensure this value is less than or equal to %s.", formatNumber(*sch.Max))
		}
	case "minimum":
		if sch != nil && sch.Min != nil {
			return fmt.Sprintf("Ensure this value is greater than or equal to %s.", formatNumber(*sch.Min))
		}
	case "maxLength":
		if sch != nil && sch.MaxLength != nil {
			return fmt.Sprintf("Ensure this field has no more than %d characters.", *sch.MaxLength)
		}
	case "minLength":
		return "This field may not be blank."
	case "nullable":
		return "This field may not be null."
	case "pattern":
		return "This value does not have the expected form."
	case "enum":
		return "This is not a valid choice."
	case "type":
		if sch != nil && sch.Type != nil && sch.Type.Is("number") {
			return msgNumber
		}
		if sch != nil && sch.Type != nil && sch.Type.Is("boolean") {
			return msgBoolean
		}
		return "This value has the wrong type."
	case "minItems":
		return "This list may not be empty."
	}
	return "Invalid value."
}

func formatNumber(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}

// The messages of FM-VAL-1 and FM-VAL-2.
const (
	msgRequired = "This field is required."
	msgBoolean  = "Must be a valid boolean."
	msgNumber   = "A valid number is required."
)
