// Package kubectlcompat holds only tests: they compare package policy's
// kubectl flag table and argv parser with kubectl itself (the cobra command
// tree of k8s.io/kubectl, at the version the main module requires).
//
// It is a separate Go module (see go.mod; it replaces the main module with
// the enclosing checkout) so that neither package policy nor the main module
// depend on kubectl's command packages, which pull in kustomize and much
// more. "go test ./..." at the repository root therefore skips it; run it
// explicitly, in CI and after any kubectl upgrade:
//
//	cd internal/policy/kubectlcompat && go test ./...
//	go test -fuzz FuzzParseMatchesKubectl -fuzztime 5m   # differential fuzzing
//
// When the main module's go.mod gains requirements, refresh this module's
// go.sum with "go mod tidy" here.
package kubectlcompat
