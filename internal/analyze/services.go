package analyze

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// analyzeServices reports Services without ready endpoints, and Services whose targetPort
// the selected pods do not expose.
func (t *triage) analyzeServices(ctx context.Context) {
	s := t.s
	for _, svc := range s.services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
			continue
		}
		selected := t.selectedPods(svc)
		inScope := s.inScope(svc.Labels)
		for _, p := range selected {
			inScope = inScope || s.inScope(p.Labels)
		}
		if !inScope {
			continue
		}
		t.analyzeService(ctx, svc, selected)
	}
}

// selectedPods returns the non-terminal pods a Service's selector matches.
func (t *triage) selectedPods(svc *corev1.Service) []*corev1.Pod {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []*corev1.Pod
	for _, p := range t.s.podsByNS[svc.Namespace] {
		if !podTerminal(p) && p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func (t *triage) analyzeService(ctx context.Context, svc *corev1.Service, selected []*corev1.Pod) {
	s := t.s
	res := resourceName("Service", svc.Name)
	ready, notReady, known := s.readyEndpoints(ctx, svc)
	readyPods := 0
	for _, p := range selected {
		if podReady(p) {
			readyPods++
		}
	}
	if !known {
		ready = readyPods // no EndpointSlices to go by: judge from the pods
	}
	selector := formatLabels(svc.Spec.Selector)
	base := []string{fmt.Sprintf("service %s selector: %s; ports: %s", svc.Name, selector, servicePorts(svc))}
	if known {
		base = append(base, fmt.Sprintf("EndpointSlices: %d ready, %d not ready endpoints", ready, notReady))
	}

	// A named targetPort no selected pod declares: the endpoints controller skips those pods.
	if mismatch, fix := targetPortMismatch(svc, selected); mismatch != "" {
		sev := SeverityWarning
		if ready == 0 {
			sev = SeverityCritical
		}
		t.add("", Finding{
			Severity: sev, Analyzer: AnalyzerServiceEndpoints, Namespace: svc.Namespace, Resource: res,
			Symptom:   fmt.Sprintf("service %s forwards to a port its pods do not expose", svc.Name),
			Evidence:  append(base, fmt.Sprintf("selected pods: %s", podNames(selected, 5))),
			RootCause: mismatch,
			Fix:       fix,
		}, "")
		return
	}
	if ready > 0 {
		return
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerServiceEndpoints, Namespace: svc.Namespace, Resource: res,
		Symptom: fmt.Sprintf("service %s has no ready endpoints: connections to it fail", svc.Name),
	}
	if len(selected) == 0 {
		cause, fix, ev := t.selectorMismatch(svc)
		f.RootCause, f.Fix = cause, fix
		t.add("", withEvidence(f, append(base, ev...)), "")
		return
	}
	// Pods match but none is ready: say why, citing their own findings.
	ev := append(base, fmt.Sprintf("selected pods: %s (%d ready)", podNames(selected, 5), readyPods))
	owners := map[string]bool{}
	var causes []string
	for _, p := range selected {
		owners[s.podOwner(p)] = true
		if pf := t.podIssue[nsName{p.Namespace, p.Name}]; pf != nil && !containsString(causes, pf.RootCause) {
			causes = append(causes, pf.RootCause)
		}
	}
	ownerList := strings.Join(sortedKeys(owners), ", ")
	if len(causes) > 0 {
		f.RootCause = fmt.Sprintf("the %d pod(s) it selects (%s) are not ready: %s", len(selected), ownerList, causes[0])
		f.Fix = fmt.Sprintf("fix the pods of %s (see the finding for %s); the Service gets endpoints as soon as they are ready", ownerList, ownerList)
		if pf := t.podIssue[nsName{selected[0].Namespace, selected[0].Name}]; pf != nil {
			f.Fix = pf.Fix + "; the Service gets endpoints as soon as the pods are ready"
		}
	} else {
		f.RootCause = fmt.Sprintf("the %d pod(s) it selects (%s) are not ready", len(selected), ownerList)
		f.Fix = fmt.Sprintf("find out why the pods of %s are not ready (kubectl describe pod -n %s -l %s)", ownerList, svc.Namespace, selector)
	}
	t.add("", withEvidence(f, ev), "")
}

func servicePorts(svc *corev1.Service) string {
	parts := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		tp := targetPortOf(p)
		parts = append(parts, fmt.Sprintf("%d->%s", p.Port, tp.String()))
	}
	return strings.Join(parts, ", ")
}

// targetPortOf is a Service port's targetPort (defaulting to port).
func targetPortOf(p corev1.ServicePort) intstr.IntOrString {
	if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 || p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == "" {
		return intstr.FromInt32(p.Port)
	}
	return p.TargetPort
}

func podNames(pods []*corev1.Pod, n int) string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return listNames(names, n)
}

