package analyze

import (
	"fmt"
	"strings"
)

// Render formats findings as a plain-text diagnosis: for each finding its severity and
// resource, then symptom, evidence, root cause and fix. It is what a user sees when no LLM
// is configured. With no findings it says "No problems found."
func Render(findings []Finding) string {
	if len(findings) == 0 {
		return "No problems found.\n"
	}
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.Severity]++
	}
	var parts []string
	for _, sev := range []string{SeverityCritical, SeverityWarning, SeverityInfo} {
		if n := counts[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Found %s: %s.\n", plural(len(findings), "problem"), strings.Join(parts, ", "))
	for i, f := range findings {
		where := f.Resource
		if f.Namespace != "" {
			where += " in namespace " + f.Namespace
		}
		fmt.Fprintf(&b, "\n%d. [%s] %s (%s)\n", i+1, strings.ToUpper(f.Severity), where, f.Analyzer)
		writeField(&b, "Symptom", f.Symptom)
		if len(f.Evidence) > 0 {
			b.WriteString("   Evidence:\n")
			for _, e := range f.Evidence {
				b.WriteString("     - " + e + "\n")
			}
		}
		writeField(&b, "Root cause", f.RootCause)
		writeField(&b, "Fix", f.Fix)
	}
	return b.String()
}

func writeField(b *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(b, "   %-11s %s\n", name+":", value)
}
