package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// These lists are written out independently of the implementation's tables
// so that the fuzz test checks the implementation against them.
var (
	// fuzzNeverFlags must never appear in an allowed command.
	fuzzNeverFlags = []string{
		"kubeconfig", "context", "cluster", "user", "server", "token", "as", "as-group", "as-uid", "as-user-extra",
		"username", "password", "client-certificate", "client-key", "certificate-authority", "insecure-skip-tls-verify",
		"tls-server-name", "cache-dir", "proxy-url", "kuberc", "raw", "filename", "kustomize", "from-file",
		"from-env-file", "patch-file", "cert", "key", "profile", "profile-output", "vmodule", "help",
	}
	// fuzzNeverTrue must never be true in an allowed command.
	fuzzNeverTrue = []string{
		"watch", "watch-only", "follow", "stdin", "tty", "interactive", "attach", "leave-stdin-open", "rm", "edit",
		"resolve", "recursive", "insecure-skip-tls-verify-backend",
	}
	// fuzzModeVerbs are the verbs each mode may run.
	fuzzModeVerbs = map[Mode][]string{
		ReadOnly: {"get", "describe", "explain", "version", "cluster-info", "logs", "events", "top", "api-resources", "api-versions", "rollout", "auth"},
		ExtendedReadOnly: {"get", "describe", "explain", "version", "cluster-info", "logs", "events", "top", "api-resources", "api-versions",
			"rollout", "auth", "exec"},
		FullAccess: {"get", "describe", "explain", "version", "cluster-info", "logs", "events", "top", "api-resources", "api-versions",
			"rollout", "auth", "exec", "create", "delete", "scale", "label", "annotate", "cordon", "uncordon", "drain", "patch", "set",
			"taint", "autoscale", "expose", "run"},
	}
)

// assertSafe checks the invariants every allowed command must satisfy.
func assertSafe(t *testing.T, m Mode, c *Command) {
	t.Helper()
	path := c.Path()
	if !containsString(fuzzModeVerbs[m], c.Verb) {
		t.Fatalf("%s allowed verb %q: %q", m, c.Verb, c.Argv())
	}
	if m != FullAccess && c.Verb == "rollout" && c.Subcommand != "history" && c.Subcommand != "status" {
		t.Fatalf("%s allowed %q", m, path)
	}
	if c.Verb == "auth" && c.Subcommand != "can-i" || c.Verb == "cluster-info" && c.Subcommand != "" || path == "create token" {
		t.Fatalf("%s allowed %q", m, path)
	}
	for _, f := range fuzzNeverFlags {
		if _, ok := c.Flags[f]; !ok {
			continue
		}
		if f == "user" && (path == "create rolebinding" || path == "create clusterrolebinding" || path == "set subject") {
			continue // a subject of the binding, not a credential
		}
		t.Fatalf("%s allowed forbidden flag --%s: %q", m, f, c.Argv())
	}
	for _, f := range fuzzNeverTrue {
		if !c.BoolFlag(f) || f == "watch" && path == "rollout status" || f == "recursive" && path == "explain" {
			continue
		}
		t.Fatalf("%s allowed --%s=true: %q", m, f, c.Argv())
	}
	format := strings.ToLower(strings.SplitN(c.Output, "=", 2)[0])
	switch format {
	case "go-template-file", "templatefile", "jsonpath-file", "custom-columns-file":
		t.Fatalf("%s allowed a template file: %q", m, c.Argv())
	}
	secrets := false
	for _, tg := range c.Targets {
		first := strings.ToLower(strings.SplitN(tg.Type, ".", 2)[0])
		isSecret := first == "secret" || first == "secrets"
		if isSecret != (tg.Resource == "secrets") {
			t.Fatalf("type %q canonicalized to %q", tg.Type, tg.Resource)
		}
		secrets = secrets || isSecret
	}
	if secrets && c.Verb != "explain" {
		if format != "" && format != "wide" && format != "name" {
			t.Fatalf("%s allowed -o %q on secrets: %q", m, c.Output, c.Argv())
		}
		if _, ok := c.Flags["template"]; ok {
			t.Fatalf("%s allowed --template on secrets: %q", m, c.Argv())
		}
		if c.Verb == "annotate" && c.BoolFlag("list") {
			t.Fatalf("%s allowed annotate --list on secrets: %q", m, c.Argv())
		}
	}
	if c.Verb == "exec" && (len(c.Positionals) != 1 || len(c.ExecArgs) == 0) {
		t.Fatalf("%s allowed exec without a pod and a command: %q", m, c.Argv())
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range append(append([]checkCase(nil), allowedCases...), refusedCases...) {
		ct, args := tc.split()
		f.Add(ct, strings.Join(args, " "))
		f.Add("", tc.cmd)
	}
	f.Add("get", "pods -Ansecret -o=yaml")
	f.Add("get", "-o yaml secret.v1./x")
	f.Add("exec", "p -it -- sh")
	f.Add("rollout", "-n history status deploy/x")
	f.Fuzz(func(t *testing.T, commandType, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, " ")
		}
		if c, err := Parse(commandType, args); err == nil {
			again, err := Parse("", c.Argv())
			if err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("Parse(Argv()) of %q %q:\n got %+v, %v\nwant %+v", commandType, args, again, err, c)
			}
		} else {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T is not a *ParseError: %v", err, err)
			}
		}
		for _, m := range []Mode{ReadOnly, ExtendedReadOnly, FullAccess} {
			p := Policy{Mode: m}
			c, err := p.Check(commandType, args)
			if err != nil {
				var d *Denial
				if !errors.As(err, &d) || d.Reason == "" {
					t.Fatalf("Check error %T is not a *Denial with a reason: %v", err, err)
				}
				continue
			}
			assertSafe(t, m, c)
			if _, err := p.Check("", c.Argv()); err != nil {
				t.Fatalf("%s allowed %q %q but refused its Argv %q: %v", m, commandType, args, c.Argv(), err)
			}
		}
	})
}
