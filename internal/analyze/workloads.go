package analyze

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// workload is what the FailedCreate analyzer needs of a pod controller.
type workload struct {
	kind, ns, name string
	labels         map[string]string
	owners         []metav1.OwnerReference
	desired, have  int32
	failure        string // a ReplicaFailure condition message, if any
	template       *corev1.PodTemplateSpec
}

// workloads lists the controllers that create pods, in scope, sorted.
func (t *triage) workloads() []workload {
	s := t.s
	var out []workload
	for _, k := range sortedNsNames(s.replicaSets) {
		rs := s.replicaSets[k]
		w := workload{kind: "ReplicaSet", ns: rs.Namespace, name: rs.Name, labels: rs.Labels, owners: rs.OwnerReferences,
			desired: ptrOr(rs.Spec.Replicas, 1), have: rs.Status.Replicas, template: &rs.Spec.Template}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				w.failure = c.Message
			}
		}
		out = append(out, w)
	}
	for _, k := range sortedNsNames(s.statefulSets) {
		o := s.statefulSets[k]
		out = append(out, workload{kind: "StatefulSet", ns: o.Namespace, name: o.Name, labels: o.Labels, owners: o.OwnerReferences,
			desired: ptrOr(o.Spec.Replicas, 1), have: o.Status.Replicas, template: &o.Spec.Template})
	}
	for _, k := range sortedNsNames(s.daemonSets) {
		o := s.daemonSets[k]
		out = append(out, workload{kind: "DaemonSet", ns: o.Namespace, name: o.Name, labels: o.Labels, owners: o.OwnerReferences,
			desired: o.Status.DesiredNumberScheduled, have: o.Status.CurrentNumberScheduled, template: &o.Spec.Template})
	}
	for _, k := range sortedNsNames(s.jobs) {
		o := s.jobs[k]
		done := false
		for _, c := range o.Status.Conditions {
			if (c.Type == "Complete" || c.Type == "Failed") && c.Status == corev1.ConditionTrue {
				done = true
			}
		}
		if done {
			continue
		}
		out = append(out, workload{kind: "Job", ns: o.Namespace, name: o.Name, labels: o.Labels, owners: o.OwnerReferences,
			desired: ptrOr(o.Spec.Parallelism, 1), have: o.Status.Active, template: &o.Spec.Template})
	}
	return out
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func sortedNsNames[V any](m map[nsName]V) []nsName {
	keys := make([]nsName, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortNsNames(keys)
	return keys
}

func sortNsNames(keys []nsName) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && (keys[j].ns < keys[j-1].ns || keys[j].ns == keys[j-1].ns && keys[j].name < keys[j-1].name); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

var (
	saNotFoundPattern    = regexp.MustCompile(`serviceaccount "([^"]+)" not found`)
	quotaExceededPattern = regexp.MustCompile(`exceeded quota: ([^,]+), requested: (.+?), used: (.+?), limited: ([^\s]+(?:,[^\s]+)*)`)
	quotaMustSpecify     = regexp.MustCompile(`must specify ([a-z0-9.,/-]+)`)
	podSecurityPattern   = regexp.MustCompile(`violates PodSecurity "([^"]+)": (.+)`)
	webhookDeniedPattern = regexp.MustCompile(`admission webhook "([^"]+)" denied the request: (.+)`)
	limitRangePattern    = regexp.MustCompile(`(?i)(maximum|minimum) (cpu|memory|storage|ephemeral-storage) usage per (Container|Pod) is ([^,]+), but (?:limit|request) is ([^.\s]+)`)
)

// analyzeWorkloads reports controllers that cannot create their pods (FailedCreate).
func (t *triage) analyzeWorkloads(ctx context.Context) {
	s := t.s
	for _, w := range t.workloads() {
		if !s.inScope(w.labels) && !s.inScope(w.template.Labels) {
			continue
		}
		events := s.eventsOf(w.kind, w.ns, w.name, "FailedCreate")
		msg := w.failure
		var last *corev1.Event
		if len(events) > 0 {
			last = events[len(events)-1]
			if msg == "" || eventTime(last).After(s.now.Add(-recentEventWindow)) {
				msg = last.Message
			}
		}
		if msg == "" {
			continue
		}
		self := resourceName(w.kind, w.name)
		top := s.topOwner(w.ns, w.kind, w.name, w.owners)
		if w.have >= w.desired && w.failure == "" {
			t.cover(w.ns, self) // stale: the controller has since created its pods
			continue
		}
		ev := []string{fmt.Sprintf("%s has %d of %d pods", self, w.have, w.desired)}
		if last != nil {
			ev = append(ev, s.describeEvent(last))
		} else {
			ev = append(ev, "condition ReplicaFailure: "+w.failure)
		}
		f := Finding{
			Severity: SeverityCritical, Analyzer: AnalyzerFailedCreate, Namespace: w.ns, Resource: top,
			Symptom: fmt.Sprintf("%s cannot create its pods (FailedCreate); %d of %d exist", self, w.have, w.desired),
		}
		ownerText := top
		exp := t.explainFailedCreate(ctx, w, ownerText, strings.TrimPrefix(msg, "Error creating: "), &f.Evidence)
		f.RootCause, f.Fix = exp.cause, exp.fix
		t.add(w.ns+"|"+top+"|"+AnalyzerFailedCreate, withEvidence(f, ev), "")
		t.cover(w.ns, self, top)
	}
}

// explainFailedCreate interprets a FailedCreate message.
func (t *triage) explainFailedCreate(ctx context.Context, w workload, owner, msg string, evidence *[]string) explanation {
	s := t.s
	if m := saNotFoundPattern.FindStringSubmatch(msg); m != nil {
		sa := m[1]
		o := s.serviceAccount(ctx, w.ns, sa)
		if o.known && o.exists {
			*evidence = append(*evidence, fmt.Sprintf("ServiceAccount %s exists now", sa))
			return explanation{
				fmt.Sprintf("ServiceAccount %s did not exist when the controller tried to create the pods; it exists now", sa),
				fmt.Sprintf("nothing to change if pods appear shortly; otherwise check %s", owner),
			}
		}
		return explanation{
			fmt.Sprintf("ServiceAccount %s, set as serviceAccountName in %s, does not exist in namespace %s, so admission rejects every pod the controller creates",
				sa, owner, w.ns),
			fmt.Sprintf("create the ServiceAccount (kubectl create serviceaccount %s -n %s, plus the RBAC it needs) or set serviceAccountName in %s to an existing ServiceAccount", sa, w.ns, owner),
		}
	}
	if m := quotaExceededPattern.FindStringSubmatch(msg); m != nil {
		quota, requested, used, limited := m[1], m[2], m[3], m[4]
		for _, q := range s.quotasIn(ctx, w.ns) {
			if q.Name == quota {
				*evidence = append(*evidence, fmt.Sprintf("ResourceQuota %s: hard %s, used %s", quota, resourceListText(q.Status.Hard), resourceListText(q.Status.Used)))
			}
		}
		return explanation{
			fmt.Sprintf("ResourceQuota %s in namespace %s is exhausted: a new pod needs %s, but %s is already used of the limit %s", quota, w.ns, requested, used, limited),
			fmt.Sprintf("raise the quota (kubectl edit resourcequota %s -n %s), lower the resource requests of %s, or free quota by scaling down other workloads in %s", quota, w.ns, owner, w.ns),
		}
	}
	if m := quotaMustSpecify.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "quota") {
		return explanation{
			fmt.Sprintf("a ResourceQuota in namespace %s requires every pod to set %s, and the pods of %s do not", w.ns, m[1], owner),
			fmt.Sprintf("set resources (%s) on every container of %s, or add a LimitRange with defaults to namespace %s", m[1], owner, w.ns),
		}
	}
	if m := podSecurityPattern.FindStringSubmatch(msg); m != nil {
		return explanation{
			fmt.Sprintf("Pod Security admission (level %s) of namespace %s rejects the pods: %s", m[1], w.ns, truncate(m[2], 200)),
			fmt.Sprintf("change the securityContext of %s to satisfy the %s level, or relabel namespace %s with a less strict pod-security.kubernetes.io/enforce level", owner, m[1], w.ns),
		}
	}
	if m := webhookDeniedPattern.FindStringSubmatch(msg); m != nil {
		return explanation{
			fmt.Sprintf("admission webhook %s denies the pods: %s", m[1], truncate(m[2], 200)),
			fmt.Sprintf("change %s to satisfy the webhook's policy, or fix the webhook %s", owner, m[1]),
		}
	}
	if m := limitRangePattern.FindStringSubmatch(msg); m != nil {
		return explanation{
			fmt.Sprintf("a LimitRange in namespace %s allows a %s %s of %s per %s, but the pods ask for %s", w.ns, m[1], m[2], m[4], strings.ToLower(m[3]), m[5]),
			fmt.Sprintf("change the %s resources of %s to within the LimitRange, or adjust the LimitRange", m[2], owner),
		}
	}
	return explanation{
		"the API server rejects the pods: " + truncate(msg, 240),
		fmt.Sprintf("fix the pod template of %s as the message says", owner),
	}
}

