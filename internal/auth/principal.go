// Package auth identifies who is calling Kubently: clients by X-API-Key or an
// OIDC bearer token, executors by a per-cluster bearer token. It produces a
// Principal (identity, role, allowed clusters) that the rest of the server
// reads from the request context. Secrets are compared in constant time and
// never logged; executor tokens are stored only as SHA-256 hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Principal is an authenticated client.
type Principal struct {
	ID     string
	Role   string
	Method string // "api_key" or "oidc"
	// Clusters, when non-nil, is the only set of clusters the principal may
	// see or use; nil means all clusters.
	Clusters []string
}

// IsAdmin reports the admin role.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin }

// CanAccessCluster reports whether the principal may see and use a cluster.
func (p *Principal) CanAccessCluster(id string) bool {
	if p == nil {
		return false
	}
	return p.Clusters == nil || slices.Contains(p.Clusters, id)
}

type principalKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Digest hashes a secret for storage and constant-time comparison.
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DigestEqual compares two digests in constant time.
func DigestEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// NewSecret returns a random URL-safe secret with the given prefix, from the
// system CSPRNG (32 bytes of entropy).
func NewSecret(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// NewID returns prefix + n random characters [a-z0-9] from the CSPRNG, for
// session and result ids.
func NewID(prefix string, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var sb strings.Builder
	sb.WriteString(prefix)
	buf := make([]byte, n+8)
	for sb.Len() < len(prefix)+n {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		for _, c := range buf {
			// Reject bytes >= 252 (7*36) so every character is equally likely.
			if c < 252 && sb.Len() < len(prefix)+n {
				sb.WriteByte(alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return sb.String()
}
