package main

import (
	"strings"
	"testing"

	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/policy"
)

// TestPolicyUsesTheRunnersDefaultNamespace: a command without -n runs in the
// kubeconfig's (or in-cluster) namespace, so namespace rules must judge it
// there, not in "default".
func TestPolicyUsesTheRunnersDefaultNamespace(t *testing.T) {
	cfg := &config.Executor{SecurityMode: "readOnly", Rules: config.RuleSet{Deny: []config.Rule{{Resources: []string{"configmaps"}, Namespaces: []string{"kubently"}}}}}
	pol, err := buildPolicy(cfg, "kubently")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Check("get", []string{"configmaps"}); !policy.IsDenial(err) {
		t.Errorf("get configmaps in the default namespace kubently: %v, want the deny rule", err)
	}
	if _, err := pol.Check("get", []string{"configmaps", "-n", "default"}); err != nil {
		t.Errorf("get configmaps -n default refused: %v", err)
	}
}

func TestInvalidPolicyIsAStartupError(t *testing.T) {
	for name, cfg := range map[string]*config.Executor{
		"unknown verb":        {SecurityMode: "readOnly", Rules: config.RuleSet{Allow: []config.Rule{{Verbs: []string{"frobnicate"}}}}},
		"bad resource":        {SecurityMode: "readOnly", Rules: config.RuleSet{Deny: []config.Rule{{Resources: []string{"pods$"}}}}},
		"unknown mode":        {SecurityMode: "superUser"},
		"unconfirmed fullAcc": {SecurityMode: "fullAccess"},
	} {
		if _, err := buildPolicy(cfg, "default"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", name)
		}
	}
}

func TestFullAccessNeedsTheAcknowledgement(t *testing.T) {
	pol, err := buildPolicy(&config.Executor{SecurityMode: "fullAccess", AllowFullAccess: true}, "default")
	if err != nil {
		t.Fatalf("acknowledged fullAccess refused: %v", err)
	}
	if _, err := pol.Check("delete", []string{"pod", "x"}); err != nil {
		t.Fatalf("fullAccess does not allow delete: %v", err)
	}
	if _, err := buildPolicy(&config.Executor{SecurityMode: "fullAccess"}, "default"); err == nil || !strings.Contains(err.Error(), "allow-full-access") {
		t.Fatalf("unacknowledged fullAccess: %v", err)
	}
}
