package analyze

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Scheduling failure categories, as the scheduler's filter plugins report them.
const (
	catResources   = "resources"
	catSelector    = "selector"
	catTaint       = "taint"
	catCordoned    = "cordoned"
	catNotReady    = "notready"
	catVolume      = "volume"
	catPorts       = "ports"
	catPodAffinity = "podaffinity"
	catTopology    = "topology"
	catOther       = "other"
)

// schedReason is one reason of a FailedScheduling message ("2 Insufficient cpu").
type schedReason struct {
	count int // nodes; 0 for pod-level reasons
	text  string
	cat   string
}

var schedMessagePattern = regexp.MustCompile(`(?s)^0/(\d+) nodes are available:?\s*(.*)$`)

// parseSchedulingMessage parses the scheduler's "0/N nodes are available: ..." message.
// It returns N (-1 when the message has another form) and the reasons, most nodes first.
func parseSchedulingMessage(msg string) (total int, reasons []schedReason) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return -1, nil
	}
	m := schedMessagePattern.FindStringSubmatch(msg)
	if m == nil {
		return -1, []schedReason{{text: msg, cat: schedCategory(msg)}}
	}
	total, _ = strconv.Atoi(m[1])
	body := m[2]
	if i := strings.Index(body, " preemption:"); i >= 0 {
		body = body[:i]
	}
	body = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(body), "."))
	// Reasons are separated by ", " or ". "; a taint's "{k: v}" may itself contain ", ".
	var parts []string
	for _, seg := range splitReasons(body) {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		if len(parts) > 0 && !startsWithCount(seg) && !strings.HasPrefix(seg, "pod ") && strings.Count(parts[len(parts)-1], "{") > strings.Count(parts[len(parts)-1], "}") {
			parts[len(parts)-1] += ", " + seg
			continue
		}
		parts = append(parts, seg)
	}
	for _, p := range parts {
		r := schedReason{text: p}
		if fields := strings.SplitN(p, " ", 2); len(fields) == 2 {
			if n, err := strconv.Atoi(fields[0]); err == nil {
				r.count, r.text = n, fields[1]
			}
		}
		r.cat = schedCategory(r.text)
		reasons = append(reasons, r)
	}
	sort.SliceStable(reasons, func(i, j int) bool {
		ci, cj := reasons[i].count, reasons[j].count
		if ci == 0 {
			ci = 1 << 30 // pod-level reasons apply to every node
		}
		if cj == 0 {
			cj = 1 << 30
		}
		return ci > cj
	})
	return total, reasons
}

func splitReasons(body string) []string {
	var out []string
	for _, a := range strings.Split(body, ", ") {
		out = append(out, strings.Split(a, ". ")...)
	}
	return out
}

func startsWithCount(s string) bool {
	return len(s) > 0 && s[0] >= '0' && s[0] <= '9'
}

// schedCategory maps a reason text to a category.
func schedCategory(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.HasPrefix(t, "insufficient ") || strings.Contains(t, "too many pods"):
		return catResources
	case strings.Contains(t, "node affinity/selector") || strings.Contains(t, "node selector") || strings.Contains(t, "didn't match pod's node affinity"):
		return catSelector
	case strings.Contains(t, "taint"):
		return catTaint
	case strings.Contains(t, "unschedulable"):
		return catCordoned
	case strings.Contains(t, "persistentvolumeclaim") || strings.Contains(t, "volume") || strings.Contains(t, "storageclass"):
		return catVolume
	case strings.Contains(t, "free ports"):
		return catPorts
	case strings.Contains(t, "anti-affinity") || strings.Contains(t, "pod affinity"):
		return catPodAffinity
	case strings.Contains(t, "topology spread"):
		return catTopology
	case strings.Contains(t, "not ready") || strings.Contains(t, "unreachable"):
		return catNotReady
	}
	return catOther
}

// nodeFit is the result of evaluating a pending pod against every node, like the
// scheduler's filters would.
type nodeFit struct {
	nodes        int
	fits         []string
	failing      map[string][]string // category -> nodes
	taints       map[string][]string // untolerated "key=value:Effect" -> nodes
	insufficient map[corev1.ResourceName][]string
	requests     corev1.ResourceList
	maxAlloc     map[corev1.ResourceName]nodeAmount
	maxFree      map[corev1.ResourceName]nodeAmount
	usageKnown   bool
}

