// Package cluster is the registry of clusters Kubently can reach: executor
// tokens (created through the admin API and stored as hashes, or static from
// configuration), what each executor reported when it connected, and presence
// derived from live stream leases. A cluster is known once it has a token.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
)

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateID checks that a cluster id is a DNS-1123 label.
func ValidateID(field, id string) error {
	if id == "" {
		return problem.Missing(field)
	}
	if len(id) > 63 || !dns1123Label.MatchString(id) {
		return problem.Invalid(field, "invalid_value", "Invalid %s %q: must be a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)", field, id)
	}
	return nil
}

// TokenRecord is a stored executor token hash.
type TokenRecord struct {
	ClusterID string    `json:"cluster_id"`
	Digest    string    `json:"digest"`
	CreatedAt time.Time `json:"created_at"`
}

// Info is what the executors of a cluster last reported.
type Info struct {
	ClusterID         string    `json:"cluster_id"`
	Name              string    `json:"name,omitempty"`
	AgentVersion      string    `json:"agent_version,omitempty"`
	KubernetesVersion string    `json:"kubernetes_version,omitempty"`
	SecurityMode      string    `json:"security_mode,omitempty"`
	AllowedVerbs      []string  `json:"allowed_verbs,omitempty"`
	LastSeen          time.Time `json:"last_seen"`
}

// Registry is the cluster registry over a store.
type Registry struct {
	st     store.Store
	tokens store.Collection[TokenRecord]
	infos  store.Collection[Info]
	static map[string]string // cluster -> token digest, from configuration
	now    func() time.Time
}

// ParseStaticTokens reads "cluster_id:token" entries from configuration.
func ParseStaticTokens(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for i, e := range entries {
		id, tok, ok := strings.Cut(e, ":")
		id, tok = strings.TrimSpace(id), strings.TrimSpace(tok)
		if !ok || tok == "" {
			return nil, fmt.Errorf("executor token entry %d: want cluster_id:token", i+1)
		}
		if err := ValidateID("cluster_id", id); err != nil {
			return nil, fmt.Errorf("executor token entry %d: %v", i+1, err)
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("executor token entry %d (%s): token must be at least 16 characters", i+1, id)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("executor token entry %d: cluster %s configured twice", i+1, id)
		}
		out[id] = auth.Digest(tok)
	}
	return out, nil
}

// NewRegistry returns a registry; static maps cluster ids to token digests.
func NewRegistry(st store.Store, static map[string]string) *Registry {
	return &Registry{
		st:     st,
		tokens: store.NewCollection[TokenRecord](st, store.KindToken),
		infos:  store.NewCollection[Info](st, store.KindCluster),
		static: static,
		now:    time.Now,
	}
}

// RevokeTopic is the notifier topic that cuts a cluster's live streams.
func RevokeTopic(clusterID string) string { return "revoke:" + clusterID }

// CreateToken mints a new executor token for a cluster; the caller shows it
// once. It is a conflict when the cluster already has one.
func (r *Registry) CreateToken(ctx context.Context, clusterID string) (api.AgentToken, error) {
	if err := ValidateID("cluster_id", clusterID); err != nil {
		return api.AgentToken{}, err
	}
	if _, ok := r.static[clusterID]; ok {
		return api.AgentToken{}, problem.Conflict("Cluster %s already has a token (from configuration)", clusterID)
	}
	tok := auth.NewSecret("kbt_")
	rec := TokenRecord{ClusterID: clusterID, Digest: auth.Digest(tok), CreatedAt: r.now().UTC()}
	if err := r.tokens.Create(ctx, clusterID, rec, time.Time{}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.AgentToken{}, problem.Conflict("Cluster %s already has a token; revoke it first to issue a new one", clusterID)
		}
		return api.AgentToken{}, err
	}
	return api.AgentToken{ClusterID: clusterID, Token: tok, CreatedAt: api.NewTime(rec.CreatedAt)}, nil
}

// RevokeToken deletes a cluster's stored token and cuts its live streams.
func (r *Registry) RevokeToken(ctx context.Context, clusterID string) error {
	if _, ok := r.static[clusterID]; ok {
		return problem.Conflict("The token of cluster %s comes from configuration; remove it there", clusterID)
	}
	if err := r.tokens.Delete(ctx, clusterID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return problem.NotFound("No executor token for cluster: %s", clusterID)
		}
		return err
	}
	return r.st.Publish(ctx, RevokeTopic(clusterID))
}

// VerifyExecutor checks an executor's bearer token for its own cluster.
func (r *Registry) VerifyExecutor(ctx context.Context, clusterID, token string) error {
	if clusterID == "" || token == "" {
		return problem.Unauthorized("Executor credentials required: Authorization: Bearer <token> and X-Cluster-ID")
	}
	d := auth.Digest(token)
	if want, ok := r.static[clusterID]; ok && auth.DigestEqual(want, d) {
		return nil
	}
	rec, err := r.tokens.Get(ctx, clusterID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return problem.Unauthorized("Invalid executor token for cluster %s", clusterID)
		}
		return err
	}
	if !auth.DigestEqual(rec.Digest, d) {
		return problem.Unauthorized("Invalid executor token for cluster %s", clusterID)
	}
	return nil
}

