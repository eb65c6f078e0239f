package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/problem"
)

// DecodeBody reads a JSON request body into v (a pointer to a struct) and
// turns every way it can be wrong into a precise invalid_request: too large,
// not JSON, wrong content type, unknown fields, wrong types, and required
// fields (tag required:"true") that are absent, null or empty.
func DecodeBody(r *http.Request, v any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return problem.Invalid("", "unsupported_media_type", "Content-Type must be application/json, got %q", ct)
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return problem.Invalid("", "unreadable_body", "Could not read the request body: %v", err)
	}
	if int64(len(raw)) > maxBytes {
		return problem.New(api.CodeTooLarge, "Request body exceeds the limit of %d bytes", maxBytes).WithDetails(map[string]any{"limit_bytes": maxBytes})
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return problem.Invalid("", "missing_body", "A JSON request body is required")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return problem.Invalid("", "malformed_json", "Malformed JSON at byte %d: %v", se.Offset, err)
		}
		return problem.Invalid("", "malformed_json", "The request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return problem.Invalid(te.Field, "invalid_type", "Field %s must be of type %s, got JSON %s", te.Field, jsonTypeName(te.Type), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return problem.Invalid(name, "unknown_field", "Unknown field: %s", name)
		default:
			return problem.Invalid("", "malformed_json", "Invalid request body: %v", err)
		}
	}
	return checkRequired(v, fields)
}

func checkRequired(v any, fields map[string]json.RawMessage) error {
	t := reflect.TypeOf(v).Elem()
	val := reflect.ValueOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("required") != "true" {
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		rawv, present := fields[name]
		if !present || string(bytes.TrimSpace(rawv)) == "null" {
			return problem.Missing(name)
		}
		if fv := val.Field(i); fv.Kind() == reflect.String && strings.TrimSpace(fv.String()) == "" {
			return problem.Missing(name)
		}
	}
	return nil
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array of " + jsonTypeName(t.Elem())
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return fmt.Sprint(t)
}
