package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/problem"
)

// sseWriter writes Server-Sent Events and flushes each one. Every write gets
// its own deadline, so a stalled peer cannot hold a handler forever even
// though the server has no global WriteTimeout for streams.
type sseWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

// Send writes one event whose data is v as JSON.
func (s *sseWriter) Send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if event != "" {
		if _, err := fmt.Fprintf(s.w, "event: %s\n", event); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func splitVerbs(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (s *Server) executorHeartbeat(w http.ResponseWriter, r *http.Request) error {
	execID := r.Header.Get(api.HeaderExecutorID)
	if !safeID.MatchString(execID) {
		return problem.Invalid(api.HeaderExecutorID, "invalid_value", "A valid %s header is required", api.HeaderExecutorID)
	}
	if err := s.Dispatcher.Beat(r.Context(), r.Header.Get(api.HeaderClusterID), execID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) executorStream(w http.ResponseWriter, r *http.Request) error {
	clusterID := r.Header.Get(api.HeaderClusterID)
	execID := r.Header.Get(api.HeaderExecutorID)
	if execID == "" {
		return problem.Missing(api.HeaderExecutorID)
	}
	if !safeID.MatchString(execID) {
		return problem.Invalid(api.HeaderExecutorID, "invalid_value", "Invalid %s header", api.HeaderExecutorID)
	}
	token := bearer(r)
	req := dispatch.StreamRequest{
		ClusterID:  clusterID,
		ExecutorID: execID,
		Info: cluster.StreamInfo{
			AgentVersion:      r.Header.Get(api.HeaderExecutorVersion),
			KubernetesVersion: r.Header.Get(api.HeaderKubernetesVersion),
			SecurityMode:      r.Header.Get(api.HeaderSecurityMode),
			AllowedVerbs:      splitVerbs(r.Header.Get(api.HeaderAllowedVerbs)),
		},
	}
	req.StillValid = func(ctx context.Context) error { return s.Clusters.VerifyExecutor(ctx, clusterID, token) }
	sink := newSSE(w)
	err := s.Dispatcher.Serve(r.Context(), req, sink)
	if err != nil {
		reason := "stream ended: " + err.Error()
		if errors.Is(err, dispatch.ErrRevoked) {
			reason = "executor token revoked"
		}
		_ = sink.Send("error", map[string]string{"message": reason})
		s.log.Info("executor stream ended", "cluster", clusterID, "reason", err)
	}
	return nil
}
