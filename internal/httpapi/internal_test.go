package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
