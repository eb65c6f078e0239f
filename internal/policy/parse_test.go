package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		argv []string
		want Command
		argN []string // expected Argv
	}{
		{
			argv: []string{"get", "pods", "-n", "kube-system", "-o", "wide"},
			want: Command{
				Verb: "get", Resources: []string{"pods"}, Targets: []Target{{Type: "pods", Resource: "pods"}},
				Namespace: "kube-system", Output: "wide",
				Flags:       map[string][]string{"namespace": {"kube-system"}, "output": {"wide"}},
				Positionals: []string{"pods"},
			},
			argN: []string{"get", "--namespace=kube-system", "--output=wide", "pods"},
		},
		{
			// combined short booleans, "=false" on the last one, and TYPE,TYPE NAME NAME
			argv: []string{"get", "-Aw=false", "pods,secrets", "a", "b"},
			want: Command{
				Verb: "get", Resources: []string{"pods", "secrets"}, Names: []string{"a", "b"},
				Targets: []Target{
					{Type: "pods", Resource: "pods", Name: "a"}, {Type: "pods", Resource: "pods", Name: "b"},
					{Type: "secrets", Resource: "secrets", Name: "a"}, {Type: "secrets", Resource: "secrets", Name: "b"},
				},
				AllNamespaces: true,
				Flags:         map[string][]string{"all-namespaces": {"true"}, "watch": {"false"}},
				Positionals:   []string{"pods,secrets", "a", "b"},
			},
			argN: []string{"get", "--all-namespaces=true", "--watch=false", "pods,secrets", "a", "b"},
		},
		{
			// -nVALUE, -o=VALUE, last value wins for single-value flags
			argv: []string{"get", "-nfirst", "-o=json", "--namespace", "second", "Secret.v1./x"},
			want: Command{
				Verb: "get", Resources: []string{"secrets"}, Names: []string{"x"},
				Targets:   []Target{{Type: "Secret.v1.", Resource: "secrets", Name: "x"}},
				Namespace: "second", Output: "json",
				Flags:       map[string][]string{"namespace": {"second"}, "output": {"json"}},
				Positionals: []string{"Secret.v1./x"},
			},
			argN: []string{"get", "--namespace=second", "--output=json", "Secret.v1./x"},
		},
		{
			// flags before the subcommand, as cobra allows
			argv: []string{"rollout", "-n", "prod", "history", "deploy/web", "--revision=3"},
			want: Command{
				Verb: "rollout", Subcommand: "history", Resources: []string{"deployments"}, Names: []string{"web"},
				Targets:   []Target{{Type: "deploy", Resource: "deployments", Name: "web"}},
				Namespace: "prod",
				Flags:     map[string][]string{"namespace": {"prod"}, "revision": {"3"}}, Positionals: []string{"deploy/web"},
			},
			argN: []string{"rollout", "history", "--namespace=prod", "--revision=3", "deploy/web"},
		},
		{
			argv: []string{"top", "po", "-A", "--sort-by", "memory"},
			want: Command{
				Verb: "top", Subcommand: "pod", Resources: []string{"pods"}, Targets: []Target{{Type: "pods", Resource: "pods"}},
				AllNamespaces: true, Flags: map[string][]string{"all-namespaces": {"true"}, "sort-by": {"memory"}},
			},
			argN: []string{"top", "pod", "--all-namespaces=true", "--sort-by=memory"},
		},
		{
			// exec: what follows "--" is the program, flags included
			argv: []string{"exec", "-c", "app", "web-0", "--", "sh", "-c", "ls --all", "--kubeconfig=/x"},
			want: Command{
				Verb: "exec", Resources: []string{"pods"}, Names: []string{"web-0"},
				Targets: []Target{{Type: "pods", Resource: "pods", Name: "web-0"}},
				Flags:   map[string][]string{"container": {"app"}}, Positionals: []string{"web-0"},
				ExecArgs: []string{"sh", "-c", "ls --all", "--kubeconfig=/x"},
			},
			argN: []string{"exec", "--container=app", "web-0", "--", "sh", "-c", "ls --all", "--kubeconfig=/x"},
		},
		{
			// get: what follows "--" are more resource arguments, never flags
			argv: []string{"get", "pods", "--", "--server=x", "-w"},
			want: Command{
				Verb: "get", Resources: []string{"pods"}, Names: []string{"--server=x", "-w"},
				Targets:     []Target{{Type: "pods", Resource: "pods", Name: "--server=x"}, {Type: "pods", Resource: "pods", Name: "-w"}},
				Flags:       map[string][]string{},
				Positionals: []string{"pods", "--server=x", "-w"},
			},
			argN: []string{"get", "--", "pods", "--server=x", "-w"},
		},
		{
			// list flags keep every occurrence; subcommand aliases resolve
			argv: []string{"create", "secret", "generic", "s", "--from-literal=a=b", "--from-literal", "c=d", "--dry-run"},
			want: Command{
				Verb: "create", Subcommand: "secret generic", Resources: []string{"secrets"}, Names: []string{"s"},
				Targets: []Target{{Type: "secrets", Resource: "secrets", Name: "s"}},
				Flags:   map[string][]string{"from-literal": {"a=b", "c=d"}, "dry-run": {"unchanged"}}, Positionals: []string{"s"},
			},
			argN: []string{"create", "secret", "generic", "--dry-run=unchanged", "--from-literal=a=b", "--from-literal=c=d", "s"},
		},
		{
			argv: []string{"label", "pods", "a", "b", "env=prod", "tier-"},
			want: Command{
				Verb: "label", Resources: []string{"pods"}, Names: []string{"a", "b"},
				Targets: []Target{{Type: "pods", Resource: "pods", Name: "a"}, {Type: "pods", Resource: "pods", Name: "b"}},
				Flags:   map[string][]string{}, Positionals: []string{"pods", "a", "b", "env=prod", "tier-"},
			},
			argN: []string{"label", "pods", "a", "b", "env=prod", "tier-"},
		},
		{
			argv: []string{"taint", "no", "n1", "gpu=true:NoSchedule", "maint:NoExecute"},
			want: Command{
				Verb: "taint", Resources: []string{"nodes"}, Names: []string{"n1"},
				Targets: []Target{{Type: "no", Resource: "nodes", Name: "n1"}},
				Flags:   map[string][]string{}, Positionals: []string{"no", "n1", "gpu=true:NoSchedule", "maint:NoExecute"},
			},
			argN: []string{"taint", "no", "n1", "gpu=true:NoSchedule", "maint:NoExecute"},
		},
		{
			argv: []string{"logs", "deploy/web", "app", "--tail", "20"},
			want: Command{
				Verb: "logs", Resources: []string{"deployments"}, Names: []string{"web"},
				Targets: []Target{{Type: "deploy", Resource: "deployments", Name: "web"}},
				Flags:   map[string][]string{"tail": {"20"}}, Positionals: []string{"deploy/web", "app"},
			},
			argN: []string{"logs", "--tail=20", "deploy/web", "app"},
		},
		{
			argv: []string{"drain", "n1", "n2", "--ignore-daemonsets"},
			want: Command{
				Verb: "drain", Resources: []string{"nodes"}, Names: []string{"n1", "n2"},
				Targets: []Target{{Type: "nodes", Resource: "nodes", Name: "n1"}, {Type: "nodes", Resource: "nodes", Name: "n2"}},
				Flags:   map[string][]string{"ignore-daemonsets": {"true"}}, Positionals: []string{"n1", "n2"},
			},
			argN: []string{"drain", "--ignore-daemonsets=true", "n1", "n2"},
		},
		{
			argv: []string{"explain", "deploy.spec.replicas", "--api-version=apps/v1"},
			want: Command{
				Verb: "explain", Resources: []string{"deployments"}, Targets: []Target{{Type: "deploy", Resource: "deployments"}},
				Flags: map[string][]string{"api-version": {"apps/v1"}}, Positionals: []string{"deploy.spec.replicas"},
			},
			argN: []string{"explain", "--api-version=apps/v1", "deploy.spec.replicas"},
		},
		{
			argv: []string{"auth", "can-i", "get", "secrets", "-n", "x"},
			want: Command{
				Verb: "auth", Subcommand: "can-i", Namespace: "x",
				Flags: map[string][]string{"namespace": {"x"}}, Positionals: []string{"get", "secrets"},
			},
			argN: []string{"auth", "can-i", "--namespace=x", "get", "secrets"},
		},
		{
			argv: []string{"set", "sa", "deploy/web", "builder"},
			want: Command{
				Verb: "set", Subcommand: "serviceaccount", Resources: []string{"deployments"}, Names: []string{"web"},
				Targets: []Target{{Type: "deploy", Resource: "deployments", Name: "web"}},
				Flags:   map[string][]string{}, Positionals: []string{"deploy/web", "builder"},
			},
			argN: []string{"set", "serviceaccount", "deploy/web", "builder"},
		},
		{
			argv: []string{"run", "tmp", "--image=busybox", "--", "sleep", "5"},
			want: Command{
				Verb: "run", Resources: []string{"pods"}, Names: []string{"tmp"},
				Targets: []Target{{Type: "pods", Resource: "pods", Name: "tmp"}},
				Flags:   map[string][]string{"image": {"busybox"}}, Positionals: []string{"tmp"}, ExecArgs: []string{"sleep", "5"},
			},
			argN: []string{"run", "--image=busybox", "tmp", "--", "sleep", "5"},
		},
	}
	for _, tc := range cases {
		c, err := Parse("", tc.argv)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.argv, err)
			continue
		}
		if !reflect.DeepEqual(*c, tc.want) {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.argv, *c, tc.want)
		}
		if got := c.Argv(); !reflect.DeepEqual(got, tc.argN) {
			t.Errorf("Parse(%q).Argv() = %q, want %q", tc.argv, got, tc.argN)
		}
		again, err := Parse("", c.Argv())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Errorf("Parse(Argv()) of %q = %+v, %v; want the same command", tc.argv, again, err)
		}
	}
}

