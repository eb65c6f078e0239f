package analyze

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// analyzeNodes reports NotReady nodes (with the pods they take down) and Ready nodes under
// pressure. With a namespace or label selector, only nodes running pods in scope count.
func (t *triage) analyzeNodes(ctx context.Context) {
	s := t.s
	podsOn := map[string][]*corev1.Pod{}
	for _, p := range s.pods {
		if p.Spec.NodeName != "" && !podTerminal(p) && s.inScope(p.Labels) {
			podsOn[p.Spec.NodeName] = append(podsOn[p.Spec.NodeName], p)
		}
	}
	clusterWide := s.opts.Namespace == "" && s.sel.Empty()
	for _, n := range s.nodeList {
		pods := podsOn[n.Name]
		if !clusterWide && len(pods) == 0 {
			continue
		}
		if !nodeReady(n) {
			t.notReadyNode(ctx, n, pods)
			continue
		}
		t.nodePressure(n, pods, clusterWide)
	}
}

// notReadyNode reports a node whose Ready condition is False or Unknown.
func (t *triage) notReadyNode(ctx context.Context, n *corev1.Node, pods []*corev1.Pod) {
	s := t.s
	ready := nodeCondition(n, corev1.NodeReady)
	res := resourceName("Node", n.Name)
	var ev []string
	status, reason, message := "missing", "", ""
	if ready != nil {
		status, reason, message = string(ready.Status), ready.Reason, ready.Message
		ev = append(ev, fmt.Sprintf("Ready=%s (%s: %s) since %s; last heartbeat %s", status, reason, message,
			s.ago(ready.LastTransitionTime.Time), s.ago(ready.LastHeartbeatTime.Time)))
	} else {
		ev = append(ev, "the node has no Ready condition: its kubelet never registered status")
	}
	if lease, err := s.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n.Name, metav1.GetOptions{}); err == nil && lease.Spec.RenewTime != nil {
		ev = append(ev, "node lease last renewed "+s.ago(lease.Spec.RenewTime.Time))
	}
	var taints []string
	for _, tn := range n.Spec.Taints {
		taints = append(taints, formatTaint(tn))
	}
	if len(taints) > 0 {
		ev = append(ev, "taints: "+strings.Join(taints, ", "))
	}
	owners := map[string]bool{}
	var podDescs []string
	for _, p := range pods {
		o := s.podOwner(p)
		if s.opts.Namespace == "" {
			owners[o+" (namespace "+p.Namespace+")"] = true
		} else {
			owners[o] = true
		}
		state := string(p.Status.Phase)
		switch {
		case p.DeletionTimestamp != nil:
			state = "Terminating"
		case p.Status.Reason == "NodeLost":
			state = "Unknown"
		case p.Status.Phase == corev1.PodRunning && !podReady(p):
			state = "Running, not Ready"
		}
		podDescs = append(podDescs, fmt.Sprintf("%s/%s (%s, %s)", p.Namespace, p.Name, state, o))
		t.cover(p.Namespace, "pod/"+p.Name, o)
		for _, ref := range p.OwnerReferences {
			t.cover(p.Namespace, resourceName(ref.Kind, ref.Name))
		}
	}
	if len(podDescs) > 0 {
		ev = append(ev, "pods on it: "+listNames(podDescs, 6))
	}
	ownerList := strings.Join(sortedKeys(owners), ", ")
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerNodeNotReady, Resource: res,
		Symptom: fmt.Sprintf("node %s is NotReady (Ready=%s)", n.Name, status),
	}
	if len(pods) > 0 {
		f.Symptom += fmt.Sprintf("; %s on it are Unknown/Terminating or not ready", plural(len(pods), "pod"))
	}
	affected := ""
	if ownerList != "" {
		affected = fmt.Sprintf(" The node, not the application, is the problem: the pods of %s fail only because they run on it.", ownerList)
	} else {
		affected = " The node, not the application, is the problem."
	}
	lower := strings.ToLower(message)
	switch {
	case ready == nil || ready.Status == corev1.ConditionUnknown:
		f.RootCause = fmt.Sprintf("node %s is NotReady: its kubelet stopped posting node status (last heartbeat %s), so the machine is down, cut off from the control plane, or its kubelet has stopped.%s",
			n.Name, heartbeatAgo(s, ready), affected)
	case strings.Contains(lower, "network plugin") || strings.Contains(lower, "cni"):
		f.RootCause = fmt.Sprintf("node %s is NotReady because its container network is not ready (%s): the CNI plugin is not running or not configured on it.%s", n.Name, truncate(message, 160), affected)
	case strings.Contains(lower, "container runtime"):
		f.RootCause = fmt.Sprintf("node %s is NotReady because its container runtime is down (%s).%s", n.Name, truncate(message, 160), affected)
	default:
		f.RootCause = fmt.Sprintf("node %s is NotReady: the kubelet reports %s: %s.%s", n.Name, reason, truncate(message, 160), affected)
	}
	f.Fix = fmt.Sprintf("repair node %s rather than the workloads: check that the machine runs and is reachable, then the kubelet and container runtime (systemctl status kubelet containerd; journalctl -u kubelet). If it cannot be recovered, drain and remove it (kubectl drain %s --ignore-daemonsets --delete-emptydir-data --force; kubectl delete node %s) so its pods are recreated on healthy nodes; pods stuck Terminating there can be removed with kubectl delete pod <pod> -n <namespace> --force --grace-period=0 once the node is confirmed down",
		n.Name, n.Name, n.Name)
	t.add("", withEvidence(f, ev), "")
}

