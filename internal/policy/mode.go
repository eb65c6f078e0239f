package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Mode is a security mode: the set of kubectl commands an executor runs.
// The zero value means ReadOnly.
type Mode string

// The security modes, from the most to the least restrictive.
const (
	// ReadOnly allows commands that only read cluster state (the default).
	ReadOnly Mode = "readOnly"
	// ExtendedReadOnly adds non-interactive exec, which runs programs inside
	// containers (and so can read whatever those containers can read).
	ExtendedReadOnly Mode = "extendedReadOnly"
	// FullAccess adds the commands that change cluster state.
	FullAccess Mode = "fullAccess"
)

// ParseMode accepts the three mode names case-insensitively, plus their
// dashed spellings read-only, extended-read-only and full-access (and
// underscores for dashes). The empty string is ReadOnly.
func ParseMode(s string) (Mode, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.NewReplacer("-", "", "_", "").Replace(k)
	switch k {
	case "", "readonly":
		return ReadOnly, nil
	case "extendedreadonly":
		return ExtendedReadOnly, nil
	case "fullaccess":
		return FullAccess, nil
	}
	return "", fmt.Errorf("unknown security mode %q (expected readOnly, extendedReadOnly or fullAccess)", s)
}

// String returns the mode's name; the zero value prints as readOnly.
func (m Mode) String() string {
	if m == "" {
		return string(ReadOnly)
	}
	return string(m)
}

// UnmarshalText lets configuration decoders (encoding/json, YAML) accept
// every spelling ParseMode accepts and reject anything else.
func (m *Mode) UnmarshalText(text []byte) error {
	v, err := ParseMode(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// readOnlyCommands, extendedCommands and fullAccessCommands are the command
// paths each mode adds to the previous one. An entry allows every command
// whose path starts with its words ("create" allows "create secret generic").
var (
	readOnlyCommands = []string{
		"api-resources", "api-versions", "auth can-i", "cluster-info", "describe",
		"events", "explain", "get", "kubently logsearch", "kubently triage", "logs", "rollout history",
		"rollout status", "top", "version",
	}
	extendedCommands   = []string{"exec"}
	fullAccessCommands = []string{
		"annotate", "autoscale", "cordon", "create", "delete", "drain", "expose", "label", "patch",
		"rollout pause", "rollout restart", "rollout resume", "rollout undo", "run", "scale", "set",
		"taint", "uncordon",
	}
)

// modeCommands returns the command paths a mode allows, sorted.
func modeCommands(m Mode) []string {
	var out []string
	switch m {
	case FullAccess:
		out = append(out, fullAccessCommands...)
		fallthrough
	case ExtendedReadOnly:
		out = append(out, extendedCommands...)
		fallthrough
	case ReadOnly, "":
		out = append(out, readOnlyCommands...)
	}
	sort.Strings(out)
	return out
}

// pathHasPrefix reports whether the words of prefix start the words of path.
func pathHasPrefix(path, prefix string) bool {
	p, q := strings.Fields(path), strings.Fields(prefix)
	if len(q) == 0 || len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// modeAllows reports whether a mode allows a command path.
func modeAllows(m Mode, path string) bool {
	for _, e := range modeCommands(m) {
		if pathHasPrefix(path, e) {
			return true
		}
	}
	return false
}

// modeAllowsVerb reports whether a mode allows at least one command under verb.
func modeAllowsVerb(m Mode, verb string) bool {
	for _, e := range modeCommands(m) {
		if strings.Fields(e)[0] == verb {
			return true
		}
	}
	return false
}

// minimumMode returns the least permissive mode allowing path, or "" if none.
func minimumMode(path string) Mode {
	for _, m := range []Mode{ReadOnly, ExtendedReadOnly, FullAccess} {
		if modeAllows(m, path) {
			return m
		}
	}
	return ""
}
