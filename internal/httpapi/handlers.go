package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/audit"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/session"
)

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	h := api.Health{Status: "healthy", Version: s.Version, Timestamp: api.NewTime(time.Now()), UptimeSeconds: int64(time.Since(s.started).Seconds()), Store: s.Store.Name()}
	status := http.StatusOK
	if err := s.readyCheck(r.Context()); err != nil {
		h.Status, h.Store, status = "unhealthy", s.Store.Name()+": "+err.Error(), http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

func (s *Server) liveness(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, probeBody{Status: "ok"})
	return nil
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) error {
	if err := s.readyCheck(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, probeBody{Status: "unavailable", Reason: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, probeBody{Status: "ok"})
	return nil
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateSessionRequest
	if err := DecodeBody(r, &req, s.MaxBodyBytes); err != nil {
		return err
	}
	if err := s.Clusters.Visible(r.Context(), principal(r), req.ClusterID); err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTLSeconds != nil {
		if *req.TTLSeconds < 60 || *req.TTLSeconds > 86400 {
			return problem.Invalid("ttl_seconds", "invalid_value", "ttl_seconds must be between 60 and 86400, got %d", *req.TTLSeconds)
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	cid := CorrelationID(r.Context())
	if v, ok := req.Metadata["correlation_id"].(string); ok && v != "" {
		cid = v
	}
	rec, err := s.Sessions.Create(r.Context(), principal(r), session.CreateRequest{ClusterID: req.ClusterID, Metadata: req.Metadata, TTL: ttl, CorrelationID: cid})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/debug/session/"+rec.ID)
	writeJSON(w, http.StatusCreated, s.Sessions.View(rec))
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.Sessions.Get(r.Context(), principal(r), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.Sessions.View(rec))
	return nil
}

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.Sessions.Close(r.Context(), principal(r), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.CloseSessionResponse{SessionID: rec.ID, Status: api.SessionClosed, ClosedAt: api.NewTime(rec.ClosedAt)})
	return nil
}

// intParam reads an optional integer query parameter within [min, max].
func intParam(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, problem.Invalid(name, "invalid_value", "%s must be an integer between %d and %d, got %q", name, min, max, v)
	}
	return n, nil
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", 50, 1, 1000)
	if err != nil {
		return err
	}
	status := q.Get("status")
	switch status {
	case "", api.SessionActive, api.SessionIdle, api.SessionExpired, api.SessionClosed:
	default:
		return problem.Invalid("status", "invalid_value", "status must be one of active, idle, expired, closed; got %q", status)
	}
	if c := q.Get("cluster_id"); c != "" {
		if err := cluster.ValidateID("cluster_id", c); err != nil {
			return err
		}
	}
	recs, total, err := s.Sessions.List(r.Context(), session.Filter{ClusterID: q.Get("cluster_id"), Status: status, Limit: limit, Visible: principal(r)})
	if err != nil {
		return err
	}
	out := api.SessionList{Sessions: make([]api.Session, 0, len(recs)), Total: total}
	for _, rec := range recs {
		out.Sessions = append(out.Sessions, s.Sessions.View(rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request) error {
	var req api.ExecuteRequest
	if err := DecodeBody(r, &req, s.MaxBodyBytes); err != nil {
		return err
	}
	if err := cluster.ValidateID("cluster_id", req.ClusterID); err != nil {
		return err
	}
	var timeout time.Duration
	if req.Timeout != nil {
		timeout = time.Duration(*req.Timeout) * time.Second
		if timeout <= 0 {
			return problem.Invalid("timeout", "invalid_value", "timeout must be a positive number of seconds, got %d", *req.Timeout)
		}
	}
	p := principal(r)
	rec, err := s.Dispatcher.Submit(r.Context(), p, dispatch.Request{
		ClusterID: req.ClusterID, SessionID: req.SessionID, CommandType: req.CommandType, Args: req.Args,
		Timeout: timeout, CorrelationID: CorrelationID(r.Context()), RequestID: requestID(r.Context()), Source: "rest",
	})
	if err != nil {
		return err
	}
	if req.Async {
		w.Header().Set("Location", "/debug/result/"+rec.ID)
		writeJSON(w, http.StatusAccepted, api.AsyncAccepted{ResultID: rec.ID, SessionID: rec.SessionID, ClusterID: rec.ClusterID, Status: api.StatusPending})
		return nil
	}
	rec, err = s.Dispatcher.Wait(r.Context(), rec)
	if err != nil {
		return err
	}
	if rec.Denial != nil {
		return dispatch.DeniedError(rec.Denial)
	}
	writeJSON(w, http.StatusOK, rec.View())
	return nil
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.Dispatcher.Get(r.Context(), principal(r), r.PathValue("result_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec.View())
	return nil
}

func (s *Server) clusterView(ctx context.Context, id string) (api.Cluster, error) {
	n, err := s.Sessions.ActiveCount(ctx, id)
	if err != nil {
		return api.Cluster{}, err
	}
	return s.Clusters.View(ctx, id, n)
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) error {
	ids, err := s.Clusters.IDs(r.Context())
	if err != nil {
		return err
	}
	out := api.ClusterList{Clusters: []api.Cluster{}}
	p := principal(r)
	for _, id := range ids {
		if !p.CanAccessCluster(id) {
			continue
		}
		c, err := s.clusterView(r.Context(), id)
		if err != nil {
			return err
		}
		out.Clusters = append(out.Clusters, c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("cluster_id")
	if err := s.Clusters.Visible(r.Context(), principal(r), id); err != nil {
		return err
	}
	c, err := s.clusterView(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) createAgentToken(w http.ResponseWriter, r *http.Request) error {
	tok, err := s.Clusters.CreateToken(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		return err
	}
	s.log.Info("executor token created", "cluster", tok.ClusterID, "by", principal(r).ID)
	writeJSON(w, http.StatusCreated, tok)
	return nil
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) error {
	agents, err := s.Clusters.Agents(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AgentList{Agents: agents})
	return nil
}

func (s *Server) revokeAgentToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("cluster_id")
	if err := cluster.ValidateID("cluster_id", id); err != nil {
		return err
	}
	if err := s.Clusters.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	s.log.Info("executor token revoked", "cluster", id, "by", principal(r).ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, problem.Invalid(name, "invalid_value", "%s must be an RFC 3339 time, got %q", name, v)
	}
	return t, nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	q := r.URL.Query()
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	until, err := timeParam(r, "until")
	if err != nil {
		return err
	}
	f := audit.Filter{ClusterID: q.Get("cluster_id"), SessionID: q.Get("session_id"), Since: since, Until: until, Limit: limit, Clusters: p.Clusters}
	if !p.IsAdmin() {
		f.Principal = p.ID
	}
	entries, err := s.Audit.Query(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AuditList{Entries: entries})
	return nil
}

func (s *Server) postResult(w http.ResponseWriter, r *http.Request) error {
	var res api.Result
	if err := DecodeBody(r, &res, executorResultMaxBytes); err != nil {
		return err
	}
	rec, dup, err := s.Dispatcher.Ingest(r.Context(), r.Header.Get(api.HeaderClusterID), res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resultAck{Accepted: !dup, Duplicate: dup, Status: rec.Status})
	return nil
}

// executorResultMaxBytes bounds a result post: the executor caps output at
// 1 MiB by default, and JSON escaping can grow it.
const executorResultMaxBytes = 8 << 20

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.Metrics.Handler().ServeHTTP(w, r)
	return nil
}
