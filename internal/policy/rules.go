package policy

import (
	"fmt"
	"sort"
	"strings"
)

// scope is where a command acts, for namespace rules.
type scope struct {
	cluster   bool   // no namespace is involved (version, explain, get nodes, ...)
	all       bool   // every namespace (-A, drain)
	namespace string // the one namespace otherwise
}

// commandScope works out where a command acts.
func commandScope(c *Command, defaultNamespace string) scope {
	switch c.Verb {
	case "version", "cluster-info", "api-resources", "api-versions", "explain":
		return scope{cluster: true}
	case "drain":
		return scope{all: true} // it evicts pods in every namespace
	}
	if c.AllNamespaces {
		return scope{all: true}
	}
	if len(c.Resources) > 0 {
		clusterOnly := true
		for _, r := range c.Resources {
			if !clusterScoped(r) {
				clusterOnly = false
			}
		}
		if clusterOnly {
			return scope{cluster: true}
		}
	}
	ns := c.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	if ns == "" {
		ns = "default"
	}
	return scope{namespace: ns}
}

func isWildcard(list []string) bool {
	return len(list) == 0 || containsString(list, "*")
}

// canonicalResources returns a rule's resources in canonical form.
func canonicalResources(list []string) []string {
	out := make([]string, 0, len(list))
	for _, r := range list {
		if c, err := CanonicalResource(r); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// verbsMatch reports whether a rule's verbs cover a command path.
func (r Rule) verbsMatch(path string) bool {
	if isWildcard(r.Verbs) {
		return true
	}
	for _, v := range r.Verbs {
		if pathHasPrefix(path, strings.ToLower(v)) {
			return true
		}
	}
	return false
}

// matches reports whether the rule matches a command. A deny rule matches
// when the command reaches ANY of its resources and namespaces (-A reaches
// every namespace); an allow rule matches only when ALL of the command's
// resources are listed and its namespace is listed. "all" counts as every
// resource of kubectl's "all" category.
func (r Rule) matches(c *Command, sc scope, deny bool) bool {
	if !r.verbsMatch(c.Path()) {
		return false
	}
	if !isWildcard(r.Resources) {
		listed := canonicalResources(r.Resources)
		if len(c.Resources) == 0 {
			return false
		}
		any, all := false, true
		for _, res := range c.Resources {
			in := containsString(listed, res)
			if res == "all" && !in {
				// "all" reaches each resource of the category.
				members := 0
				for _, m := range allCategory {
					if containsString(listed, m) {
						members++
					}
				}
				in = deny && members > 0 || members == len(allCategory)
			}
			any = any || in
			all = all && in
		}
		if deny && !any || !deny && !all {
			return false
		}
	}
	if !isWildcard(r.Namespaces) {
		switch {
		case sc.cluster:
			return false
		case sc.all:
			return deny
		default:
			return containsString(r.Namespaces, sc.namespace)
		}
	}
	return true
}

// String describes the rule for denial messages, e.g.
// "verbs=get resources=secrets namespaces=*".
func (r Rule) String() string {
	show := func(l []string) string {
		if len(l) == 0 {
			return "*"
		}
		return strings.Join(l, ",")
	}
	return fmt.Sprintf("verbs=%s resources=%s namespaces=%s", show(r.Verbs), show(r.Resources), show(r.Namespaces))
}

// checkRules applies the deny rules, then the allow rules, and returns the
// reason for a refusal or "".
func (p Policy) checkRules(c *Command) string {
	sc := commandScope(c, p.DefaultNamespace)
	for i, r := range p.Deny {
		if r.matches(c, sc, true) {
			return fmt.Sprintf("%q is refused by deny rule %d (%s)", c.Path(), i+1, r)
		}
	}
	if len(p.Allow) == 0 {
		return ""
	}
	for _, r := range p.Allow {
		if r.matches(c, sc, false) {
			return ""
		}
	}
	where := "at cluster scope"
	switch {
	case sc.all:
		where = "in all namespaces"
	case !sc.cluster:
		where = fmt.Sprintf("in namespace %q", sc.namespace)
	}
	what := c.Path()
	if len(c.Resources) > 0 {
		what += " " + strings.Join(c.Resources, ",")
	}
	return fmt.Sprintf("no allow rule matches %q %s", what, where)
}

// AllowedCommands returns the command paths this policy can allow, sorted:
// those of its mode, minus the ones a deny rule refuses outright (a rule with
// only verbs), and, when there are allow rules, only the ones some allow rule
// mentions. Entries cover their subcommands ("create" covers "create
// secret generic"); "rollout history" means only that rollout subcommand.
// An invalid policy allows nothing.
func (p Policy) AllowedCommands() []string {
	if p.Validate() != nil {
		return nil
	}
	var out []string
	for _, e := range modeCommands(p.mode()) {
		denied := false
		for _, r := range p.Deny {
			if isWildcard(r.Resources) && isWildcard(r.Namespaces) && r.verbsMatch(e) {
				denied = true
			}
		}
		if denied || !p.allowMentions(e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// allowMentions reports whether some allow rule can match a command under
// path (there are no allow rules, or a rule's verb covers path or is one of
// its subcommands).
func (p Policy) allowMentions(path string) bool {
	if len(p.Allow) == 0 {
		return true
	}
	for _, r := range p.Allow {
		if isWildcard(r.Verbs) {
			return true
		}
		for _, v := range r.Verbs {
			v = strings.ToLower(v)
			if pathHasPrefix(path, v) || pathHasPrefix(v, path) {
				return true
			}
		}
	}
	return false
}

// AllowedVerbs returns the kubectl verbs (first words of AllowedCommands) this
// policy can allow, sorted and without duplicates: e.g. for ReadOnly
// api-resources, api-versions, auth, cluster-info, describe, events, explain,
// get, logs, rollout, top, version. Some of them are limited to certain
// subcommands (auth can-i; rollout history and status): see AllowedCommands.
func (p Policy) AllowedVerbs() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range p.AllowedCommands() {
		v := strings.Fields(e)[0]
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
