// Package analyze holds Kubently's deterministic failure analyzers. They run inside the
// executor, next to the cluster, with its read-only ServiceAccount (client-go, no kubectl
// process), and turn what the apiserver knows — pod and node status, owner references,
// Events, Services and their EndpointSlices, PersistentVolumeClaims, StorageClasses,
// ConfigMap and Secret key names, and optionally the last log lines of crashing containers
// — into a short list of Findings.
//
// A Finding names the resource the user manages (a Pod's top owner, such as
// "deployment/checkout", found by walking owner references), the symptom, the evidence
// (status reasons, exit codes, Event messages, log lines), the most likely root cause and a
// concrete fix. No LLM is involved: an agent can reason over the findings, and without a
// model Render turns them into a readable diagnosis.
//
// Secret values never appear in findings: the analyzers read only the key names of Secrets,
// and log lines that look like credentials are masked.
//
// Triage is the entry point:
//
//	findings, err := analyze.Triage(ctx, clientset, analyze.Options{Namespace: "shop", IncludeLogs: true})
//	fmt.Print(analyze.Render(findings))
package analyze
