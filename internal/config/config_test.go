package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestAPIDefaults(t *testing.T) {
	c, err := LoadAPI(Source{Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.SessionTTL != time.Hour || c.RateLimitStandard != 100 || c.RateLimitExecute != 50 || c.RateLimitSession != 20 || c.MaxBodyBytes != 1<<20 || c.CommandTimeoutDefault != 30*time.Second || c.CommandTimeoutMax != 300*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "api.yaml")
	os.WriteFile(file, []byte("listen: ':9000'\nsessionTTL: 2h\nrateLimitExecute: 7\napiKeys:\n  - a:0123456789abcdef0\n  - b:0123456789abcdef1:admin\n"), 0o600)
	c, err := LoadAPI(Source{Args: []string{"--config", file, "--rate-limit-execute", "9"}, Env: env(map[string]string{"SESSION_TTL": "3h", "LISTEN": "ignored"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.SessionTTL != 3*time.Hour || c.RateLimitExecute != 9 || len(c.APIKeys) != 2 || c.APIKeys[1] != "b:0123456789abcdef1:admin" {
		t.Fatalf("precedence: %+v", c)
	}
}

func TestListsFromEnv(t *testing.T) {
	c, err := LoadAPI(Source{Env: env(map[string]string{"API_KEYS": "a:k1-0123456789abcd, b:k2-0123456789abcd\n# comment\nc:k3-0123456789abcd:admin\n"})})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.APIKeys, ";") != "a:k1-0123456789abcd;b:k2-0123456789abcd;c:k3-0123456789abcd:admin" {
		t.Fatalf("keys %q", c.APIKeys)
	}
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	os.WriteFile(unknown, []byte("listn: ':1'\n"), 0o600)
	cases := map[string]Source{
		"unknown key":      {Args: []string{"--config", unknown}},
		"bad duration":     {Env: env(map[string]string{"SESSION_TTL": "forever"})},
		"bad int":          {Env: env(map[string]string{"RATE_LIMIT_STANDARD": "lots"})},
		"zero limit":       {Env: env(map[string]string{"RATE_LIMIT_STANDARD": "0"})},
		"ttl range":        {Env: env(map[string]string{"SESSION_TTL": "10s"})},
		"oidc no audience": {Env: env(map[string]string{"OIDC_ISSUER": "https://idp"})},
		"unknown flag":     {Args: []string{"--no-such-flag"}},
		"missing file":     {Args: []string{"--config", filepath.Join(dir, "none.yaml")}},
	}
	for name, src := range cases {
		if src.Env == nil {
			src.Env = env(nil)
		}
		src.Stderr = &strings.Builder{}
		if _, err := LoadAPI(src); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExecutorRulesFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "exec.yaml")
	os.WriteFile(file, []byte(`apiURL: https://kubently.example
clusterID: prod
token: tok-0123456789abcdef
securityMode: extendedReadOnly
deny:
  - verbs: [get]
    resources: [configmaps]
allow:
  - namespaces: [team-a, team-b]
`), 0o600)
	c, err := LoadExecutor(Source{Args: []string{"--config", file}, Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.SecurityMode != "extendedReadOnly" || len(c.Rules.Deny) != 1 || c.Rules.Deny[0].Resources[0] != "configmaps" || len(c.Rules.Allow[0].Namespaces) != 2 || c.Concurrency != 8 {
		t.Fatalf("executor config %+v", c)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiURL: https://x\nclusterID: c\ntoken: t\ndeny:\n  - verb: [get]\n"), 0o600)
	if _, err := LoadExecutor(Source{Args: []string{"--config", bad}, Env: env(nil)}); err == nil || !strings.Contains(err.Error(), "verb") {
		t.Fatalf("misspelt rule key: %v", err)
	}
	if _, err := LoadExecutor(Source{Env: env(nil)}); err == nil || !strings.Contains(err.Error(), "apiURL is required") {
		t.Fatalf("missing settings: %v", err)
	}
}

// TestReferenceIsCurrent keeps docs/configuration.md generated from the tags.
func TestReferenceIsCurrent(t *testing.T) {
	want := "# Configuration reference\n\nGenerated from the settings' declarations (`go test ./internal/config -update`).\n" +
		"Precedence, lowest first: built-in default, YAML file (`--config` or the environment variable named below), environment variable, command-line flag.\n" +
		"Lists are comma- or newline-separated in the environment and flags, YAML sequences in the file. Durations use Go syntax (`30s`, `1h`).\n\n" +
		"## kubently-api (file: `--config` or `KUBENTLY_CONFIG`)\n\n" + Reference(&API{}) +
		"\n## kubently-executor (file: `--config` or `KUBENTLY_EXECUTOR_CONFIG`)\n\n" + Reference(&Executor{}) +
		"\nThe executor's file may also hold `allow` and `deny` lists of rules `{verbs, resources, namespaces}`: see [security-modes.md](security-modes.md).\n"
	path := filepath.Join("..", "..", "docs", "configuration.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("docs/configuration.md is stale; run go test ./internal/config -update")
	}
}
