package httpapi

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/telemetry"
)

// TestInternalErrorsHideTheirCause checks that unexpected errors and panics
// answer 500 internal_error with only the request id, and log the cause.
func TestInternalErrorsHideTheirCause(t *testing.T) {
	var logs strings.Builder
	s := New(Deps{
		Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		Metrics: telemetry.NewMetrics(),
		Mounts: []Route{
			{Method: "GET", Path: "/boom", Access: Public, Handle: func(w http.ResponseWriter, r *http.Request) error {
				return errors.New("dial tcp 10.0.0.7:6379: password=hunter2 rejected")
			}},
			{Method: "GET", Path: "/panic", Access: Public, Handle: func(w http.ResponseWriter, r *http.Request) error {
				panic("nil map write at secret.go:42")
			}},
		},
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, path := range []string{"/boom", "/panic"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var body api.Error
		json.Unmarshal(b, &body)
		rid := res.Header.Get(api.HeaderRequestID)
		if res.StatusCode != 500 || body.Code != api.CodeInternal || body.Message != "An unexpected error occurred" || body.Details["request_id"] != rid || rid == "" {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "secret.go") || strings.Contains(string(b), "goroutine") {
			t.Fatalf("%s: the cause leaked: %s", path, b)
		}
		if !strings.Contains(logs.String(), rid) {
			t.Fatalf("%s: request id not logged", path)
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// TestOpenAPIGolden pins the OpenAPI document: a change to a route or a wire
// type shows up as a reviewable diff of testdata/openapi.golden.json.
func TestOpenAPIGolden(t *testing.T) {
	s := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: telemetry.NewMetrics(), Version: "golden"})
	got := s.OpenAPI()
	path := filepath.Join("testdata", "openapi.golden.json")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/httpapi -run OpenAPIGolden -update)", err)
	}
	if string(got) != string(want) {
		t.Fatal("the OpenAPI document changed; review and run go test ./internal/httpapi -run OpenAPIGolden -update")
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	// Every operation documents its error bodies with the shared schema.
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			for code, r := range op.(map[string]any)["responses"].(map[string]any) {
				if code[0] == '4' || code[0] == '5' {
					c, _ := r.(map[string]any)["content"].(map[string]any)
					if path != "/health" && path != "/readyz" && !strings.Contains(fmt.Sprint(c), "#/components/schemas/Error") {
						t.Errorf("%s %s %s: error response without the Error schema", method, path, code)
					}
				}
			}
		}
	}
}
