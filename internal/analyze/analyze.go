package analyze

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// Severity levels of a Finding, from most to least severe.
const (
	// SeverityCritical: the workload or resource does not work (not running, not
	// reachable, not schedulable).
	SeverityCritical = "critical"
	// SeverityWarning: something is degraded or will fail, but it still works.
	SeverityWarning = "warning"
	// SeverityInfo: worth knowing, nothing is broken by it.
	SeverityInfo = "info"
)

// Analyzer names, the value of Finding.Analyzer. They let a caller (or an agent) tell
// what kind of problem a finding describes without parsing its text.
const (
	// AnalyzerCrashLoop: a container exits and is restarted (CrashLoopBackOff), or a
	// container of a pod that is not restarted failed.
	AnalyzerCrashLoop = "CrashLoopBackOff"
	// AnalyzerImagePull: an image cannot be pulled (ErrImagePull, ImagePullBackOff,
	// InvalidImageName).
	AnalyzerImagePull = "ImagePull"
	// AnalyzerOOMKilled: a container is killed for exceeding its memory limit.
	AnalyzerOOMKilled = "OOMKilled"
	// AnalyzerConfig: a container cannot be created because its configuration refers to
	// a missing ConfigMap, Secret or key (CreateContainerConfigError), or the runtime
	// refused to create or start it.
	AnalyzerConfig = "CreateContainerConfigError"
	// AnalyzerFailedMount: a pod is stuck in ContainerCreating because a volume cannot
	// be mounted (FailedMount, FailedAttachVolume) or its sandbox cannot be created.
	AnalyzerFailedMount = "FailedMount"
	// AnalyzerUnschedulable: a pod stays Pending because no node can run it.
	AnalyzerUnschedulable = "Unschedulable"
	// AnalyzerInitContainer: an init container fails or never finishes.
	AnalyzerInitContainer = "InitContainer"
	// AnalyzerProbe: a readiness or liveness (or startup) probe fails.
	AnalyzerProbe = "Probe"
	// AnalyzerFailedCreate: a controller (ReplicaSet, StatefulSet, DaemonSet, Job) cannot
	// create its pods.
	AnalyzerFailedCreate = "FailedCreate"
	// AnalyzerServiceEndpoints: a Service has no ready endpoints, or routes to a port the
	// pods do not expose.
	AnalyzerServiceEndpoints = "ServiceEndpoints"
	// AnalyzerNodeNotReady: a node is NotReady; its pods are affected, not at fault.
	AnalyzerNodeNotReady = "NodeNotReady"
	// AnalyzerNodeCondition: a Ready node reports pressure or is cordoned.
	AnalyzerNodeCondition = "NodeCondition"
	// AnalyzerPVC: a PersistentVolumeClaim is not bound.
	AnalyzerPVC = "PVC"
	// AnalyzerPodFailed: a pod was evicted or is stuck terminating.
	AnalyzerPodFailed = "PodFailed"
	// AnalyzerRollout: a Deployment or StatefulSet is not fully available and no other
	// finding explains why.
	AnalyzerRollout = "Rollout"
	// AnalyzerWarningEvent: a Warning Event that no other finding explains.
	AnalyzerWarningEvent = "WarningEvent"
	// AnalyzerAccess: the analyzers could not read something, so some checks were skipped.
	AnalyzerAccess = "Access"
)

// Finding is one diagnosed problem: what is affected, what is seen, why, and how to fix it.
// It is compact on purpose: findings are handed to an LLM agent or rendered as text.
type Finding struct {
	// Severity is SeverityCritical, SeverityWarning or SeverityInfo.
	Severity string `json:"severity"`
	// Analyzer names the kind of problem (one of the Analyzer* constants).
	Analyzer string `json:"analyzer"`
	// Resource is the affected object the user manages, kubectl style:
	// "deployment/checkout", "service/web", "node/worker-2", "persistentvolumeclaim/data".
	Resource string `json:"resource"`
	// Namespace of Resource; empty for cluster-scoped resources such as nodes.
	Namespace string `json:"namespace,omitempty"`
	// Symptom is what is observed, in one sentence.
	Symptom string `json:"symptom"`
	// Evidence lists concrete facts: status reasons, exit codes, Event messages, log lines.
	Evidence []string `json:"evidence"`
	// RootCause is the most likely cause, as specific as the evidence allows (it names the
	// environment variable, image tag, key, selector, taint, ...).
	RootCause string `json:"root_cause"`
	// Fix is a concrete change that resolves the root cause.
	Fix string `json:"fix"`
}

// Options select what Triage looks at.
type Options struct {
	// Namespace limits the analysis to one namespace; "" analyzes all namespaces. Nodes
	// are reported when they affect pods in scope (or always, for all namespaces).
	Namespace string
	// LabelSelector (kubectl syntax, e.g. "app=web,tier!=cache") limits the analysis to
	// pods with matching labels, workloads whose labels or pod template match, Services
	// whose labels match or that select matching pods, PersistentVolumeClaims whose labels
	// match or that matching pods use, and the Events about them.
	LabelSelector string
	// IncludeLogs fetches the last log lines of crashing and failing containers. The root
	// cause of a crash is often only in the log (e.g. "fatal: DEPLOY_ENV is not set").
	IncludeLogs bool
	// MaxFindings caps the number of findings returned (the most severe first); 0 means
	// no cap.
	MaxFindings int
}

// Limits that keep findings compact.
const (
	maxEvidence       = 10
	maxEvidenceLen    = 320
	maxLogFetches     = 12
	logTailLines      = 40
	logEvidenceLines  = 4
	logFetchTimeout   = 10 * time.Second
	recentEventWindow = time.Hour
)