// Known reports whether a cluster is registered: it has a token, or an
// executor of it has connected before. A cluster whose token was revoked
// (e.g. during a rotation) thus stays visible as disconnected.
func (r *Registry) Known(ctx context.Context, clusterID string) (bool, error) {
	if _, ok := r.static[clusterID]; ok {
		return true, nil
	}
	for _, kind := range []string{store.KindToken, store.KindCluster} {
		_, err := r.st.Get(ctx, kind, clusterID)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	return false, nil
}

// Visible answers not_found for a cluster that is unknown or hidden from p,
// so that the two look the same; an invalid id is invalid_request.
func (r *Registry) Visible(ctx context.Context, p *auth.Principal, clusterID string) error {
	if err := ValidateID("cluster_id", clusterID); err != nil {
		return err
	}
	known, err := r.Known(ctx, clusterID)
	if err != nil {
		return err
	}
	if !known || !p.CanAccessCluster(clusterID) {
		return problem.NotFound("Cluster not found: %s", clusterID)
	}
	return nil
}

// IDs lists every registered cluster id, sorted.
func (r *Registry) IDs(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	for id := range r.static {
		set[id] = true
	}
	for _, kind := range []string{store.KindToken, store.KindCluster} {
		if err := r.st.Scan(ctx, kind, func(id string, _ []byte) bool { set[id] = true; return true }); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Agents lists registered executor identities (clusters with a token) for
// the admin API.
func (r *Registry) Agents(ctx context.Context) ([]api.Agent, error) {
	set := map[string]bool{}
	for id := range r.static {
		set[id] = true
	}
	if err := r.tokens.Scan(ctx, func(id string, _ TokenRecord) bool { set[id] = true; return true }); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []api.Agent{}
	for _, id := range ids {
		a := api.Agent{ClusterID: id, Source: "config"}
		if _, ok := r.static[id]; !ok {
			a.Source = "api"
			if rec, err := r.tokens.Get(ctx, id); err == nil {
				a.CreatedAt = api.TimePtr(rec.CreatedAt)
			}
		}
		p, err := r.Presence(ctx, id)
		if err != nil {
			return nil, err
		}
		a.Status = p.Status()
		out = append(out, a)
	}
	return out, nil
}

// Report records what a connecting executor said about itself.
func (r *Registry) Report(ctx context.Context, info Info) error {
	info.LastSeen = r.now().UTC()
	return r.infos.Put(ctx, info.ClusterID, info, time.Time{})
}

// Seen moves a cluster's last_seen forward (called on every keepalive).
func (r *Registry) Seen(ctx context.Context, clusterID string) error {
	_, err := r.infos.Update(ctx, clusterID, func(i *Info) (time.Time, error) {
		i.LastSeen = r.now().UTC()
		return time.Time{}, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return r.Report(ctx, Info{ClusterID: clusterID})
	}
	return err
}

// Presence is a cluster's live streams and last report.
type Presence struct {
	Info    Info
	Streams []store.Lease
}

// Status is connected while some stream is live.
func (p Presence) Status() string {
	if len(p.Streams) > 0 {
		return api.ClusterConnected
	}
	return api.ClusterDisconnected
}

// Connected reports whether some replica holds a live stream.
func (p Presence) Connected() bool { return len(p.Streams) > 0 }

// StreamInfo is what an executor reports on its stream (kept in its lease).
type StreamInfo struct {
	AgentVersion      string   `json:"agent_version,omitempty"`
	KubernetesVersion string   `json:"kubernetes_version,omitempty"`
	SecurityMode      string   `json:"security_mode,omitempty"`
	AllowedVerbs      []string `json:"allowed_verbs,omitempty"`
}

// Modes lists the security modes the live executors reported.
func (p Presence) Modes() []string {
	var out []string
	for _, l := range p.Streams {
		var si StreamInfo
		if json.Unmarshal(l.Info, &si) == nil && si.SecurityMode != "" && !slices.Contains(out, si.SecurityMode) {
			out = append(out, si.SecurityMode)
		}
	}
	return out
}

// Presence reads a cluster's live streams and last report.
func (r *Registry) Presence(ctx context.Context, clusterID string) (Presence, error) {
	var p Presence
	info, err := r.infos.Get(ctx, clusterID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return p, err
	}
	p.Info = info
	p.Info.ClusterID = clusterID
	p.Streams, err = r.st.Streams(ctx, clusterID, r.now())
	return p, err
}

// View renders a cluster for the API. activeSessions is supplied by the
// session service.
func (r *Registry) View(ctx context.Context, clusterID string, activeSessions int) (api.Cluster, error) {
	p, err := r.Presence(ctx, clusterID)
	if err != nil {
		return api.Cluster{}, err
	}
	depth, err := r.st.Depth(ctx, clusterID, r.now())
	if err != nil {
		return api.Cluster{}, err
	}
	name := p.Info.Name
	if name == "" {
		name = clusterID
	}
	return api.Cluster{
		ClusterID:         clusterID,
		Name:              name,
		Status:            p.Status(),
		AgentVersion:      p.Info.AgentVersion,
		LastSeen:          api.TimePtr(p.Info.LastSeen),
		KubernetesVersion: p.Info.KubernetesVersion,
		SecurityMode:      p.Info.SecurityMode,
		AllowedVerbs:      p.Info.AllowedVerbs,
		Executors:         len(p.Streams),
		ActiveSessions:    activeSessions,
		QueueDepth:        depth,
	}, nil
}
