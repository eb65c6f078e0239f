package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
)

// issuer is a real OIDC provider on loopback: discovery document and JWKS,
// tokens signed with RS256. It can be switched off to test fail-closed.
type issuer struct {
	t    *testing.T
	srv  *httptest.Server
	key  *rsa.PrivateKey
	kid  string
	down atomic.Bool
}

func newIssuer(t *testing.T) *issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{t: t, key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys", "authorization_endpoint": is.srv.URL + "/auth",
			"token_endpoint": is.srv.URL + "/token", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) token(claims map[string]any, key *rsa.PrivateKey) string {
	is.t.Helper()
	if key == nil {
		key = is.key
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		is.t.Fatal(err)
	}
	base := map[string]any{"iss": is.srv.URL, "aud": "kubently", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "sub": "user-123"}
	for k, v := range claims {
		base[k] = v
	}
	raw, err := jwt.Signed(sig).Claims(base).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return raw
}

func TestOIDC(t *testing.T) {
	is := newIssuer(t)
	e := newEnv(t, func(c *config.API) {
		c.OIDCIssuer, c.OIDCAudience = is.srv.URL, "kubently"
		c.OIDCAdminGroups = []string{"sre-admins"}
		c.OIDCClusterGroups = []string{"team-a=prod"}
	})
	e.registerCluster("prod")
	e.registerCluster("dev")
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	// A valid token: identity from email; a user, not an admin.
	tok := is.token(map[string]any{"email": "dana@example.com", "groups": []string{"devs"}}, nil)
	r := e.do("POST", "/debug/session", "", map[string]any{"cluster_id": "dev"}, bearer(tok)...)
	var s api.Session
	r.json(t, &s)
	if r.status != 201 || s.Owner != "dana@example.com" {
		t.Fatalf("OIDC session: %d %s", r.status, r.body)
	}
	e.expect(e.do("GET", "/clusters", "", nil, bearer(tok)...), 403, api.CodeForbidden)
	// Without email, sub is the identity.
	r = e.do("POST", "/debug/session", "", map[string]any{"cluster_id": "dev"}, bearer(is.token(nil, nil))...)
	r.json(t, &s)
	if s.Owner != "user-123" {
		t.Fatalf("identity from sub: %s", r.body)
	}
	// The admin group gives the admin role.
	admin := is.token(map[string]any{"email": "ops@example.com", "groups": []string{"sre-admins"}}, nil)
	if r := e.do("GET", "/clusters", "", nil, bearer(admin)...); r.status != 200 {
		t.Fatalf("admin via group: %d %s", r.status, r.body)
	}
	// A cluster group limits its members to its clusters.
	teamA := is.token(map[string]any{"email": "ann@example.com", "groups": []string{"team-a"}}, nil)
	e.expect(e.do("POST", "/debug/session", "", map[string]any{"cluster_id": "dev"}, bearer(teamA)...), 404, api.CodeNotFound)
	if r := e.do("POST", "/debug/session", "", map[string]any{"cluster_id": "prod"}, bearer(teamA)...); r.status != 201 {
		t.Fatalf("team-a on prod: %d", r.status)
	}
	// Tokens that must not verify.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := map[string]string{
		"wrong audience": is.token(map[string]any{"aud": "someone-else"}, nil),
		"expired":        is.token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}, nil),
		"wrong issuer":   is.token(map[string]any{"iss": "https://evil.example"}, nil),
		"wrong key":      is.token(nil, other),
		"garbage":        "not.a.jwt",
	}
	for name, tok := range bad {
		r := e.do("GET", "/clusters/prod/status", "", nil, bearer(tok)...)
		e.expect(r, 401, api.CodeUnauthorized)
		if !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
}

func TestOIDCFailsClosedAndRecovers(t *testing.T) {
	is := newIssuer(t)
	is.down.Store(true)
	e := newEnv(t, func(c *config.API) { c.OIDCIssuer, c.OIDCAudience = is.srv.URL, "kubently" })
	e.registerCluster("prod")
	tok := is.token(map[string]any{"email": "dana@example.com"}, nil)
	e.expect(e.do("GET", "/clusters/prod/status", "", nil, "Authorization", "Bearer "+tok), 401, api.CodeUnauthorized)
	// API keys keep working while the issuer is down.
	if r := e.do("GET", "/clusters/prod/status", aliceKey, nil); r.status != 200 {
		t.Fatalf("API key while issuer down: %d", r.status)
	}
	is.down.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.do("GET", "/clusters/prod/status", "", nil, "Authorization", "Bearer "+tok)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OIDC never recovered: %d %s", r.status, r.body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestOIDCIssuerUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	e := newEnv(t, func(c *config.API) { c.OIDCIssuer, c.OIDCAudience = "http://"+addr, "kubently" })
	start := time.Now()
	e.expect(e.do("GET", "/health", "", nil), 200, "")
	e.expect(e.do("GET", "/debug/sessions", "", nil, "Authorization", "Bearer x.y.z"), 401, api.CodeUnauthorized)
	if time.Since(start) > 12*time.Second {
		t.Fatalf("an unreachable issuer made a request hang for %s", time.Since(start))
	}
}
