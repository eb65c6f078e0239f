package kube

import (
	"context"
	"testing"
)

// BenchmarkGetPods compares `kubectl get pods` run in-process by the Runner
// with the same command run by the kubectl binary, against the same objects,
// in the same benchmark run (compare the two ns/op figures).
func BenchmarkGetPods(b *testing.B) {
	f := newFixture(b)
	r := newSARunner(b, Options{ReadOnly: true})
	ctx := context.Background()
	for _, args := range [][]string{
		{"get", "pods", "-n", f.ns},
		{"get", "pods", "-n", f.ns, "-o", "json"},
	} {
		name := "table"
		if len(args) > 4 {
			name = "json"
		}
		b.Run(name+"/in-process", func(b *testing.B) {
			for b.Loop() {
				if res := r.Run(ctx, args); res.ExitCode != 0 {
					b.Fatalf("%+v", res)
				}
			}
		})
		b.Run(name+"/kubectl-binary", func(b *testing.B) {
			for b.Loop() {
				if _, errOut, err := cp.Kubectl(ctx, saKubeconfig, args...); err != nil {
					b.Fatalf("%v: %s", err, errOut)
				}
			}
		})
	}
}