func heartbeatAgo(s *snapshot, c *corev1.NodeCondition) string {
	if c == nil || c.LastHeartbeatTime.IsZero() {
		return "never"
	}
	return s.ago(c.LastHeartbeatTime.Time)
}

// nodePressure reports pressure conditions, an unavailable network and cordoned nodes.
func (t *triage) nodePressure(n *corev1.Node, pods []*corev1.Pod, clusterWide bool) {
	res := resourceName("Node", n.Name)
	for _, c := range n.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		var cause, fix string
		sev := SeverityWarning
		switch c.Type {
		case corev1.NodeMemoryPressure:
			cause = fmt.Sprintf("node %s is low on memory (%s); the kubelet evicts pods and the scheduler avoids it", n.Name, c.Message)
			fix = "set memory requests/limits that match real usage on the pods there, or add memory / nodes"
		case corev1.NodeDiskPressure:
			cause = fmt.Sprintf("node %s is low on disk space (%s); the kubelet evicts pods and garbage-collects images", n.Name, c.Message)
			fix = "free disk on the node (images, logs, emptyDir), set ephemeral-storage limits, or enlarge the node's disk"
		case corev1.NodePIDPressure:
			cause = fmt.Sprintf("node %s is running out of process IDs (%s)", n.Name, c.Message)
			fix = "find the pod that forks too many processes and fix it, or set pod PID limits"
		case corev1.NodeNetworkUnavailable:
			sev = SeverityCritical
			cause = fmt.Sprintf("the network of node %s is not configured (%s)", n.Name, c.Message)
			fix = "fix the CNI / cloud route configuration of the node"
		default:
			continue
		}
		t.add("", Finding{
			Severity: sev, Analyzer: AnalyzerNodeCondition, Resource: res,
			Symptom:   fmt.Sprintf("node %s reports %s", n.Name, c.Type),
			Evidence:  []string{fmt.Sprintf("%s=True (%s) since %s", c.Type, c.Reason, t.s.ago(c.LastTransitionTime.Time)), fmt.Sprintf("%s on it in scope", plural(len(pods), "pod"))},
			RootCause: cause,
			Fix:       fix,
		}, "")
	}
	if n.Spec.Unschedulable && clusterWide {
		t.add("", Finding{
			Severity: SeverityInfo, Analyzer: AnalyzerNodeCondition, Resource: res,
			Symptom:   fmt.Sprintf("node %s is cordoned", n.Name),
			Evidence:  []string{"spec.unschedulable: true"},
			RootCause: fmt.Sprintf("node %s was cordoned (kubectl cordon or a drain), so no new pods are scheduled to it", n.Name),
			Fix:       fmt.Sprintf("kubectl uncordon %s when its maintenance is done", n.Name),
		}, "")
	}
}
