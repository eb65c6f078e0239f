package agent

import "regexp"

// Redaction is the last line of defence before cluster text reaches a
// language model (the executor already refuses secret reads and redacts
// Secret objects): anything that looks like a credential is masked.
var redactions = []struct {
	re   *regexp.Regexp
	repl string
}{
	// PEM private keys.
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`), "[REDACTED PRIVATE KEY]"},
	// JWTs and similar bearer tokens.
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b`), "[REDACTED TOKEN]"},
	// Authorization headers.
	{regexp.MustCompile(`(?i)\b(authorization\s*[:=]\s*(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}[REDACTED]"},
	// AWS access keys.
	{regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`), "[REDACTED AWS KEY]"},
	// key=value / key: value credentials in logs and env dumps.
	// The key must END with the credential word, so names such as secretName
	// or tokenSecretRef (which diagnoses need) stay readable; values such as
	// "<set to the key ...>" from kubectl describe are not credentials.
	{regexp.MustCompile(`(?i)\b([a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|secret[_-]?key))(\s*[:=]\s*)("[^"\n]{4,}"|'[^'\n]{4,}'|[^\s,;"'&<][^\s,;"'&]{3,})`), "${1}${2}[REDACTED]"},
	// Credentials in URLs (scheme://user:password@host).
	{regexp.MustCompile(`([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@`), "${1}[REDACTED]@"},
}

// Redact masks credentials in s.
func Redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}