// nodeAmount is an amount of a resource on a node (milli-units for CPU, units otherwise).
type nodeAmount struct {
	node  string
	value int64
}

func amount(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// amountOf phrases a request: "64 CPU", "2Gi of memory".
func amountOf(name corev1.ResourceName, v int64) string {
	if name == corev1.ResourceCPU {
		return formatAmount(name, v)
	}
	return formatAmount(name, v) + " of " + string(name)
}

func formatAmount(name corev1.ResourceName, v int64) string {
	if name == corev1.ResourceCPU {
		return formatQuantity(name, *resource.NewMilliQuantity(v, resource.DecimalSI))
	}
	if name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage {
		return resource.NewQuantity(v, resource.BinarySI).String()
	}
	return strconv.FormatInt(v, 10)
}

// evaluateNodes checks a pending pod against every node: readiness, cordon, taints,
// node selector and required affinity, and resource requests versus allocatable minus
// what pods already bound there request.
func (t *triage) evaluateNodes(ctx context.Context, p *corev1.Pod) *nodeFit {
	s := t.s
	fit := &nodeFit{
		nodes:        len(s.nodeList),
		failing:      map[string][]string{},
		taints:       map[string][]string{},
		insufficient: map[corev1.ResourceName][]string{},
		requests:     resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}),
		maxAlloc:     map[corev1.ResourceName]nodeAmount{},
		maxFree:      map[corev1.ResourceName]nodeAmount{},
	}
	podsOn, usageKnown := s.podsOnNodes(ctx)
	fit.usageKnown = usageKnown
	affinity := nodeaffinity.GetRequiredNodeAffinity(p)
	logger := klog.Background()
	for _, n := range s.nodeList {
		var cats []string
		if !nodeReady(n) {
			fit.failing[catNotReady] = append(fit.failing[catNotReady], n.Name)
			continue
		}
		if n.Spec.Unschedulable && !tolerated(logger, p.Spec.Tolerations, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
			cats = append(cats, catCordoned)
		}
		for _, taint := range n.Spec.Taints {
			if taint.Effect == corev1.TaintEffectPreferNoSchedule || tolerated(logger, p.Spec.Tolerations, taint) {
				continue
			}
			k := formatTaint(taint)
			fit.taints[k] = append(fit.taints[k], n.Name)
			if !slices.Contains(cats, catTaint) {
				cats = append(cats, catTaint)
			}
		}
		if ok, err := affinity.Match(n); err == nil && !ok {
			cats = append(cats, catSelector)
		}
		used := corev1.ResourceList{}
		for _, other := range podsOn[n.Name] {
			if other.UID == p.UID {
				continue
			}
			for name, q := range resourcehelper.PodRequests(other, resourcehelper.PodResourcesOptions{}) {
				cur := used[name]
				cur.Add(q)
				used[name] = cur
			}
		}
		short := false
		for name, req := range fit.requests {
			if req.IsZero() {
				continue
			}
			alloc, has := n.Status.Allocatable[name]
			a := int64(0)
			if has {
				a = amount(name, alloc)
			}
			free := a - amount(name, used[name])
			if cur, ok := fit.maxAlloc[name]; !ok || a > cur.value {
				fit.maxAlloc[name] = nodeAmount{n.Name, a}
			}
			if cur, ok := fit.maxFree[name]; !ok || free > cur.value {
				fit.maxFree[name] = nodeAmount{n.Name, free}
			}
			if amount(name, req) > free {
				fit.insufficient[name] = append(fit.insufficient[name], n.Name)
				short = true
			}
		}
		if maxPods, ok := n.Status.Allocatable[corev1.ResourcePods]; ok && usageKnown && int64(len(podsOn[n.Name])) >= maxPods.Value() {
			fit.insufficient[corev1.ResourcePods] = append(fit.insufficient[corev1.ResourcePods], n.Name)
			short = true
		}
		if short {
			cats = append(cats, catResources)
		}
		for _, c := range cats {
			fit.failing[c] = append(fit.failing[c], n.Name)
		}
		if len(cats) == 0 {
			fit.fits = append(fit.fits, n.Name)
		}
	}
	return fit
}

func tolerated(logger klog.Logger, tolerations []corev1.Toleration, taint corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logger, &taint, false) {
			return true
		}
	}
	return false
}

