package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/sse"
)

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
	sink := sse.NewWriter(w)
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