// resourceListText formats a resource list: "cpu=10, pods=20".
func resourceListText(l corev1.ResourceList) string {
	m := map[string]string{}
	for k, v := range l {
		m[string(k)] = v.String()
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// analyzeRollouts reports Deployments and StatefulSets that are not fully available when no
// other finding explains them (e.g. a rollout stuck for a reason no analyzer recognises).
func (t *triage) analyzeRollouts() {
	s := t.s
	for _, k := range sortedNsNames(s.deployments) {
		d := s.deployments[k]
		if !s.inScope(d.Labels) && !s.inScope(d.Spec.Template.Labels) {
			continue
		}
		res := resourceName("Deployment", d.Name)
		desired := ptrOr(d.Spec.Replicas, 1)
		if d.Status.ObservedGeneration == 0 || d.Status.AvailableReplicas >= desired || t.isCovered(d.Namespace, res) {
			continue
		}
		ev := []string{fmt.Sprintf("replicas: %d desired, %d updated, %d ready, %d available", desired, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)}
		var progress *appsv1.DeploymentCondition
		for i, c := range d.Status.Conditions {
			ev = append(ev, fmt.Sprintf("condition %s=%s (%s): %s", c.Type, c.Status, c.Reason, c.Message))
			if c.Type == appsv1.DeploymentProgressing {
				progress = &d.Status.Conditions[i]
			}
		}
		f := Finding{
			Severity: SeverityWarning, Analyzer: AnalyzerRollout, Namespace: d.Namespace, Resource: res,
			Symptom: fmt.Sprintf("deployment %s has %d of %d replicas available", d.Name, d.Status.AvailableReplicas, desired),
		}
		if d.Status.AvailableReplicas == 0 {
			f.Severity = SeverityCritical
		}
		switch {
		case d.Spec.Paused:
			f.RootCause = "the Deployment is paused, so its rollout does not proceed"
			f.Fix = fmt.Sprintf("kubectl rollout resume deployment/%s -n %s", d.Name, d.Namespace)
		case progress != nil && progress.Reason == "ProgressDeadlineExceeded":
			f.RootCause = fmt.Sprintf("the rollout exceeded its progress deadline (%s): new pods do not become available", progress.Message)
			f.Fix = fmt.Sprintf("inspect the new ReplicaSet's pods (kubectl describe rs -l %s -n %s); roll back with kubectl rollout undo deployment/%s if the new version is broken", formatLabels(d.Spec.Selector.MatchLabels), d.Namespace, d.Name)
		default:
			f.RootCause = "no pod-level problem was found; the pods may still be starting, or their readiness depends on something outside the analyzers' view"
			f.Fix = fmt.Sprintf("watch kubectl rollout status deployment/%s -n %s and check the pods' readiness", d.Name, d.Namespace)
		}
		t.add("", withEvidence(f, ev), "")
	}
	for _, k := range sortedNsNames(s.statefulSets) {
		o := s.statefulSets[k]
		if !s.inScope(o.Labels) && !s.inScope(o.Spec.Template.Labels) {
			continue
		}
		res := resourceName("StatefulSet", o.Name)
		desired := ptrOr(o.Spec.Replicas, 1)
		if o.Status.ObservedGeneration == 0 || o.Status.ReadyReplicas >= desired || t.isCovered(o.Namespace, res) {
			continue
		}
		t.add("", Finding{
			Severity: SeverityWarning, Analyzer: AnalyzerRollout, Namespace: o.Namespace, Resource: res,
			Symptom:   fmt.Sprintf("statefulset %s has %d of %d replicas ready", o.Name, o.Status.ReadyReplicas, desired),
			Evidence:  []string{fmt.Sprintf("replicas: %d desired, %d current, %d ready", desired, o.Status.CurrentReplicas, o.Status.ReadyReplicas)},
			RootCause: "no pod-level problem was found; StatefulSet pods start one at a time, so a missing pod may be waiting for its predecessor to become ready",
			Fix:       fmt.Sprintf("check the lowest-numbered pod that is not ready: kubectl get pods -n %s -l %s", o.Namespace, formatLabels(o.Spec.Selector.MatchLabels)),
		}, "")
	}
}
