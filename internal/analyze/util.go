package analyze

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// truncate shortens s to at most n bytes (on a rune boundary), marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// listNames joins names, showing at most n and counting the rest.
func listNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// plural returns "1 restart" / "3 restarts".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// formatLabels formats a label map as "k1=v1,k2=v2", sorted by key.
func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// findContainer returns the spec of a container (regular, init or sidecar) by name.
func findContainer(p *corev1.Pod, name string) (*corev1.Container, bool) {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], false
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i], true
		}
	}
	return nil, false
}

// podCondition returns a pod condition by type.
func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// nodeCondition returns a node condition by type.
func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// nodeReady reports whether a node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	c := nodeCondition(n, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// formatQuantity prints a resource amount with its unit: "64 CPU", "500m CPU", "128Mi".
func formatQuantity(name corev1.ResourceName, q resource.Quantity) string {
	if name == corev1.ResourceCPU {
		return q.String() + " CPU"
	}
	return q.String()
}

// containerPortList lists a container's declared ports: "8080/TCP (http)".
func containerPortList(c *corev1.Container) string {
	if len(c.Ports) == 0 {
		return "none declared"
	}
	parts := make([]string, 0, len(c.Ports))
	for _, p := range c.Ports {
		s := strconv.Itoa(int(p.ContainerPort))
		if p.Name != "" {
			s += " (" + p.Name + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// resolvePort resolves a probe or Service target port against a container's ports. For a
// named port it returns the number (0 if the name is not declared).
func resolvePort(c *corev1.Container, port intstr.IntOrString) (num int32, name string) {
	if port.Type == intstr.Int {
		return port.IntVal, ""
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort, p.Name
		}
	}
	return 0, port.StrVal
}

// declaresPort reports whether a container declares a port number.
func declaresPort(c *corev1.Container, num int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == num {
			return true
		}
	}
	return false
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// similar returns the candidates that look like a misspelling of name, closest first.
func similar(name string, candidates []string) []string {
	type cand struct {
		s string
		d int
	}
	var out []cand
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := editDistance(name, c)
		if d <= max(2, len(name)/4) || strings.HasPrefix(c, name) || strings.HasPrefix(name, c) {
			out = append(out, cand{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	names := make([]string, 0, len(out))
	for _, c := range out {
		names = append(names, c.s)
	}
	return names
}

// credentialPattern matches "password=...", "token: ...", "api_key=..." and similar.
var credentialPattern = regexp.MustCompile(`(?i)\b((?:[a-z0-9_-]*)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|credential)s?)(\s*[=:]\s*|"\s*:\s*")([^\s",;&]+)`)

// bearerPattern matches HTTP bearer credentials.
var bearerPattern = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}`)

// redactLine masks values that look like credentials in a log line, so nothing secret
// leaves the cluster through a finding.
func redactLine(s string) string {
	s = credentialPattern.ReplaceAllString(s, "${1}${2}[redacted]")
	return bearerPattern.ReplaceAllString(s, "${1} [redacted]")
}

// quote wraps s in double quotes for messages.
func quote(s string) string { return strconv.Quote(s) }