// formatTaint formats a taint like kubectl taint: "key=value:Effect" or "key:Effect".
func formatTaint(t corev1.Taint) string {
	if t.Value == "" {
		return t.Key + ":" + string(t.Effect)
	}
	return t.Key + "=" + t.Value + ":" + string(t.Effect)
}

// explanation is a root cause with its fix.
type explanation struct{ cause, fix string }

// unschedulable diagnoses a pod that no node was assigned to.
func (t *triage) unschedulable(ctx context.Context, pc podCtx) {
	s := t.s
	p := pc.pod
	msg := ""
	var last *corev1.Event
	if events := s.eventsOf("Pod", p.Namespace, p.Name, "FailedScheduling"); len(events) > 0 {
		last = events[len(events)-1]
		msg = last.Message
	}
	cond := podCondition(p, corev1.PodScheduled)
	if msg == "" && cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
		msg = cond.Message
	}
	if t.pendingForClaims(ctx, pc, msg) {
		return
	}
	total, reasons := parseSchedulingMessage(msg)
	fit := t.evaluateNodes(ctx, p)

	ev := []string{fmt.Sprintf("pod %s is Pending, not scheduled to any node", p.Name)}
	switch {
	case last != nil:
		ev = append(ev, s.describeEvent(last))
	case msg != "":
		ev = append(ev, "PodScheduled=False (Unschedulable): "+msg)
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerUnschedulable,
		Symptom: fmt.Sprintf("pod %s stays Pending: no node can run it", p.Name),
	}

	var exps []explanation
	if len(reasons) > 0 {
		for _, r := range reasons {
			exps = append(exps, t.explainReason(ctx, pc, fit, r, total))
		}
	} else {
		// No scheduler verdict: rely on our own evaluation.
		if !s.nodesOK {
			return
		}
		if fit.nodes == 0 {
			exps = append(exps, explanation{"the cluster has no nodes", "add nodes to the cluster (or check the node autoscaler)"})
		} else if len(fit.fits) > 0 {
			age := s.now.Sub(p.CreationTimestamp.Time)
			if age < time.Minute {
				return // just created: the scheduler has not had its turn
			}
			f.Severity = SeverityWarning
			sched := p.Spec.SchedulerName
			if sched != "" && sched != corev1.DefaultSchedulerName {
				exps = append(exps, explanation{
					fmt.Sprintf("the pod asks for scheduler %q (spec.schedulerName), which has not placed it although node(s) %s fit", sched, listNames(fit.fits, 3)),
					fmt.Sprintf("run scheduler %s, or remove schedulerName from %s to use the default scheduler", sched, pc.ownerPhrase()),
				})
			} else {
				exps = append(exps, explanation{
					fmt.Sprintf("the pod has been Pending for %s without a scheduling Event although node(s) %s fit: the scheduler may not be running", humanDuration(age), listNames(fit.fits, 3)),
					"check the kube-scheduler (its pods in kube-system and its logs)",
				})
			}
		} else {
			cats := slices.Collect(mapsKeys(fit.failing))
			sort.SliceStable(cats, func(i, j int) bool {
				a, b := len(fit.failing[cats[i]]), len(fit.failing[cats[j]])
				if a != b {
					return a > b
				}
				return catOrder(cats[i]) < catOrder(cats[j])
			})
			for _, c := range cats {
				exps = append(exps, t.explainReason(ctx, pc, fit, schedReason{count: len(fit.failing[c]), cat: c}, fit.nodes))
			}
			ev = append(ev, fmt.Sprintf("evaluated %d nodes: none fits (%s)", fit.nodes, summarizeFailing(fit, cats)))
		}
	}
	if len(exps) == 0 {
		return
	}
	f.RootCause = exps[0].cause
	f.Fix = exps[0].fix
	for _, e := range exps[1:] {
		if e.cause != exps[0].cause {
			f.RootCause += "; also: " + e.cause
		}
	}
	if len(exps) > 1 && exps[1].fix != exps[0].fix {
		f.Fix += "; and " + exps[1].fix
	}
	t.addPod(pc, "", withEvidence(f, ev))
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, k := range sortedKeys(m) {
			if !yield(k) {
				return
			}
		}
	}
}

func catOrder(c string) int {
	return slices.Index([]string{catVolume, catSelector, catResources, catTaint, catCordoned, catNotReady, catPorts, catPodAffinity, catTopology, catOther}, c)
}

