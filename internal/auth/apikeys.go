package auth

import (
	"fmt"
	"regexp"
	"strings"
)

// KeySet holds the configured API keys as digests.
type KeySet struct {
	entries []keyEntry
}

type keyEntry struct {
	digest string
	p      Principal
}

var identityRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// ParseKeys reads API key entries "identity:key[:role[:c1|c2]]". Errors never
// contain the key itself.
func ParseKeys(entries []string) (*KeySet, error) {
	ks := &KeySet{}
	seen := map[string]bool{}
	for i, e := range entries {
		parts := strings.Split(e, ":")
		if len(parts) < 2 || len(parts) > 4 {
			return nil, fmt.Errorf("API key entry %d: want identity:key[:role[:clusters]]", i+1)
		}
		id, key := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if !identityRE.MatchString(id) {
			return nil, fmt.Errorf("API key entry %d: invalid identity %q", i+1, id)
		}
		if len(key) < 16 {
			return nil, fmt.Errorf("API key entry %d (%s): key must be at least 16 characters", i+1, id)
		}
		role := RoleUser
		if len(parts) >= 3 && strings.TrimSpace(parts[2]) != "" {
			role = strings.ToLower(strings.TrimSpace(parts[2]))
			if role != RoleUser && role != RoleAdmin {
				return nil, fmt.Errorf("API key entry %d (%s): role must be user or admin, got %q", i+1, id, role)
			}
		}
		var clusters []string
		if len(parts) == 4 {
			for _, c := range strings.Split(parts[3], "|") {
				if c = strings.TrimSpace(c); c != "" {
					clusters = append(clusters, c)
				}
			}
			if clusters == nil {
				return nil, fmt.Errorf("API key entry %d (%s): empty cluster list", i+1, id)
			}
		}
		d := Digest(key)
		if seen[d] {
			return nil, fmt.Errorf("API key entry %d (%s): the same key is configured twice", i+1, id)
		}
		seen[d] = true
		ks.entries = append(ks.entries, keyEntry{digest: d, p: Principal{ID: id, Role: role, Method: "api_key", Clusters: clusters}})
	}
	return ks, nil
}

// Len is the number of configured keys.
func (ks *KeySet) Len() int { return len(ks.entries) }

// Lookup returns the principal of key. It compares the key's digest with
// every entry in constant time, so timing does not reveal which keys exist.
func (ks *KeySet) Lookup(key string) (*Principal, bool) {
	d := Digest(key)
	var found *Principal
	for i := range ks.entries {
		if DigestEqual(ks.entries[i].digest, d) {
			p := ks.entries[i].p
			found = &p
		}
	}
	return found, found != nil
}