// Triage reads the cluster through c (read rights suffice: get/list on the usual kinds and
// get on pods/log) and returns the problems it finds, sorted by severity, then namespace
// and resource. It fails only when pods cannot be listed or ctx ends; anything else it
// cannot read is reported as an Access finding and the checks needing it are skipped.
func Triage(ctx context.Context, c kubernetes.Interface, opts Options) ([]Finding, error) {
	sel, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("analyze: invalid label selector %q: %w", opts.LabelSelector, err)
	}
	s, err := collect(ctx, c, opts, sel)
	if err != nil {
		return nil, err
	}
	t := newTriage(s)
	t.run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := t.result()
	if opts.MaxFindings > 0 && len(out) > opts.MaxFindings {
		out = out[:opts.MaxFindings]
	}
	return out, nil
}

// triage holds the state of one Triage run: the snapshot and the findings so far.
type triage struct {
	s        *snapshot
	findings []*finding
	groups   map[string]*finding // grouping key -> finding
	covered  map[string]bool     // coverKey(ns, resource) of everything a finding explains
	// podIssue remembers the finding that explains a pod, so a Service finding can say
	// why its pods are not ready.
	podIssue map[nsName]*finding
	// pvcFindings are the findings about claims, so pods waiting for them join them.
	pvcFindings map[nsName]*finding
	logFetches  int
}

// finding is a Finding under construction, with the pods it groups.
type finding struct {
	Finding
	pods []string
}

func newTriage(s *snapshot) *triage {
	return &triage{
		s:        s,
		groups:   map[string]*finding{},
		covered:  map[string]bool{},
		podIssue: map[nsName]*finding{},

		pvcFindings: map[nsName]*finding{},
	}
}

// run calls the analyzers. The order matters: node and PVC findings come first so that pod
// findings can defer to them, pod findings before Services (which cite them), and Warning
// events last (they report only what nothing else explains).
func (t *triage) run(ctx context.Context) {
	t.analyzeNodes(ctx)
	t.analyzePVCs(ctx)
	for _, p := range t.s.pods {
		if ctx.Err() != nil {
			return
		}
		if t.s.inScope(p.Labels) {
			t.analyzePod(ctx, p)
		}
	}
	t.analyzeWorkloads(ctx)
	t.analyzeServices(ctx)
	t.analyzeRollouts()
	t.analyzeWarningEvents()
	t.reportGaps()
}

// coverKey identifies a resource for coverage bookkeeping.
func coverKey(ns, resource string) string { return ns + "|" + resource }

// cover records that resources in ns are explained by a finding.
func (t *triage) cover(ns string, resources ...string) {
	for _, r := range resources {
		t.covered[coverKey(ns, r)] = true
	}
}

func (t *triage) isCovered(ns, resource string) bool { return t.covered[coverKey(ns, resource)] }

// add records a finding. Findings with the same non-empty group key are merged: the first
// one's text is kept and the pods are accumulated. It returns the stored finding.
func (t *triage) add(group string, f Finding, pod string) *finding {
	if group != "" {
		if existing := t.groups[group]; existing != nil {
			if pod != "" && !slices.Contains(existing.pods, pod) {
				existing.pods = append(existing.pods, pod)
			}
			return existing
		}
	}
	nf := &finding{Finding: f}
	if pod != "" {
		nf.pods = []string{pod}
	}
	t.findings = append(t.findings, nf)
	if group != "" {
		t.groups[group] = nf
	}
	t.cover(f.Namespace, f.Resource)
	return nf
}

// result finalizes and sorts the findings.
func (t *triage) result() []Finding {
	out := make([]Finding, 0, len(t.findings))
	for _, f := range t.findings {
		g := f.Finding
		ev := slices.Clone(g.Evidence)
		if len(f.pods) > 1 || (len(f.pods) == 1 && !strings.HasPrefix(g.Resource, "pod/")) {
			ev = append(ev, "affected pods: "+listNames(f.pods, 6))
		}
		g.Evidence = compactEvidence(ev)
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Resource, b.Resource),
			cmp.Compare(a.Analyzer, b.Analyzer),
			cmp.Compare(a.RootCause, b.RootCause),
		)
	})
	return out
}

func severityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}

// compactEvidence drops duplicates and empty lines, shortens long lines and caps the count.
func compactEvidence(ev []string) []string {
	out := make([]string, 0, len(ev))
	seen := map[string]bool{}
	for _, e := range ev {
		e = strings.TrimSpace(e)
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, truncate(e, maxEvidenceLen))
	}
	if len(out) > maxEvidence {
		// Keep the first lines (the most specific) and the last (affected pods).
		last := out[len(out)-1]
		out = append(out[:maxEvidence-1], last)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// reportGaps turns what could not be read into one Access finding.
func (t *triage) reportGaps() {
	if len(t.s.gaps) == 0 {
		return
	}
	t.add("", Finding{
		Severity:  SeverityInfo,
		Analyzer:  AnalyzerAccess,
		Resource:  "executor/permissions",
		Namespace: t.s.opts.Namespace,
		Symptom:   "some objects could not be read, so the checks that need them were skipped",
		Evidence:  t.s.gaps,
		RootCause: "the executor's ServiceAccount lacks read access to these resources, or the API is not served by this cluster",
		Fix:       "grant get/list on them in the executor's ClusterRole (deploy/rbac/executor-readonly.yaml) if these checks are wanted",
	}, "")
}