func summarizeFailing(fit *nodeFit, cats []string) string {
	parts := make([]string, 0, len(cats))
	for _, c := range cats {
		parts = append(parts, fmt.Sprintf("%s: %d", c, len(fit.failing[c])))
	}
	return strings.Join(parts, ", ")
}

// explainReason turns one scheduling reason into a specific root cause and fix.
func (t *triage) explainReason(ctx context.Context, pc podCtx, fit *nodeFit, r schedReason, total int) explanation {
	switch r.cat {
	case catResources:
		return t.explainResources(pc, fit, r)
	case catSelector:
		return explainSelector(pc, t.s.nodeList)
	case catTaint:
		return explainTaint(pc, fit, r, total)
	case catCordoned:
		nodes := fit.failing[catCordoned]
		return explanation{
			fmt.Sprintf("node(s) %s are cordoned (spec.unschedulable)", listNames(nodes, 5)),
			fmt.Sprintf("uncordon them when maintenance is done (kubectl uncordon %s) or add nodes", strings.Join(nodes, " ")),
		}
	case catNotReady:
		nodes := fit.failing[catNotReady]
		return explanation{
			fmt.Sprintf("node(s) %s are NotReady", listNames(nodes, 5)),
			"bring the NotReady nodes back (kubelet, network) or add healthy nodes",
		}
	case catVolume:
		return explanation{
			"a volume of the pod cannot be bound or used on any node: " + r.text,
			fmt.Sprintf("fix the PersistentVolumeClaims of %s (see kubectl describe pvc -n %s)", pc.ownerPhrase(), pc.ns()),
		}
	case catPorts:
		return explanation{
			"the hostPort the pod requests is already used on every node (" + r.text + ")",
			fmt.Sprintf("remove hostPort from %s or use a different port", pc.ownerPhrase()),
		}
	case catPodAffinity, catTopology:
		return explanation{
			"the pod's inter-pod (anti-)affinity or topology spread constraints cannot be met: " + r.text,
			fmt.Sprintf("relax the affinity/topologySpreadConstraints of %s or add nodes in the required topology", pc.ownerPhrase()),
		}
	}
	text := r.text
	if r.count > 0 {
		text = fmt.Sprintf("%d %s", r.count, r.text)
	}
	return explanation{"the scheduler reports: " + text, fmt.Sprintf("address the scheduler's reason for %s", pc.ownerPhrase())}
}

var insufficientPattern = regexp.MustCompile(`(?i)^insufficient (\S+)`)

// explainResources explains insufficient CPU, memory or other resources.
func (t *triage) explainResources(pc podCtx, fit *nodeFit, r schedReason) explanation {
	var names []corev1.ResourceName
	if m := insufficientPattern.FindStringSubmatch(r.text); m != nil {
		names = []corev1.ResourceName{corev1.ResourceName(m[1])}
	} else if strings.Contains(strings.ToLower(r.text), "too many pods") {
		names = []corev1.ResourceName{corev1.ResourcePods}
	} else {
		for name := range fit.insufficient {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	var causes, fixes []string
	for _, name := range names {
		if name == corev1.ResourcePods {
			causes = append(causes, "the nodes already run as many pods as they allow (allocatable pods)")
			fixes = append(fixes, "add nodes or raise the kubelet's maxPods")
			continue
		}
		req, has := fit.requests[name]
		if !has {
			causes = append(causes, fmt.Sprintf("no node has enough %s", name))
			continue
		}
		reqV := amount(name, req)
		per := containerRequests(pc.pod, name)
		maxAlloc, known := fit.maxAlloc[name]
		switch {
		case !known:
			causes = append(causes, fmt.Sprintf("the pod requests %s (%s) and no node has enough", amountOf(name, reqV), per))
		case reqV > maxAlloc.value:
			causes = append(causes, fmt.Sprintf("the pod requests %s (%s), more than any node can offer: the largest node allocatable is %s (node %s)",
				amountOf(name, reqV), per, formatAmount(name, maxAlloc.value), maxAlloc.node))
		default:
			free := fit.maxFree[name]
			causes = append(causes, fmt.Sprintf("the pod requests %s (%s) and no node has that much unrequested: the most free is %s on node %s (allocatable %s)",
				amountOf(name, reqV), per, formatAmount(name, max(free.value, 0)), free.node, formatAmount(name, maxAlloc.value)))
		}
		limit := ""
		if known {
			limit = fmt.Sprintf(" (a node offers at most %s, less what other pods already request)", formatAmount(name, maxAlloc.value))
		}
		fixes = append(fixes, fmt.Sprintf("lower resources.requests.%s of the containers in %s to what they really need%s, or add nodes with more %s", name, pc.ownerPhrase(), limit, name))
	}
	if len(causes) == 0 {
		return explanation{"no node has enough free resources for the pod's requests", fmt.Sprintf("lower the requests of %s or add capacity", pc.ownerPhrase())}
	}
	return explanation{strings.Join(causes, "; "), strings.Join(fixes, "; ")}
}

// containerRequests lists the containers' requests of a resource: "container worker: 64".
func containerRequests(p *corev1.Pod, name corev1.ResourceName) string {
	var parts []string
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			if q, ok := c.Resources.Requests[name]; ok && !q.IsZero() {
				parts = append(parts, fmt.Sprintf("container %s: %s", c.Name, q.String()))
			}
		}
	}
	if len(parts) == 0 {
		return "pod-level requests"
	}
	return strings.Join(parts, ", ")
}