// TestParseShortFlagForms checks pflag's short flag rules on one value flag
// (-n) and one boolean (-A).
func TestParseShortFlagForms(t *testing.T) {
	cases := []struct {
		args []string
		ns   string
		all  bool
		pos  []string
	}{
		{args: []string{"-n", "x", "pods"}, ns: "x", pos: []string{"pods"}},
		{args: []string{"-nx", "pods"}, ns: "x", pos: []string{"pods"}},
		{args: []string{"-n=x", "pods"}, ns: "x", pos: []string{"pods"}},
		{args: []string{"-n=", "pods"}, ns: "=", pos: []string{"pods"}}, // pflag: "-n=" sets "="
		{args: []string{"-An", "x", "pods"}, ns: "x", all: true, pos: []string{"pods"}},
		{args: []string{"-Anx", "pods"}, ns: "x", all: true, pos: []string{"pods"}},
		{args: []string{"-A=false", "pods"}, pos: []string{"pods"}},
		{args: []string{"pods", "-n", "-A"}, ns: "-A", pos: []string{"pods"}}, // a value may look like a flag
		{args: []string{"pods", "-n", "--kubeconfig"}, ns: "--kubeconfig", pos: []string{"pods"}},
		{args: []string{"-", "pods"}, pos: []string{"-", "pods"}},
	}
	for _, tc := range cases {
		c, err := Parse("get", tc.args)
		if err != nil {
			if tc.args[0] == "-" {
				continue // "-" is a positional to pflag; as a resource type it is invalid
			}
			t.Errorf("Parse(get %q): %v", tc.args, err)
			continue
		}
		if c.Namespace != tc.ns || c.AllNamespaces != tc.all || !reflect.DeepEqual(c.Positionals, tc.pos) {
			t.Errorf("Parse(get %q) = ns %q all %v pos %q; want ns %q all %v pos %q", tc.args, c.Namespace, c.AllNamespaces, c.Positionals, tc.ns, tc.all, tc.pos)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		ct   string
		args []string
		want string
	}{
		{"get", []string{"pods", "--nope"}, `unknown flag --nope for "get"`},
		{"get", []string{"pods", "-Z"}, `unknown flag -Z for "get"`},
		{"get", []string{"pods", "-AZ"}, `unknown flag -Z in -AZ for "get"`},
		{"get", []string{"pods", "--=x"}, "bad flag syntax: --=x"},
		{"get", []string{"pods", "-test.v"}, "bad flag syntax"},
		{"get", []string{"pods", "-o"}, "flag -o/--output needs a value"},
		{"get", []string{"pods", "-w=2"}, `invalid value "2" for flag -w/--watch`},
		{"logs", []string{"p", "--since=yesterday"}, "must be a duration"},
		{"autoscale", []string{"deploy/x", "--max=3000000000"}, "must be an integer"},
		{"get", []string{"pods", "-v=0x3"}, "must be an integer"},
		{"get", []string{"pods", "-L", `a"b`}, "not a comma-separated list"},
		{"create", []string{"clusterrole", "r", "--aggregation-rule=x"}, "expected key=value pairs"},
		{"logs", []string{"a", "b", "c"}, `"logs" takes POD [CONTAINER]`},
		{"get", []string{"pods", "pod/x"}, "there is no need to specify a resource type"},
		{"get", []string{"pod/"}, "must have a single resource and name"},
		{"get", []string{"pods,svc/x"}, "must have a single resource and name"},
		{"get", []string{"pods,"}, `invalid resource type ""`},
		{"get", []string{"ſecrets"}, "invalid resource type"},
		{"get", []string{"pods\u00a0"}, "invalid resource type"},
		{"label", []string{"pods", "a=b", "x"}, "all resources must be specified before label changes: x"},
		{"taint", []string{"nodes", "k=v:NoSchedule", "n1"}, "all resources must be specified before taint changes"},
		{"create", []string{"configmap"}, `"create configmap" needs exactly one NAME`},
		{"create", []string{"configmap", "c", "--", "sh"}, `"create configmap" needs exactly one NAME (got 2 arguments)`},
		{"create", nil, `"create" needs a subcommand`},
		{"create", []string{"secret", "x"}, `unknown subcommand "x" for "create secret"`},
		{"run", []string{"--image=x"}, `"run" needs a NAME`},
		{"top", []string{"pod", "a", "b"}, "takes at most one NAME"},
		{"explain", []string{"pods", "svc"}, "takes one TYPE"},
		{"frob", nil, `unknown verb "frob"`},
		{"proxy", nil, `verb "proxy" is never allowed`},
		{"", []string{"-n", "x", "get"}, "the kubectl verb must come first"},
	}
	for _, tc := range cases {
		c, err := Parse(tc.ct, tc.args)
		if err == nil {
			t.Errorf("Parse(%q, %q) = %q, want error containing %q", tc.ct, tc.args, c.Argv(), tc.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q, %q) error is %T, want *ParseError", tc.ct, tc.args, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want error containing %q", tc.ct, tc.args, err, tc.want)
		}
	}
}

