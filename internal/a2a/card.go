package a2a

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"

	"github.com/kubently/kubently/api"
)

// Names of the security schemes in the agent card.
const (
	SchemeAPIKey = "apiKey"
	SchemeBearer = "bearer"
)

// cardCacheControl lets clients and proxies reuse the card for five minutes;
// the ETag makes revalidation cheap.
const cardCacheControl = "public, max-age=300"

// cardSource builds the agent card. The card only depends on the base URL,
// so rendered cards are memoized per base URL.
type cardSource struct {
	d Deps

	mu       sync.Mutex
	rendered map[string]renderedCard
}

type renderedCard struct {
	body []byte
	etag string
}

func newCardSource(d Deps) *cardSource {
	return &cardSource{d: d, rendered: map[string]renderedCard{}}
}

func (c *cardSource) capabilities() sdk.AgentCapabilities {
	return sdk.AgentCapabilities{Streaming: true, ExtendedAgentCard: true}
}

// card is a pure A2A 1.0 agent card whose JSON-RPC interface is at base+/a2a.
func (c *cardSource) card(base string) *sdk.AgentCard {
	schemes := sdk.NamedSecuritySchemes{
		SchemeAPIKey: sdk.APIKeySecurityScheme{
			Location:    sdk.APIKeySecuritySchemeLocationHeader,
			Name:        api.HeaderAPIKey,
			Description: "Kubently client API key",
		},
	}
	reqs := sdk.SecurityRequirementsOptions{{SchemeAPIKey: sdk.SecuritySchemeScopes{}}}
	if c.d.BearerAuth {
		schemes[SchemeBearer] = sdk.HTTPAuthSecurityScheme{Scheme: "Bearer", BearerFormat: "JWT", Description: "OIDC ID token of the configured issuer"}
		reqs = append(reqs, sdk.SecurityRequirements{SchemeBearer: sdk.SecuritySchemeScopes{}})
	}
	return &sdk.AgentCard{
		Name:        "Kubently",
		Description: "Troubleshoots Kubernetes clusters: answers questions about workloads by running read-only kubectl commands through the executors of the clusters you may access, under your identity, policy and audit.",
		Version:     c.d.Version,
		Provider:    &sdk.AgentProvider{Org: "Kubently", URL: "https://github.com/kubently/kubently"},
		SupportedInterfaces: []*sdk.AgentInterface{
			{URL: base + PathRPC, ProtocolBinding: sdk.TransportProtocolJSONRPC, ProtocolVersion: sdk.Version},
		},
		Capabilities:         c.capabilities(),
		DefaultInputModes:    []string{"text/plain"},
		DefaultOutputModes:   []string{"text/plain", "application/json"},
		SecuritySchemes:      schemes,
		SecurityRequirements: reqs,
		Skills: []sdk.AgentSkill{
			{
				ID:          "diagnose",
				Name:        "Diagnose a Kubernetes problem",
				Description: "Investigates a question about a cluster (crashlooping pods, failing deployments, pending pods, networking) by running read-only kubectl commands and explains the cause. Put the cluster id in the message metadata as cluster_id, or name it in the question.",
				Tags:        []string{"kubernetes", "troubleshooting", "diagnosis"},
				Examples:    []string{"Why is the checkout deployment in namespace shop crashlooping?", "Are there pods in CrashLoopBackOff in cluster prod?"},
			},
			{
				ID:          "kubectl",
				Name:        "Run kubectl (read-only)",
				Description: "Runs read-only kubectl commands (get, describe, logs, events, top, explain, ...) in a cluster and summarizes the output. Each command is visible in the stream as a tool_call artifact.",
				Tags:        []string{"kubernetes", "kubectl"},
				Examples:    []string{"Run kubectl get pods -A in cluster staging", "Show the last 50 log lines of pod api-0 in namespace web"},
			},
		},
	}
}

// extended is GetExtendedAgentCard: the same card, for authenticated callers.
func (c *cardSource) extended(ctx context.Context, _ *sdk.GetExtendedAgentCardRequest) (*sdk.AgentCard, error) {
	base, _ := ctx.Value(keyBaseURL).(string)
	return c.card(base), nil
}

// render returns the card for base as JSON with its ETag.
func (c *cardSource) render(base string) (renderedCard, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.rendered[base]; ok {
		return rc, nil
	}
	b, err := json.Marshal(c.card(base))
	if err != nil {
		return renderedCard{}, err
	}
	sum := sha256.Sum256(b)
	rc := renderedCard{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if len(c.rendered) < 64 { // bound the memo against arbitrary Host headers
		c.rendered[base] = rc
	}
	return rc, nil
}

// baseURL is the configured public URL or the one the request was sent to.
func (s *service) baseURL(r *http.Request) string {
	if s.d.PublicURL != "" {
		return strings.TrimRight(s.d.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// serveCard answers GET on the agent card paths.
func (s *service) serveCard(w http.ResponseWriter, r *http.Request) error {
	rc, err := s.cards.render(s.baseURL(r))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", cardCacheControl)
	h.Set("ETag", rc.etag)
	if s.d.PublicURL == "" {
		h.Set("Vary", "Host, X-Forwarded-Proto")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, rc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rc.body)
	return nil
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// cardPreflight answers CORS preflights for the card (browsers send one
// because A2A clients add an A2A-Version header).
func (s *service) cardPreflight(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, A2A-Version, A2A-Extensions")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