// explainSelector explains a nodeSelector or required node affinity that matches no node.
func explainSelector(pc podCtx, nodes []*corev1.Node) explanation {
	p := pc.pod
	var causes []string
	var missing []string
	for _, k := range sortedKeys(p.Spec.NodeSelector) {
		v := p.Spec.NodeSelector[k]
		matching := 0
		others := map[string]bool{}
		for _, n := range nodes {
			if nv, ok := n.Labels[k]; ok {
				if nv == v {
					matching++
				} else {
					others[k+"="+nv] = true
				}
			}
		}
		if matching == 0 {
			c := fmt.Sprintf("nodeSelector %s=%s matches no node: no node has label %s=%s", k, v, k, v)
			if len(others) > 0 {
				c += " (nodes have " + strings.Join(sortedKeys(others), ", ") + ")"
			}
			causes = append(causes, c)
			missing = append(missing, k+"="+v)
		}
	}
	if len(p.Spec.NodeSelector) > 0 && len(causes) == 0 {
		causes = append(causes, fmt.Sprintf("no node has all the labels of nodeSelector %s", formatLabels(p.Spec.NodeSelector)))
		missing = append(missing, formatLabels(p.Spec.NodeSelector))
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		causes = append(causes, "required node affinity "+describeNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)+" matches no node")
	}
	if len(causes) == 0 {
		return explanation{"the pod's node selector or affinity matches no node", fmt.Sprintf("fix nodeSelector/affinity of %s or label nodes accordingly", pc.ownerPhrase())}
	}
	fix := ""
	if len(missing) > 0 {
		fix = fmt.Sprintf("label the node(s) that should run it (kubectl label node <node> %s) or remove/correct nodeSelector %s in %s",
			strings.Join(missing, " "), strings.Join(missing, ","), pc.ownerPhrase())
	} else {
		fix = fmt.Sprintf("label nodes to satisfy the required node affinity or relax spec.affinity.nodeAffinity in %s", pc.ownerPhrase())
	}
	return explanation{strings.Join(causes, "; "), fix}
}

// describeNodeSelector formats node affinity terms: "(disktype In [ssd nvme])".
func describeNodeSelector(ns *corev1.NodeSelector) string {
	var terms []string
	for _, term := range ns.NodeSelectorTerms {
		var exprs []string
		for _, e := range term.MatchExpressions {
			exprs = append(exprs, strings.TrimSpace(fmt.Sprintf("%s %s %v", e.Key, e.Operator, e.Values)))
		}
		for _, e := range term.MatchFields {
			exprs = append(exprs, strings.TrimSpace(fmt.Sprintf("%s %s %v", e.Key, e.Operator, e.Values)))
		}
		terms = append(terms, "("+strings.Join(exprs, " and ")+")")
	}
	return strings.Join(terms, " or ")
}

var taintInMessage = regexp.MustCompile(`\{([^:{}]+):\s*([^{}]*)\}`)

