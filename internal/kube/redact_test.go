package kube

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// These tests drive redactTransport over real HTTP against a local server
// that answers like an API server would for shapes the test cluster cannot
// produce on demand (Lists mixing kinds, gzip, protobuf, raw watch frames).

const plainSecretJSON = `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","namespace":"n","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"k\":\"aHVudGVyMg==\"}}","other":"keep"}},"data":{"k":"aHVudGVyMg==","empty":""},"stringData":{"token":"abc123"},"type":"Opaque"}`

func TestRedactTransportShapes(t *testing.T) {
	var lastAccept string
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/n/secrets/s", func(w http.ResponseWriter, r *http.Request) {
		lastAccept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, plainSecretJSON)
	})
	mux.HandleFunc("/api/v1/secrets", func(w http.ResponseWriter, r *http.Request) {
		// Items of a typed list carry no kind.
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"SecretList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a"},"data":{"x":"c2VjcmV0"}}]}`)
	})
	mux.HandleFunc("/apis/example.com/v1/things", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"List","apiVersion":"v1","items":[`+plainSecretJSON+`,{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"},"data":{"k":"aHVudGVyMg=="}}]}`)
	})
	mux.HandleFunc("/api/v1/namespaces/n/configmaps/c", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"},"data":{"note":"the Secret is elsewhere",  "k":"aHVudGVyMg=="}}`)
	})
	mux.HandleFunc("/api/v1/namespaces/n/secrets", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "protobuf":
			w.Header().Set("Content-Type", "application/vnd.kubernetes.protobuf")
			w.Write([]byte("k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret"))
		case "gzip":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, plainSecretJSON)
			zw.Close()
		case "watch":
			w.Header().Set("Content-Type", "application/json;stream=watch")
			for _, typ := range []string{"ADDED", "MODIFIED"} {
				io.WriteString(w, `{"type":"`+typ+`","object":`+plainSecretJSON+"}\n")
			}
		case "table":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{},"columnDefinitions":[],"rows":[{"cells":["s","Opaque",2,"1d"],"object":`+plainSecretJSON+`},{"cells":["p"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"p","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"k\":\"aHVudGVyMg==\"}}"}}}}]}`)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &redactTransport{next: http.DefaultTransport}}
	get := func(path string, hdr ...string) (string, error) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	hunter := base64.StdEncoding.EncodeToString([]byte("hunter2"))
	stars := base64.StdEncoding.EncodeToString([]byte("*******"))

	body, err := get("/api/v1/namespaces/n/secrets/s", "Accept", "application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/yaml")
	if err != nil {
		t.Fatal(err)
	}
	if lastAccept != "application/json;as=Table;v=v1;g=meta.k8s.io" {
		t.Errorf("Accept sent for secrets = %q", lastAccept)
	}
	var sec map[string]any
	if err := json.Unmarshal([]byte(body), &sec); err != nil {
		t.Fatal(err)
	}
	data := sec["data"].(map[string]any)
	if data["k"] != stars || data["empty"] != "" {
		t.Errorf("data = %v", data)
	}
	if sd := sec["stringData"].(map[string]any); sd["token"] != "******" {
		t.Errorf("stringData = %v", sd)
	}
	ann := sec["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[lastAppliedAnnotation] != RedactedAnnotation || ann["other"] != "keep" {
		t.Errorf("annotations = %v", ann)
	}

	for _, path := range []string{"/api/v1/secrets", "/api/v1/namespaces/n/secrets?case=gzip", "/api/v1/namespaces/n/secrets?case=watch", "/api/v1/namespaces/n/secrets?case=table"} {
		hdr := []string{}
		if strings.Contains(path, "gzip") {
			hdr = []string{"Accept-Encoding", "gzip"} // so net/http leaves the decoding to us
		}
		body, err := get(path, hdr...)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if strings.Contains(body, hunter) || strings.Contains(body, "c2VjcmV0") || strings.Contains(body, "abc123") {
			t.Errorf("%s leaks a value:\n%s", path, body)
		}
		if !strings.Contains(body, stars) && !strings.Contains(body, "KioqKioq") {
			t.Errorf("%s: no placeholder in\n%s", path, body)
		}
	}
	// In a mixed List the Secret is redacted and the ConfigMap keeps its data.
	body, _ = get("/apis/example.com/v1/things")
	var list struct {
		Items []struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %v %s", err, body)
	}
	if list.Items[0].Kind != "Secret" || list.Items[0].Data["k"] != stars {
		t.Errorf("secret in List: %+v", list.Items[0])
	}
	if list.Items[1].Kind != "ConfigMap" || list.Items[1].Data["k"] != hunter {
		t.Errorf("configmap in List changed: %+v", list.Items[1])
	}
	// A watch stream stays a stream of one JSON document per event.
	body, _ = get("/api/v1/namespaces/n/secrets?case=watch")
	if n := strings.Count(strings.TrimSpace(body), "\n"); n != 1 {
		t.Errorf("watch stream has %d newlines:\n%s", n, body)
	}
	// A response without Secrets is passed through byte for byte.
	body, _ = get("/api/v1/namespaces/n/configmaps/c")
	if body != `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"},"data":{"note":"the Secret is elsewhere",  "k":"aHVudGVyMg=="}}` {
		t.Errorf("configmap rewritten: %s", body)
	}
	// Secrets in a format that cannot be redacted are refused.
	if _, err := get("/api/v1/namespaces/n/secrets?case=protobuf"); err == nil || !strings.Contains(err.Error(), "only JSON can be redacted") {
		t.Errorf("protobuf secrets not refused: %v", err)
	}
}

func TestRedactJSONUnchangedWithoutSecrets(t *testing.T) {
	in := []byte(`{"kind":"PodList","items":[{"metadata":{"name":"p"},"spec":{"volumes":[{"secret":{"secretName":"x"}}]}}], "n": 12345678901234567890}`)
	out, err := redactJSON(in, false)
	if err != nil || !bytes.Equal(in, out) {
		t.Fatalf("changed: %s %v", out, err)
	}
	// A large integer survives a rewrite exactly.
	in = []byte(`{"kind":"Secret","metadata":{"name":"s","generation":12345678901234567890},"data":{"a":"eA=="}}`)
	out, err = redactJSON(in, false)
	if err != nil || !bytes.Contains(out, []byte("12345678901234567890")) || !bytes.Contains(out, []byte(`"a":"Kg=="`)) {
		t.Fatalf("rewrite: %s %v", out, err)
	}
}
