package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/kubently/kubently/api"
)

// The OpenAPI document is generated from the route table and the wire types,
// so every served route is documented with its real request and response
// shapes. testdata/openapi.golden.json pins it; change it with -update.

var timeType = reflect.TypeOf(api.Time{})

type schemaGen struct {
	components map[string]any
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		s := g.schema(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
			return s
		}
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object", "additionalProperties": true}
		}
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if _, done := g.components[name]; !done {
			g.components[name] = nil // break cycles
			g.components[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")
		if tag[0] == "-" || !f.IsExported() {
			continue
		}
		name := tag[0]
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": d}
			} else {
				s["description"] = d
			}
		}
		if e := f.Tag.Get("enum"); e != "" {
			s["enum"] = strings.Split(e, ",")
		}
		props[name] = s
		omitempty := len(tag) > 1 && strings.Contains(strings.Join(tag[1:], ","), "omitempty")
		if f.Tag.Get("required") == "true" || !omitempty {
			required = append(required, name)
		}
	}
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	return o
}

var rateHeaders = map[string]any{
	"X-RateLimit-Limit":     map[string]any{"description": "Requests allowed per minute in this endpoint's class", "schema": map[string]any{"type": "integer"}},
	"X-RateLimit-Remaining": map[string]any{"description": "Requests left in the current window", "schema": map[string]any{"type": "integer"}},
	"X-RateLimit-Reset":     map[string]any{"description": "Unix time (seconds) when the budget is full again", "schema": map[string]any{"type": "integer"}},
}

// buildOpenAPI renders the document for routes.
func buildOpenAPI(routes []Route, version string) map[string]any {
	g := &schemaGen{components: map[string]any{}}
	paths := map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
		}
		if rt.Description != "" {
			op["description"] = rt.Description
		}
		switch rt.Access {
		case Public:
			op["security"] = []any{}
		case Client, Admin:
			op["security"] = []any{map[string]any{"ApiKeyAuth": []string{}}, map[string]any{"OIDCBearer": []string{}}}
		case Executor:
			op["security"] = []any{map[string]any{"ExecutorToken": []string{}, "ExecutorCluster": []string{}}}
		}
		var params []any
		for _, p := range rt.Params {
			s := map[string]any{"type": p.Type}
			if len(p.Enum) > 0 {
				s["enum"] = p.Enum
			}
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.Required, "description": p.Description, "schema": s})
		}
		for _, h := range []string{api.HeaderRequestID, api.HeaderCorrelationID} {
			params = append(params, map[string]any{"name": h, "in": "header", "required": false, "description": "Echoed on the response", "schema": map[string]any{"type": "string"}})
		}
		op["parameters"] = params
		if rt.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Request))},
			}}
		}
		resps := map[string]any{}
		for code, body := range rt.Responses {
			r := map[string]any{"description": http.StatusText(code)}
			if body != nil {
				ct := "application/json"
				if rt.Stream && code == http.StatusOK {
					ct = "text/event-stream"
				}
				r["content"] = map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(body))}}
			} else if code == http.StatusOK {
				ct := map[string]string{"/metrics": "text/plain", "/docs": "text/html", "/openapi.json": "application/json"}[rt.Path]
				if ct != "" {
					r["content"] = map[string]any{ct: map[string]any{}}
				}
			}
			if rt.Rate != "" && code != http.StatusUnauthorized {
				r["headers"] = rateHeaders
			}
			if code == http.StatusTooManyRequests {
				r["headers"] = mergeHeaders(rateHeaders, map[string]any{"Retry-After": map[string]any{"description": "Seconds to wait", "schema": map[string]any{"type": "integer"}}})
			}
			if code == http.StatusUnauthorized {
				r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"description": "Accepted authentication schemes", "schema": map[string]any{"type": "string"}}}
			}
			resps[strconv.Itoa(code)] = r
		}
		op["responses"] = resps
		// "/a2a/{$}" is the mux's exact-match spelling of "/a2a/".
		docPath := strings.TrimSuffix(rt.Path, "{$}")
		item, _ := paths[docPath].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[docPath] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Kubently API",
			"version":     version,
			"description": "Debug Kubernetes clusters through executors that dial out to this API. Errors are always {error, message, details?}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"ApiKeyAuth":      map[string]any{"type": "apiKey", "in": "header", "name": api.HeaderAPIKey, "description": "Client API key (identity:key entries in API_KEYS)"},
				"OIDCBearer":      map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "OIDC ID token, when an issuer is configured"},
				"ExecutorToken":   map[string]any{"type": "http", "scheme": "bearer", "description": "Executor token of the cluster named in X-Cluster-ID"},
				"ExecutorCluster": map[string]any{"type": "apiKey", "in": "header", "name": api.HeaderClusterID, "description": "Cluster id of the executor"},
			},
		},
	}
}

func mergeHeaders(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	path := strings.TrimSuffix(rt.Path, "{$}")
	for _, part := range strings.FieldsFunc(path, func(r rune) bool {
		return r == '/' || r == '-' || r == '.' || r == '{' || r == '}' || r == '_' || r == '$'
	}) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	if strings.HasSuffix(path, "/") && path != "/" {
		b.WriteString("Slash")
	}
	return b.String()
}

// OpenAPI returns the document as indented JSON.
func (s *Server) OpenAPI() []byte { return s.openapi }

func renderOpenAPI(routes []Route, version string) []byte {
	b, err := json.MarshalIndent(buildOpenAPI(routes, version), "", "  ")
	if err != nil {
		panic("openapi: " + err.Error()) // only static types are rendered
	}
	return append(b, '\n')
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
	return nil
}
