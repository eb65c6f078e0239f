// Package scenarios builds the 15 failure scenarios of shared/scenarios/README.md (and a
// healthy namespace) in a k8stest control plane, so the analyzers, the agent and end-to-end
// tests diagnose the same clusters.
//
// There is no kubelet, scheduler or controller-manager in a k8stest control plane, so Build
// writes every object a real cluster would hold: Deployments with their ReplicaSets and
// Pods (owner references, pod-template-hash labels), Jobs and their Pods, Nodes with
// capacity, taints, conditions and leases, Services with their EndpointSlices,
// PersistentVolumeClaims and StorageClasses, the status of each object as kubelet and
// controllers report it, Events as kubelet, scheduler and controllers record them, and
// container logs through the kubelet stand-in.
//
// Each Scenario also states what a correct diagnosis says: the resource it names, the
// analyzer that finds it, and words the root cause and fix must contain.
//
//	ns := cp.NewNamespace(t)
//	if err := scenarios.Build(ctx, cp, ns, 1); err != nil { t.Fatal(err) }
//	sc, _ := scenarios.Get(1)
//	// sc.Resource(ns) == "deployment/checkout", sc.RootCause == []string{"DEPLOY_ENV"}, ...
//
// Nodes are cluster-scoped: each namespace gets its own nodes, named after it (NodeName),
// so scenarios built in parallel in one control plane do not disturb each other.
package scenarios
