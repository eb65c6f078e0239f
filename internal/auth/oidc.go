package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig configures bearer-token authentication of people.
type OIDCConfig struct {
	Issuer      string
	Audience    string
	GroupsClaim string
	AdminGroups []string
	// ClusterGroups maps a group to the clusters its members are limited to.
	ClusterGroups map[string][]string
}

// ParseClusterGroups reads entries "group=cluster1|cluster2".
func ParseClusterGroups(entries []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range entries {
		g, cs, ok := strings.Cut(e, "=")
		g = strings.TrimSpace(g)
		if !ok || g == "" {
			return nil, fmt.Errorf("OIDC cluster group entry %q: want group=cluster1|cluster2", e)
		}
		for _, c := range strings.Split(cs, "|") {
			if c = strings.TrimSpace(c); c != "" {
				out[g] = append(out[g], c)
			}
		}
	}
	return out, nil
}

// OIDC verifies JWTs from one issuer. Discovery happens lazily and is retried
// on every request until it succeeds; until then, and whenever keys cannot be
// fetched, tokens are refused (fail closed).
type OIDC struct {
	cfg OIDCConfig
	log *slog.Logger

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

// NewOIDC returns a verifier for cfg. It does not contact the issuer yet.
func NewOIDC(cfg OIDCConfig, log *slog.Logger) *OIDC {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	return &OIDC{cfg: cfg, log: log}
}

func (o *OIDC) getVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	// Do not hammer an issuer that is down: one discovery attempt per 5s.
	if time.Since(o.lastTry) < 5*time.Second && o.lastErr != nil {
		return nil, o.lastErr
	}
	o.lastTry = time.Now()
	// The provider keeps this context for fetching keys later, so it must not
	// be a request context; the client's timeout bounds every fetch instead.
	client := &http.Client{Timeout: 10 * time.Second}
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), client), o.cfg.Issuer)
	if err != nil {
		o.lastErr = fmt.Errorf("OIDC discovery of %s failed: %w", o.cfg.Issuer, err)
		o.log.Warn("OIDC discovery failed", "issuer", o.cfg.Issuer, "err", err)
		return nil, o.lastErr
	}
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.Audience})
	o.lastErr = nil
	return o.verifier, nil
}

// ErrTokenInvalid is returned for every token that does not verify.
var ErrTokenInvalid = errors.New("invalid bearer token")

// Verify checks a raw JWT and returns its principal.
func (o *OIDC) Verify(ctx context.Context, raw string) (*Principal, error) {
	v, err := o.getVerifier(ctx)
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := v.Verify(vctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	id, _ := claims["email"].(string)
	if id == "" {
		id = tok.Subject
	}
	if id == "" {
		return nil, fmt.Errorf("%w: no email or sub claim", ErrTokenInvalid)
	}
	groups := stringList(claims[o.cfg.GroupsClaim])
	p := &Principal{ID: id, Role: RoleUser, Method: "oidc"}
	for _, g := range groups {
		if slices.Contains(o.cfg.AdminGroups, g) {
			p.Role = RoleAdmin
		}
		if cs, ok := o.cfg.ClusterGroups[g]; ok {
			if p.Clusters == nil {
				p.Clusters = []string{}
			}
			for _, c := range cs {
				if !slices.Contains(p.Clusters, c) {
					p.Clusters = append(p.Clusters, c)
				}
			}
		}
	}
	return p, nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
