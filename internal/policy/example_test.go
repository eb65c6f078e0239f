package policy_test

import (
	"fmt"

	"github.com/kubently/kubently/internal/policy"
)

func ExamplePolicy_Check() {
	p := policy.Policy{Mode: policy.ReadOnly}

	cmd, err := p.Check("get", []string{"po", "-nkube-system", "-owide"})
	fmt.Println(cmd.Argv(), err)

	_, err = p.Check("get", []string{"secret/db", "-o", "jsonpath={.data}"})
	fmt.Println(err)

	_, err = p.Check("get", []string{"pods", "-Aw"})
	fmt.Println(err)
	// Output:
	// [get --namespace=kube-system --output=wide po] <nil>
	// command denied: reading secret values is not allowed: output format "jsonpath" on secrets (only the default table, -o wide and -o name are allowed)
	// command denied: flag -w/--watch is not allowed: it starts an unbounded stream; commands must finish
}

func ExampleParse() {
	cmd, _ := policy.Parse("", []string{"rollout", "-n", "prod", "history", "deploy/web"})
	fmt.Println(cmd.Path(), cmd.Namespace, cmd.Resources, cmd.Names)
	// Output: rollout history prod [deployments] [web]
}