// explainTaint explains taints the pod does not tolerate.
func explainTaint(pc podCtx, fit *nodeFit, r schedReason, total int) explanation {
	// Which taints: those named in the scheduler's message, else all untolerated ones.
	keys := map[string]string{}
	for _, m := range taintInMessage.FindAllStringSubmatch(r.text, -1) {
		keys[strings.TrimSpace(m[1])] = strings.TrimSpace(m[2])
	}
	type taintNodes struct {
		taint string
		nodes []string
	}
	var found []taintNodes
	for _, tk := range sortedKeys(fit.taints) {
		key := tk
		if i := strings.IndexAny(key, "=:"); i >= 0 {
			key = key[:i]
		}
		if _, named := keys[key]; len(keys) == 0 || named {
			found = append(found, taintNodes{tk, fit.taints[tk]})
		}
	}
	if len(found) == 0 && len(keys) > 0 {
		for _, k := range sortedKeys(keys) {
			tk := k
			if keys[k] != "" {
				tk += "=" + keys[k]
			}
			found = append(found, taintNodes{taint: tk + ":NoSchedule"})
		}
	}
	if len(found) == 0 {
		return explanation{"the nodes have taints the pod does not tolerate (" + r.text + ")", fmt.Sprintf("remove the taints or add matching tolerations to %s", pc.ownerPhrase())}
	}
	sort.SliceStable(found, func(i, j int) bool { return len(found[i].nodes) > len(found[j].nodes) })
	var causes []string
	for _, f := range found {
		scope := "the nodes"
		if len(f.nodes) > 0 {
			scope = "node(s) " + listNames(f.nodes, 5)
		}
		if r.count > 0 && r.count == total {
			scope = fmt.Sprintf("all %d nodes (%s)", total, strings.TrimPrefix(scope, "node(s) "))
		}
		causes = append(causes, fmt.Sprintf("%s carry taint %s, which the pod does not tolerate", scope, f.taint))
	}
	main := found[0]
	key, value, effect := splitTaint(main.taint)
	nodes := "<node>"
	if len(main.nodes) > 0 {
		nodes = strings.Join(main.nodes, " ")
	}
	tol := fmt.Sprintf("{key: %s, operator: Equal, value: %q, effect: %s}", key, value, effect)
	if value == "" {
		tol = fmt.Sprintf("{key: %s, operator: Exists, effect: %s}", key, effect)
	}
	fix := fmt.Sprintf("remove the taint when the nodes may run workloads again (kubectl taint nodes %s %s-), or, if the pods should run there, add a toleration %s to %s",
		nodes, main.taint, tol, pc.ownerPhrase())
	return explanation{strings.Join(causes, "; "), fix}
}

// splitTaint splits "key=value:Effect".
func splitTaint(s string) (key, value, effect string) {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s, effect = s[:i], s[i+1:]
	}
	key, value, _ = strings.Cut(s, "=")
	return key, value, effect
}

// pendingForClaims folds a pod that waits for an unbound or missing claim into the
// claim's finding (or reports the missing claim). It reports whether it did.
func (t *triage) pendingForClaims(ctx context.Context, pc podCtx, msg string) bool {
	p := pc.pod
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		k := nsName{p.Namespace, name}
		if pf := t.pvcFindings[k]; pf != nil {
			line := fmt.Sprintf("used by %s: pod %s is Pending", pc.owner, p.Name)
			if msg != "" {
				line += " (" + truncate(msg, 160) + ")"
			}
			pf.Evidence = append(pf.Evidence, line)
			if !slices.Contains(pf.pods, p.Name) {
				pf.pods = append(pf.pods, p.Name)
			}
			t.podIssue[nsName{p.Namespace, p.Name}] = pf
			t.cover(p.Namespace, "pod/"+p.Name, pc.owner)
			return true
		}
		if _, exists := t.s.pvcs[k]; !exists && t.s.pvcsOK {
			t.addPod(pc, "", Finding{
				Severity: SeverityCritical, Analyzer: AnalyzerUnschedulable,
				Symptom:   fmt.Sprintf("pod %s stays Pending: its PersistentVolumeClaim %s does not exist", p.Name, name),
				Evidence:  []string{fmt.Sprintf("volume %s uses claimName %s", v.Name, name), "scheduler: " + msg},
				RootCause: fmt.Sprintf("PersistentVolumeClaim %s, used by volume %s, does not exist in namespace %s", name, v.Name, p.Namespace),
				Fix:       fmt.Sprintf("create PersistentVolumeClaim %s in namespace %s, or fix claimName of volume %s in %s", name, p.Namespace, v.Name, pc.ownerPhrase()),
			})
			return true
		}
	}
	return false
}
