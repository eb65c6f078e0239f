package analyze

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// eventAdvice gives a root cause and fix for common Warning Event reasons that no other
// analyzer covered. %[1]s is "kind/name", %[2]s the namespace flag, %[3]s the message.
var eventAdvice = map[string]explanation{
	"BackOff":                      {"a container of %[1]s keeps failing and the kubelet backs off restarting it: %[3]s", "read the container's previous log (kubectl logs %[1]s --previous%[2]s) and fix the failure"},
	"Failed":                       {"the kubelet reports a failure for %[1]s: %[3]s", "fix the cause in the message (image, command, configuration)"},
	"FailedScheduling":             {"the scheduler cannot place %[1]s: %[3]s", "address the scheduler's reasons (requests, node selector, taints, volumes)"},
	"FailedMount":                  {"a volume of %[1]s cannot be mounted: %[3]s", "create the missing ConfigMap/Secret/PVC or fix the volume"},
	"FailedAttachVolume":           {"a volume of %[1]s cannot be attached: %[3]s", "check the storage driver and whether the volume is still attached to another node"},
	"Unhealthy":                    {"a probe of %[1]s fails: %[3]s", "fix the probe (port, path, timing) or the endpoint it checks"},
	"FailedCreate":                 {"the controller cannot create pods for %[1]s: %[3]s", "fix the pod template or the admission problem in the message"},
	"ProvisioningFailed":           {"a volume cannot be provisioned for %[1]s: %[3]s", "fix the StorageClass or storage driver problem in the message"},
	"Evicted":                      {"%[1]s was evicted: %[3]s", "set requests/limits to real usage, or add node capacity"},
	"Evicting":                     {"the kubelet is evicting %[1]s: %[3]s", "free the node resource under pressure"},
	"OOMKilling":                   {"the kernel OOM killer killed a process on %[1]s: %[3]s", "set memory limits on the pods there, or add memory"},
	"SystemOOM":                    {"the node ran out of memory: %[3]s", "set memory requests/limits that match usage, or add memory"},
	"FreeDiskSpaceFailed":          {"%[1]s cannot free enough disk space: %[3]s", "clean up images and logs on the node, or enlarge its disk"},
	"ImageGCFailed":                {"%[1]s cannot garbage-collect images: %[3]s", "check the container runtime and disk of the node"},
	"DNSConfigForming":             {"the DNS configuration of %[1]s is truncated: %[3]s", "limit the node's resolv.conf to 3 nameservers and 6 search domains"},
	"FailedGetResourceMetric":      {"the HorizontalPodAutoscaler %[1]s cannot read metrics: %[3]s", "install or fix metrics-server and set resource requests on the target's containers"},
	"FailedComputeMetricsReplicas": {"the HorizontalPodAutoscaler %[1]s cannot compute replicas: %[3]s", "install or fix metrics-server and set resource requests on the target's containers"},
	"FailedGetScale":               {"the HorizontalPodAutoscaler %[1]s cannot read its target: %[3]s", "fix scaleTargetRef of the HorizontalPodAutoscaler"},
	"SyncLoadBalancerFailed":       {"the cloud load balancer of %[1]s cannot be created or updated: %[3]s", "fix the Service annotations or cloud quota/permissions named in the message"},
	"FailedKillPod":                {"the kubelet cannot stop a pod: %[3]s", "check the container runtime on the node"},
	"FailedPreStopHook":            {"the preStop hook of %[1]s fails: %[3]s", "fix the preStop command or HTTP endpoint"},
	"FailedPostStartHook":          {"the postStart hook of %[1]s fails: %[3]s", "fix the postStart command or HTTP endpoint"},
	"NetworkNotReady":              {"the pod network is not ready for %[1]s: %[3]s", "fix the CNI plugin on the node"},
	"FailedCreatePodSandBox":       {"the pod sandbox of %[1]s cannot be created: %[3]s", "fix the CNI plugin / container runtime on the node"},
}

