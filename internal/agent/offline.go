package agent

import (
	"context"
	"fmt"
	"strings"
)

// offline answers without a language model: it runs the deterministic
// analyzers (the triage tool) on the cluster in question — or on every
// cluster the caller may use — and writes the diagnosis from their findings.
// It never fails for want of an LLM key.
func (a *Agent) offline(ctx context.Context, inv *Investigation, em *emitter) (string, error) {
	var clusters []string
	if inv.Req.ClusterID != "" {
		clusters = []string{inv.Req.ClusterID}
	} else {
		cs, err := a.kubectl.Clusters(ctx, inv.Req.Principal)
		if err != nil {
			return "", err
		}
		for _, c := range cs {
			clusters = append(clusters, c.ClusterID)
		}
	}
	if len(clusters) == 0 {
		text := "You have no clusters registered, so there is nothing to investigate yet."
		em.send(Event{Type: EventContent, Content: text})
		return text, nil
	}
	ns := namespaceHint(inv.Req.Query)
	var answer strings.Builder
	intro := "No language model is configured, so this diagnosis comes from Kubently's built-in analyzers.\n"
	answer.WriteString(intro)
	em.send(Event{Type: EventContent, Content: intro})
	for _, c := range clusters {
		params := map[string]any{"cluster_id": c}
		if ns != "" {
			params["namespace"] = ns
		}
		em.send(Event{Type: EventToolCall, Tool: "triage", Parameters: params})
		out, err := runTriage(ctx, a, inv, params)
		var section string
		if err != nil {
			em.send(Event{Type: EventToolResult, Tool: "triage", Status: "error", Summary: describeError(err)})
			section = fmt.Sprintf("\nCluster %s: could not analyze: %s\n", c, describeError(err))
		} else {
			em.send(Event{Type: EventToolResult, Tool: "triage", Status: "ok", Summary: summarize(out)})
			section = fmt.Sprintf("\nCluster %s:\n%s\n", c, strings.TrimRight(Redact(out), "\n"))
		}
		answer.WriteString(section)
		em.send(Event{Type: EventContent, Content: section})
	}
	return answer.String(), nil
}

// namespaceHint finds "namespace X", "in X namespace" or "-n X" in a question
// so the offline diagnosis can focus; it returns "" when there is none.
func namespaceHint(q string) string {
	words := strings.Fields(strings.ToLower(q))
	clean := func(s string) string { return strings.Trim(s, " ?.,;:!'\"`") }
	for i, w := range words {
		w = clean(w)
		switch {
		case (w == "namespace" || w == "-n" || w == "ns") && i+1 < len(words):
			if n := clean(words[i+1]); isLabel(n) {
				return n
			}
		case w == "namespace" && i > 0:
			if n := clean(words[i-1]); isLabel(n) && n != "the" && n != "a" {
				return n
			}
		}
	}
	return ""
}

func isLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s[0] != '-' && s[len(s)-1] != '-'
}
