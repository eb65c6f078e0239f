package kube

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The golden tests compare the runner with the real kubectl binary on the same
// objects. Only three things may legitimately differ between two runs a few
// milliseconds apart, and the normalizer removes exactly those:
//
//  1. klog lines that the kubectl binary writes to stderr (for example when a
//     discovery group is unavailable). The runner routes klog to slog, so its
//     stderr never has them; tests assert that separately.
//  2. Relative ages ("5s", "3m12s", "2d") in AGE / LAST SEEN columns, describe
//     event tables and "(5m ago)" restarts: a second boundary can fall
//     between the two runs. They become "<age>" when maskAges is set.
//  3. Column padding that depends on the width of those ages: in an output
//     where an age was masked, runs of spaces collapse to one space.
//
// Everything else (every name, value, header, blank line, exit code) must
// match byte for byte. The one exception is opt-in per case: sortLines, for
// the few outputs whose line order kubectl takes from Go map iteration.

var (
	klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6}\s+\d+ \S+:\d+\] .*\n?`)
	ageToken = regexp.MustCompile(`\b(?:\d+[smhdy])+\b`)
	spaceRun = regexp.MustCompile(` {2,}`)
)

type normalizer struct {
	maskAges  bool
	sortLines bool
}

func stripKlog(s string) string { return klogLine.ReplaceAllString(s, "") }

func (n normalizer) apply(s string) string {
	s = stripKlog(s)
	if n.sortLines {
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		sort.Strings(lines)
		s = strings.Join(lines, "\n") + "\n"
	}
	if !n.maskAges {
		return s
	}
	masked := ageToken.ReplaceAllString(s, "<age>")
	if masked == s {
		return s
	}
	lines := strings.Split(masked, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(spaceRun.ReplaceAllString(l, " "), " ")
	}
	return strings.Join(lines, "\n")
}

func TestNormalizer(t *testing.T) {
	n := normalizer{maskAges: true}
	kubectl := "NAME        READY   STATUS    RESTARTS      AGE\nweb-1       1/1     Running   3 (5m ago)    59s\n"
	runner := "NAME        READY   STATUS    RESTARTS      AGE\nweb-1       1/1     Running   3 (5m ago)    60s\n"
	if n.apply(kubectl) != n.apply(runner) {
		t.Fatalf("ages not masked:\n%q\n%q", n.apply(kubectl), n.apply(runner))
	}
	// Anything but an age still differs.
	for _, other := range []string{
		"NAME        READY   STATUS    RESTARTS      AGE\nweb-1       0/1     Running   3 (5m ago)    59s\n",
		"NAME        READY   STATUS    RESTARTS      AGE\nweb-2       1/1     Running   3 (5m ago)    59s\n",
		"NAME        READY   STATUS    RESTARTS      AGE\nweb-1       1/1     Running   4 (5m ago)    59s\n",
		"NAME        READY   STATUS    RESTARTS      AGE\nweb-1       1/1     Running   3 (5m ago)    59s\n\n",
	} {
		if n.apply(kubectl) == n.apply(other) {
			t.Errorf("normalizer hides a real difference: %q", other)
		}
	}
	// Names that merely contain digits and unit letters are not ages.
	for _, keep := range []string{"web-7c9b8f6d4-abcde", "10.244.0.10", "80/TCP", "16Gi", "nginx:1.27", "250m"} {
		if got := (normalizer{}).apply(keep); got != keep {
			t.Errorf("plain normalizer changed %q to %q", keep, got)
		}
	}
	if got := n.apply("web-7c9b8f6d4-abcde 10.244.0.10 80/TCP"); got != "web-7c9b8f6d4-abcde 10.244.0.10 80/TCP" {
		t.Errorf("age masking touched names/IPs/ports: %q", got)
	}
	withKlog := "E1127 08:55:00.123456   12345 memcache.go:265] couldn't get resource list\nreal error\n"
	if got := stripKlog(withKlog); got != "real error\n" {
		t.Errorf("stripKlog = %q", got)
	}
}