func TestSubcommandAfterValueFlag(t *testing.T) {
	// "-n history" makes "history" the namespace; the subcommand is the next word.
	c, err := Parse("rollout", []string{"-n", "history", "status", "deploy/x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subcommand != "status" || c.Namespace != "history" {
		t.Errorf("got subcommand %q namespace %q, want status and history", c.Subcommand, c.Namespace)
	}
	// After "--" no subcommand is searched for.
	if _, err := Parse("rollout", []string{"--", "history"}); err == nil || !strings.Contains(err.Error(), "needs a subcommand") {
		t.Errorf("rollout -- history: %v, want a missing subcommand error", err)
	}
}

func TestKnownFlags(t *testing.T) {
	cmds := KnownCommands()
	if len(cmds) < 50 || !containsString(cmds, "get") || !containsString(cmds, "create secret generic") {
		t.Fatalf("KnownCommands() = %q", cmds)
	}
	if containsString(cmds, "proxy") || containsString(cmds, "cluster-info dump") {
		t.Errorf("KnownCommands() lists commands refused in every mode: %q", cmds)
	}
	flags, ok := KnownFlags("logs")
	if !ok {
		t.Fatal("KnownFlags(logs) not found")
	}
	byName := map[string]FlagInfo{}
	for _, f := range flags {
		byName[f.Name] = f
	}
	if f := byName["follow"]; f.Shorthand != "f" || f.TakesValue || f.Kind != "bool" {
		t.Errorf("logs --follow = %+v", f)
	}
	if f := byName["namespace"]; f.Shorthand != "n" || !f.TakesValue || !f.Global {
		t.Errorf("logs --namespace = %+v", f)
	}
	if _, ok := byName["filename"]; ok {
		t.Error("logs has no --filename")
	}
	if _, ok := KnownFlags("nope"); ok {
		t.Error("KnownFlags(nope) found")
	}
	// -f means --filename for get but --follow for logs.
	get, _ := KnownFlags("get")
	for _, f := range get {
		if f.Shorthand == "f" && f.Name != "filename" {
			t.Errorf("get -f = --%s", f.Name)
		}
	}
}

func TestParseMode(t *testing.T) {
	good := map[string]Mode{
		"readOnly": ReadOnly, "READONLY": ReadOnly, "read-only": ReadOnly, "": ReadOnly,
		"extendedReadOnly": ExtendedReadOnly, "extended-read-only": ExtendedReadOnly, "Extended_Read_Only": ExtendedReadOnly,
		"fullAccess": FullAccess, "full-access": FullAccess, "FULLACCESS": FullAccess,
	}
	for in, want := range good {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"admin", "read", "full", "read-write"} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) succeeded", in)
		}
	}
	var m Mode
	if err := m.UnmarshalText([]byte("full-access")); err != nil || m != FullAccess {
		t.Errorf("UnmarshalText(full-access) = %q, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("root")); err == nil {
		t.Error("UnmarshalText(root) succeeded")
	}
	if Mode("").String() != "readOnly" {
		t.Errorf("zero Mode prints as %q", Mode("").String())
	}
}
