package kube

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Secret redaction.
//
// Every response that passes through the runner's transport is inspected
// before any kubectl code sees it. Secret objects (kind Secret, the items of a
// SecretList, Secrets inside a List, the objects embedded in a server-side
// Table, and the objects of a watch stream) get:
//
//   - each data value replaced by a placeholder of the same decoded length
//     ('*' bytes, base64-encoded), so `kubectl describe secret` still prints
//     the right byte counts and `-o yaml` still shows which keys exist;
//   - each stringData value replaced by '*' characters of the same length;
//   - the kubectl.kubernetes.io/last-applied-configuration annotation value
//     (which holds a copy of the data) replaced by RedactedAnnotation.
//
// Requests for core/v1 secrets are forced to JSON (protobuf, CBOR or YAML
// would bypass the JSON rewrite), and a non-JSON answer for them is refused.

// RedactedAnnotation replaces the value of a Secret's
// kubectl.kubernetes.io/last-applied-configuration annotation.
const RedactedAnnotation = "[redacted by kubently]"

// lastAppliedAnnotation holds a full copy of an applied object, Secret data included.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// placeholderByte fills redacted secret values.
const placeholderByte = '*'

// redactTransport rewrites responses so that no Secret value reaches kubectl.
type redactTransport struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *redactTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := parseAPIPath(req.URL.Path)
	secretPath := a.isSecretPath()
	if secretPath {
		req = withJSONAccept(req)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	mediaType, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	if !isJSON {
		if secretPath && resp.ContentLength != 0 && req.Method != http.MethodHead {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("kubently: refusing a %q response for secrets: only JSON can be redacted", mediaType)
		}
		return resp, nil
	}
	body := resp.Body
	if enc := resp.Header.Get("Content-Encoding"); enc != "" {
		if !strings.EqualFold(enc, "gzip") {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("kubently: refusing a JSON response with content encoding %q: it cannot be checked for secrets", enc)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("kubently: reading gzip response: %w", err)
		}
		body = struct {
			io.Reader
			io.Closer
		}{zr, resp.Body}
		resp.Header.Del("Content-Encoding")
	}
	isWatch := a.watch || params["stream"] == "watch" || isTrue(req.URL.Query().Get("watch"))
	if isWatch {
		resp.Body = &watchRedactor{dec: newJSONDecoder(body), src: body, secretPath: secretPath}
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
		return resp, nil
	}
	raw, err := io.ReadAll(body)
	_ = body.Close()
	if err != nil {
		return nil, err
	}
	out, err := redactJSON(raw, secretPath)
	if err != nil {
		if secretPath || bytes.Contains(raw, []byte("Secret")) {
			return nil, fmt.Errorf("kubently: refusing an unparsable JSON response that may hold secrets: %w", err)
		}
		out = raw
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return resp, nil
}

func isTrue(s string) bool { return s == "true" || s == "1" }

// withJSONAccept returns a copy of req whose Accept header keeps only JSON
// media types (falling back to plain application/json).
func withJSONAccept(req *http.Request) *http.Request {
	var keep []string
	for _, part := range strings.Split(req.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/json" {
			keep = append(keep, strings.TrimSpace(part))
		}
	}
	if len(keep) == 0 {
		keep = []string{"application/json"}
	}
	accept := strings.Join(keep, ",")
	if accept == req.Header.Get("Accept") {
		return req
	}
	r := req.Clone(req.Context())
	r.Header.Set("Accept", accept)
	return r
}

func newJSONDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.UseNumber() // keep integers exact (no float64 round trip)
	return d
}

// redactJSON returns body with every Secret value redacted. Bodies that
// cannot contain a Secret are returned unchanged without being parsed.
func redactJSON(body []byte, secretPath bool) ([]byte, error) {
	if !secretPath && !bytes.Contains(body, []byte("Secret")) {
		return body, nil
	}
	dec := newJSONDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON document")
	}
	if !redactValue(v, secretPath) {
		return body, nil
	}
	return marshalJSON(v)
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// redactValue walks a decoded JSON document and redacts every Secret in it.
// secretPath says the document came from a core/v1 secrets URL, where every
// object (typed, partial metadata, list item without kind) is a Secret.
// It reports whether anything changed.
func redactValue(v any, secretPath bool) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		kind, _ := t["kind"].(string)
		if kind == "Secret" || (secretPath && isObjectLike(t)) {
			changed = redactSecretObject(t) || changed
		}
		if kind == "SecretList" {
			if items, ok := t["items"].([]any); ok {
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						changed = redactSecretObject(m) || changed
					}
				}
			}
		}
		for _, child := range t {
			changed = redactValue(child, secretPath) || changed
		}
	case []any:
		for _, child := range t {
			changed = redactValue(child, secretPath) || changed
		}
	}
	return changed
}

// isObjectLike reports whether m looks like a Kubernetes object (it has
// metadata with a name), as opposed to a list, table, status or watch event.
func isObjectLike(m map[string]any) bool {
	md, ok := m["metadata"].(map[string]any)
	if !ok {
		return false
	}
	_, hasName := md["name"]
	return hasName
}

// redactSecretObject redacts data, stringData and the last-applied annotation
// of one Secret object in place.
func redactSecretObject(m map[string]any) bool {
	changed := false
	if data, ok := m["data"].(map[string]any); ok {
		for k, val := range data {
			s, ok := val.(string)
			if !ok {
				if val != nil {
					data[k] = ""
					changed = true
				}
				continue
			}
			n := len(s)
			if decoded, err := base64.StdEncoding.DecodeString(s); err == nil {
				n = len(decoded)
			}
			repl := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{placeholderByte}, n))
			if repl != s {
				data[k] = repl
				changed = true
			}
		}
	}
	if sd, ok := m["stringData"].(map[string]any); ok {
		for k, val := range sd {
			s, _ := val.(string)
			repl := strings.Repeat(string(placeholderByte), len(s))
			if val != repl {
				sd[k] = repl
				changed = true
			}
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			if v, ok := ann[lastAppliedAnnotation]; ok && v != RedactedAnnotation {
				ann[lastAppliedAnnotation] = RedactedAnnotation
				changed = true
			}
		}
	}
	return changed
}

// watchRedactor re-encodes a JSON watch stream event by event, redacting
// Secrets in each event before kubectl reads it.
type watchRedactor struct {
	dec        *json.Decoder
	src        io.Closer
	secretPath bool
	pending    []byte
	err        error
}

// Read implements io.Reader.
func (w *watchRedactor) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.err != nil {
			return 0, w.err
		}
		var raw json.RawMessage
		if err := w.dec.Decode(&raw); err != nil {
			w.err = err
			continue
		}
		out, err := redactJSON(raw, w.secretPath)
		if err != nil {
			w.err = fmt.Errorf("kubently: refusing a watch event that cannot be checked for secrets: %w", err)
			continue
		}
		w.pending = append(append(w.pending[:0], out...), '\n')
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

// Close implements io.Closer.
func (w *watchRedactor) Close() error { return w.src.Close() }
