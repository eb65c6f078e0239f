package policy

import (
	"reflect"
	"strings"
	"testing"
)

var allCategoryRule = Rule{Resources: []string{
	"pods", "svc", "ds", "deploy", "rs", "sts", "rc", "hpa", "cj", "jobs",
}}

func TestRules(t *testing.T) {
	denySecrets := Policy{Deny: []Rule{{Resources: []string{"secret"}}}}
	denyKubeSystem := Policy{Deny: []Rule{{Verbs: []string{"get", "logs"}, Namespaces: []string{"kube-system"}}}}
	teamA := Policy{Allow: []Rule{{Verbs: []string{"get", "describe"}, Resources: []string{"po", "deployments.apps"}, Namespaces: []string{"team-a"}}}}
	cases := []struct {
		name string
		p    Policy
		cmd  string
		want string // "" = allowed
	}{
		{"deny secrets: get", denySecrets, "get secrets", "refused by deny rule 1"},
		{"deny secrets: describe", denySecrets, "describe secret x", "refused by deny rule 1"},
		{"deny secrets: mixed types", denySecrets, "get pods,secrets", "refused by deny rule 1"},
		{"deny secrets: type/name", denySecrets, "get pod/a Secret/b", "refused by deny rule 1"},
		{"deny secrets: other type", denySecrets, "get pods", ""},
		{"deny secrets: no resources", denySecrets, "version", ""},
		{"deny secrets: all excludes secrets", denySecrets, "get all", ""},
		{"deny secrets: can-i is no access", denySecrets, "auth can-i get secrets", ""},
		{"deny pods: all includes pods", Policy{Deny: []Rule{{Resources: []string{"po"}}}}, "get all", "refused by deny rule 1"},
		{"deny ns: explicit", denyKubeSystem, "get pods -n kube-system", "refused by deny rule 1"},
		{"deny ns: -A reaches it", denyKubeSystem, "get pods -A", "refused by deny rule 1"},
		{"deny ns: logs", denyKubeSystem, "logs -n kube-system p", "refused by deny rule 1"},
		{"deny ns: other namespace", denyKubeSystem, "get pods -n apps", ""},
		{"deny ns: default namespace", denyKubeSystem, "get pods", ""},
		{"deny ns: cluster scope", denyKubeSystem, "get nodes", ""},
		{"deny ns: other verb", denyKubeSystem, "describe pods -n kube-system", ""},
		{"deny ns: executor default namespace", Policy{DefaultNamespace: "kube-system", Deny: denyKubeSystem.Deny}, "get pods", "refused by deny rule 1"},
		{"deny subcommand", Policy{Mode: FullAccess, Deny: []Rule{{Verbs: []string{"rollout restart"}}}}, "rollout restart deploy/x", "refused by deny rule 1"},
		{"deny subcommand: sibling", Policy{Mode: FullAccess, Deny: []Rule{{Verbs: []string{"rollout restart"}}}}, "rollout undo deploy/x", ""},
		{"deny verb covers subcommands", Policy{Mode: FullAccess, Deny: []Rule{{Verbs: []string{"rollout"}}}}, "rollout status deploy/x", "refused by deny rule 1"},
		{"deny create covers nested", Policy{Mode: FullAccess, Deny: []Rule{{Verbs: []string{"create"}}}}, "create secret generic s --from-literal=a=b", "refused by deny rule 1"},
		{"deny drain in a namespace", Policy{Mode: FullAccess, Deny: []Rule{{Verbs: []string{"drain"}, Namespaces: []string{"prod"}}}}, "drain n1", "refused by deny rule 1"},
		{"deny second rule", Policy{Deny: []Rule{{Verbs: []string{"logs"}}, {Verbs: []string{"GET"}, Resources: []string{"nodes"}}}}, "get no", "refused by deny rule 2"},
		{"allow: match", teamA, "get pods -n team-a", ""},
		{"allow: all types listed", teamA, "get po,deploy -n team-a", ""},
		{"allow: describe", teamA, "describe deployment web -n team-a", ""},
		{"allow: default namespace not listed", teamA, "get pods", `no allow rule matches "get pods" in namespace "default"`},
		{"allow: -A", teamA, "get pods -A", "in all namespaces"},
		{"allow: unlisted type", teamA, "get svc -n team-a", "no allow rule matches"},
		{"allow: one unlisted type", teamA, "get pods,svc -n team-a", "no allow rule matches"},
		{"allow: unlisted verb", teamA, "logs p -n team-a", "no allow rule matches"},
		{"allow: cluster scope", teamA, "get nodes", "at cluster scope"},
		{"allow: no resources", teamA, "version", "no allow rule matches"},
		{"allow: all not covered", teamA, "get all -n team-a", "no allow rule matches"},
		{"allow: all covered by members", Policy{Allow: []Rule{allCategoryRule}}, "get all", ""},
		{"allow: all listed literally", Policy{Allow: []Rule{{Resources: []string{"all"}}}}, "get all", ""},
		{"allow: all does not cover pods", Policy{Allow: []Rule{{Resources: []string{"all"}}}}, "get pods", "no allow rule matches"},
		{"allow: second rule", Policy{Allow: []Rule{teamA.Allow[0], {Verbs: []string{"version"}}}}, "version", ""},
		{"allow never widens the mode", Policy{Allow: []Rule{{Verbs: []string{"delete"}}}}, "delete pod x", `verb "delete" is not allowed in readOnly mode`},
		{"allow never widens to exec", Policy{Allow: []Rule{{Verbs: []string{"*"}}}}, "exec p -- ls", "not allowed in readOnly mode"},
		{"deny wins over allow", Policy{Allow: []Rule{{Verbs: []string{"get"}}}, Deny: denySecrets.Deny}, "get secrets", "refused by deny rule 1"},
		{"allow cannot lift credential refusal", Policy{Mode: FullAccess, Allow: []Rule{{Verbs: []string{"*"}}}}, "get pods --kubeconfig=/x", "flag --kubeconfig is not allowed"},
		{"allow cannot lift secret refusal", Policy{Mode: FullAccess, Allow: []Rule{{Verbs: []string{"*"}, Resources: []string{"*"}, Namespaces: []string{"*"}}}}, "get secrets -o yaml", secretReason},
		{"allow cannot lift stream refusal", Policy{Mode: FullAccess, Allow: []Rule{{}}}, "logs -f p", "flag -f/--follow is not allowed"},
		{"wildcards", Policy{Allow: []Rule{{Verbs: []string{"*"}, Resources: []string{"*"}, Namespaces: []string{"*"}}}}, "get pods -A", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			words := strings.Fields(tc.cmd)
			_, err := tc.p.Check(words[0], words[1:])
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) refused: %v", tc.cmd, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check(%q) = %v, want a refusal containing %q", tc.cmd, err, tc.want)
			}
		})
	}
}