// analyzeWarningEvents reports recent Warning Events about objects that no other finding
// explains, one finding per object and reason.
func (t *triage) analyzeWarningEvents() {
	s := t.s
	type group struct {
		ns, resource, kind, name, reason string
		events                           []*corev1.Event
	}
	groups := map[string]*group{}
	var order []string
	for _, e := range s.events {
		if e.Type != corev1.EventTypeWarning || s.now.Sub(eventTime(e)) > recentEventWindow {
			continue
		}
		io := e.InvolvedObject
		if s.opts.Namespace != "" && io.Namespace != s.opts.Namespace {
			continue
		}
		self := resourceName(io.Kind, io.Name)
		res, inScope := t.eventResource(io)
		if !inScope || t.isCovered(io.Namespace, res) || t.isCovered(io.Namespace, self) {
			continue
		}
		key := io.Namespace + "|" + res + "|" + io.Kind + "|" + io.Name + "|" + e.Reason
		g := groups[key]
		if g == nil {
			g = &group{ns: io.Namespace, resource: res, kind: io.Kind, name: io.Name, reason: e.Reason}
			groups[key] = g
			order = append(order, key)
		}
		g.events = append(g.events, e)
	}
	for _, key := range order {
		g := groups[key]
		total := int32(0)
		for _, e := range g.events {
			total += eventCount(e)
		}
		last := g.events[len(g.events)-1]
		obj := resourceName(g.kind, g.name)
		var ev []string
		seen := map[string]bool{}
		for i := len(g.events) - 1; i >= 0 && len(ev) < 3; i-- {
			if m := g.events[i].Message; !seen[m] {
				seen[m] = true
				ev = append(ev, s.describeEvent(g.events[i]))
			}
		}
		component := last.Source.Component
		if component == "" {
			component = last.ReportingController
		}
		if component != "" {
			ev = append(ev, "reported by "+component)
		}
		nsFlag := ""
		if g.ns != "" {
			nsFlag = " -n " + g.ns
		}
		msg := truncate(strings.TrimSpace(last.Message), 220)
		cause := fmt.Sprintf("%s reports %s: %s", obj, g.reason, msg)
		fix := fmt.Sprintf("inspect kubectl describe %s%s and address the message", obj, nsFlag)
		if a, ok := eventAdvice[g.reason]; ok {
			cause = fmt.Sprintf(a.cause, obj, nsFlag, msg)
			fix = fmt.Sprintf(a.fix, obj, nsFlag, msg)
		}
		symptom := fmt.Sprintf("%s Warning %s on %s", plural(int(total), "event"), g.reason, obj)
		t.add("", Finding{
			Severity: SeverityWarning, Analyzer: AnalyzerWarningEvent, Namespace: g.ns, Resource: g.resource,
			Symptom: symptom, Evidence: ev, RootCause: cause, Fix: fix,
		}, "")
	}
}

// eventResource maps an Event's object to the resource the user manages and says whether
// it is in scope of the label selector.
func (t *triage) eventResource(io corev1.ObjectReference) (string, bool) {
	s := t.s
	k := nsName{io.Namespace, io.Name}
	switch io.Kind {
	case "Pod":
		if p := s.podMap[k]; p != nil {
			return s.podOwner(p), s.inScope(p.Labels)
		}
	case "ReplicaSet":
		if rs := s.replicaSets[k]; rs != nil {
			return s.topOwner(io.Namespace, io.Kind, io.Name, rs.OwnerReferences), s.inScope(rs.Labels)
		}
	case "Job":
		if j := s.jobs[k]; j != nil {
			return s.topOwner(io.Namespace, io.Kind, io.Name, j.OwnerReferences), s.inScope(j.Labels)
		}
	case "Deployment":
		if d := s.deployments[k]; d != nil {
			return resourceName(io.Kind, io.Name), s.inScope(d.Labels)
		}
	case "Service":
		if svc := s.serviceMap[k]; svc != nil {
			return resourceName(io.Kind, io.Name), s.inScope(svc.Labels)
		}
	case "PersistentVolumeClaim":
		if pvc := s.pvcs[k]; pvc != nil {
			return resourceName(io.Kind, io.Name), s.inScope(pvc.Labels)
		}
	case "Node":
		// Node events count only when looking at the whole cluster.
		return resourceName(io.Kind, io.Name), s.opts.Namespace == "" && s.sel.Empty()
	}
	return resourceName(io.Kind, io.Name), s.sel.Empty()
}