// targetPortMismatch checks each Service port's targetPort against the selected pods'
// container ports. A numeric port is only judged when the containers declare ports.
func targetPortMismatch(svc *corev1.Service, pods []*corev1.Pod) (cause, fix string) {
	if len(pods) == 0 {
		return "", ""
	}
	p := pods[0]
	declared := map[int32]bool{}
	named := map[string]int32{}
	var list []string
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			declared[cp.ContainerPort] = true
			if cp.Name != "" {
				named[cp.Name] = cp.ContainerPort
			}
			desc := fmt.Sprint(cp.ContainerPort)
			if cp.Name != "" {
				desc += " (" + cp.Name + ")"
			}
			list = append(list, desc)
		}
	}
	sort.Strings(list)
	portList := strings.Join(list, ", ")
	if portList == "" {
		portList = "none declared"
	}
	for _, sp := range svc.Spec.Ports {
		tp := targetPortOf(sp)
		if tp.Type == intstr.String {
			if _, ok := named[tp.StrVal]; !ok {
				return fmt.Sprintf("service %s port %d targets the named port %q, but the containers of its pods declare no port with that name (their ports: %s), so no endpoint is created",
						svc.Name, sp.Port, tp.StrVal, portList),
					fmt.Sprintf("set targetPort of service/%s port %d to one of the container ports (%s), or name the container port %q in the pod template", svc.Name, sp.Port, portList, tp.StrVal)
			}
			continue
		}
		if len(declared) > 0 && !declared[tp.IntVal] {
			return fmt.Sprintf("service %s port %d forwards to targetPort %d, but the containers of its pods listen on %s, so connections are refused",
					svc.Name, sp.Port, tp.IntVal, portList),
				fmt.Sprintf("set targetPort of service/%s port %d to the container port (%s)", svc.Name, sp.Port, portList)
		}
	}
	return "", ""
}

// selectorMismatch explains a selector that matches no pod, naming the pods that almost
// match (same key, other value) and their owners.
func (t *triage) selectorMismatch(svc *corev1.Service) (cause, fix string, evidence []string) {
	s := t.s
	selector := formatLabels(svc.Spec.Selector)
	type near struct {
		owner  string
		labels map[string]string // the pods' values for the selector's keys
		score  int
	}
	best := map[string]*near{}
	for _, p := range s.podsByNS[svc.Namespace] {
		if podTerminal(p) {
			continue
		}
		score := 0
		vals := map[string]string{}
		for k, v := range svc.Spec.Selector {
			if pv, ok := p.Labels[k]; ok {
				vals[k] = pv
				score++
				if pv == v {
					score++
				}
			}
		}
		if score == 0 {
			continue
		}
		o := s.podOwner(p)
		if cur := best[o]; cur == nil || score > cur.score {
			best[o] = &near{owner: o, labels: vals, score: score}
		}
	}
	var nears []*near
	for _, k := range sortedKeys(best) {
		nears = append(nears, best[k])
	}
	sort.SliceStable(nears, func(i, j int) bool { return nears[i].score > nears[j].score })
	if len(nears) == 0 {
		cause = fmt.Sprintf("selector %s of service %s matches no pod: no pod in namespace %s has any of these labels", selector, svc.Name, svc.Namespace)
		fix = fmt.Sprintf("deploy the pods this Service should route to, or change the selector of service/%s to the labels of the intended pods (kubectl get pods -n %s --show-labels)", svc.Name, svc.Namespace)
		return cause, fix, nil
	}
	n := nears[0]
	var diffs []string
	newSel := map[string]string{}
	for k, v := range svc.Spec.Selector {
		newSel[k] = v
	}
	for _, k := range sortedKeys(svc.Spec.Selector) {
		v := svc.Spec.Selector[k]
		pv, has := n.labels[k]
		switch {
		case !has:
			diffs = append(diffs, fmt.Sprintf("the pods have no label %s", k))
			delete(newSel, k)
		case pv != v:
			diffs = append(diffs, fmt.Sprintf("selector %s=%s vs pods labelled %s=%s", k, v, k, pv))
			newSel[k] = pv
		}
	}
	cause = fmt.Sprintf("selector/label mismatch: service %s selects %s, but no pod carries these labels; the pods of %s are labelled %s (%s)",
		svc.Name, selector, n.owner, formatLabels(n.labels), strings.Join(diffs, "; "))
	patch := make([]string, 0, len(svc.Spec.Selector))
	for _, k := range sortedKeys(svc.Spec.Selector) {
		if v, keep := newSel[k]; keep {
			patch = append(patch, fmt.Sprintf("%q:%q", k, v))
		} else {
			patch = append(patch, fmt.Sprintf("%q:null", k))
		}
	}
	fix = fmt.Sprintf("fix the selector of service/%s to %s (kubectl patch service %s -n %s --type merge -p '{\"spec\":{\"selector\":{%s}}}'), or, if the Service is right, change the pod template labels of %s",
		svc.Name, formatLabels(newSel), svc.Name, svc.Namespace, strings.Join(patch, ","), n.owner)
	for _, other := range nears[1:] {
		evidence = append(evidence, fmt.Sprintf("pods of %s have %s", other.owner, formatLabels(other.labels)))
	}
	return cause, fix, evidence
}