func TestAllowedVerbs(t *testing.T) {
	cases := []struct {
		name     string
		p        Policy
		verbs    []string
		commands []string // nil: not checked
	}{
		{
			name:  "readOnly default",
			p:     Policy{},
			verbs: []string{"api-resources", "api-versions", "auth", "cluster-info", "describe", "events", "explain", "get", "kubently", "logs", "rollout", "top", "version"},
			commands: []string{"api-resources", "api-versions", "auth can-i", "cluster-info", "describe", "events", "explain", "get", "kubently logsearch", "kubently triage", "logs",
				"rollout history", "rollout status", "top", "version"},
		},
		{
			name:  "extendedReadOnly adds exec",
			p:     Policy{Mode: ExtendedReadOnly},
			verbs: []string{"api-resources", "api-versions", "auth", "cluster-info", "describe", "events", "exec", "explain", "get", "kubently", "logs", "rollout", "top", "version"},
		},
		{
			name: "fullAccess",
			p:    Policy{Mode: FullAccess},
			verbs: []string{"annotate", "api-resources", "api-versions", "auth", "autoscale", "cluster-info", "cordon", "create", "delete", "describe", "drain",
				"events", "exec", "explain", "expose", "get", "kubently", "label", "logs", "patch", "rollout", "run", "scale", "set", "taint", "top", "uncordon", "version"},
		},
		{
			name:  "deny a verb outright",
			p:     Policy{Mode: ExtendedReadOnly, Deny: []Rule{{Verbs: []string{"exec", "logs"}}}},
			verbs: []string{"api-resources", "api-versions", "auth", "cluster-info", "describe", "events", "explain", "get", "kubently", "rollout", "top", "version"},
		},
		{
			name:  "a scoped deny keeps the verb",
			p:     Policy{Mode: ExtendedReadOnly, Deny: []Rule{{Verbs: []string{"exec"}, Namespaces: []string{"prod"}}}},
			verbs: []string{"api-resources", "api-versions", "auth", "cluster-info", "describe", "events", "exec", "explain", "get", "kubently", "logs", "rollout", "top", "version"},
		},
		{
			name:     "allow restricts",
			p:        Policy{Allow: []Rule{{Verbs: []string{"get", "Logs"}}}},
			verbs:    []string{"get", "logs"},
			commands: []string{"get", "logs"},
		},
		{
			name:     "allow one subcommand",
			p:        Policy{Allow: []Rule{{Verbs: []string{"rollout status"}}}},
			verbs:    []string{"rollout"},
			commands: []string{"rollout status"},
		},
		{
			name:     "allow a nested subcommand",
			p:        Policy{Mode: FullAccess, Allow: []Rule{{Verbs: []string{"create deployment"}}}},
			verbs:    []string{"create"},
			commands: []string{"create"},
		},
		{
			name:  "allow outside the mode",
			p:     Policy{Allow: []Rule{{Verbs: []string{"delete"}}}},
			verbs: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.AllowedVerbs(); !reflect.DeepEqual(got, tc.verbs) {
				t.Errorf("AllowedVerbs() = %q, want %q", got, tc.verbs)
			}
			if tc.commands != nil {
				if got := tc.p.AllowedCommands(); !reflect.DeepEqual(got, tc.commands) {
					t.Errorf("AllowedCommands() = %q, want %q", got, tc.commands)
				}
			}
			// Every listed verb must really have an allowed command.
			for _, v := range tc.p.AllowedVerbs() {
				if !modeAllowsVerb(tc.p.mode(), v) {
					t.Errorf("AllowedVerbs() lists %q, which the mode refuses", v)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := Policy{
		Mode:  FullAccess,
		Allow: []Rule{{Verbs: []string{"get", "rollout restart", "*"}, Resources: []string{"po", "Secret", "deployments.apps", "*"}, Namespaces: []string{"a", "*"}}},
		Deny:  []Rule{{Verbs: []string{"create secret generic"}}},
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
	bad := map[string]Policy{
		`unknown security mode "root"`:         {Mode: "root"},
		`allow rule 1: unknown command "frob"`: {Allow: []Rule{{Verbs: []string{"frob"}}}},
		`deny rule 2: invalid resource type`:   {Deny: []Rule{{}, {Resources: []string{"a b"}}}},
		`allow rule 1: empty namespace`:        {Allow: []Rule{{Namespaces: []string{" "}}}},
	}
	for want, p := range bad {
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want %q", p, err, want)
		}
	}
}

// TestDocsExample checks the example of docs/security-modes.md.
func TestDocsExample(t *testing.T) {
	p := Policy{
		Mode: ExtendedReadOnly,
		Deny: []Rule{
			{Resources: []string{"secrets"}},
			{Verbs: []string{"exec"}, Namespaces: []string{"kube-system", "kube-public"}},
		},
		Allow: []Rule{
			{
				Verbs:      []string{"get", "describe", "logs", "events", "exec", "top"},
				Resources:  []string{"pods", "deployments", "replicasets", "services", "events"},
				Namespaces: []string{"team-a", "team-a-staging"},
			},
			{Verbs: []string{"version", "api-resources", "api-versions", "explain"}},
			{Verbs: []string{"get", "describe", "top"}, Resources: []string{"nodes"}},
		},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"get pods -n team-a":                "",
		"exec web-0 -n team-a -- env":       "",
		"logs web-0 -n team-a-staging":      "",
		"events -n team-a":                  "",
		"top node":                          "",
		"version":                           "",
		"get pods -n team-b":                `no allow rule matches "get pods" in namespace "team-b"`,
		"get secrets -n team-a":             "refused by deny rule 1",
		"exec coredns -n kube-system -- ls": "refused by deny rule 2",
		"delete pod x -n team-a":            `verb "delete" is not allowed in extendedReadOnly mode`,
		"get pods -A":                       "in all namespaces",
	}
	for cmd, want := range cases {
		words := strings.Fields(cmd)
		_, err := p.Check(words[0], words[1:])
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", cmd, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q = %v, want a refusal containing %q", cmd, err, want)
		}
	}
}
