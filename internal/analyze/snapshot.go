package analyze

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// nsName is a namespaced name.
type nsName struct{ ns, name string }

// objKey identifies an Event's involved object.
type objKey struct{ kind, ns, name string }

// snapshot is what Triage read from the cluster, indexed for the analyzers. The lists are
// read once, in parallel; a few objects (ConfigMaps, Secrets, ServiceAccounts, quotas,
// Services of other namespaces) are fetched on demand and cached.
type snapshot struct {
	c    kubernetes.Interface
	opts Options
	sel  labels.Selector
	now  time.Time

	pods         []*corev1.Pod // every pod of the namespace(s), sorted; inScope filters
	podsByNS     map[string][]*corev1.Pod
	podMap       map[nsName]*corev1.Pod
	replicaSets  map[nsName]*appsv1.ReplicaSet
	deployments  map[nsName]*appsv1.Deployment
	statefulSets map[nsName]*appsv1.StatefulSet
	daemonSets   map[nsName]*appsv1.DaemonSet
	jobs         map[nsName]*batchv1.Job
	cronJobs     map[nsName]*batchv1.CronJob
	services     []*corev1.Service
	serviceMap   map[nsName]*corev1.Service
	servicesOK   bool
	slices       map[nsName][]*discoveryv1.EndpointSlice // by Service
	slicesOK     bool
	events       []*corev1.Event // sorted by last seen
	eventsFor    map[objKey][]*corev1.Event
	nodes        map[string]*corev1.Node
	nodeList     []*corev1.Node // sorted by name
	nodesOK      bool
	pvcs         map[nsName]*corev1.PersistentVolumeClaim
	pvcList      []*corev1.PersistentVolumeClaim
	pvcsOK       bool
	classes      map[string]*storagev1.StorageClass
	classesOK    bool

	gaps []string

	// On-demand reads, cached.
	configMaps map[nsName]*keyedObject
	secrets    map[nsName]*keyedObject
	accounts   map[nsName]*keyedObject
	otherSvcs  map[nsName]*corev1.Service
	otherSvcOK map[nsName]bool
	quotas     map[string][]corev1.ResourceQuota
	nodePods   map[string][]*corev1.Pod // every pod bound to each node, cluster-wide
	nodePodsOK bool
	pvs        []corev1.PersistentVolume
	pvsLoaded  bool
}

// keyedObject is what the analyzers may know about a ConfigMap, Secret or ServiceAccount:
// whether it exists and its key names (never Secret values).
type keyedObject struct {
	exists bool
	known  bool // false: it could not be read (forbidden, error)
	keys   []string
}

// collect reads everything Triage needs. Only a failure to list pods is fatal.
func collect(ctx context.Context, c kubernetes.Interface, opts Options, sel labels.Selector) (*snapshot, error) {
	s := &snapshot{
		c: c, opts: opts, sel: sel, now: time.Now(),
		configMaps: map[nsName]*keyedObject{}, secrets: map[nsName]*keyedObject{}, accounts: map[nsName]*keyedObject{},
		otherSvcs: map[nsName]*corev1.Service{}, otherSvcOK: map[nsName]bool{}, quotas: map[string][]corev1.ResourceQuota{},
	}
	ns := opts.Namespace
	lo := metav1.ListOptions{}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string]error{}

		pods     []corev1.Pod
		rss      []appsv1.ReplicaSet
		deps     []appsv1.Deployment
		stss     []appsv1.StatefulSet
		dss      []appsv1.DaemonSet
		jobs     []batchv1.Job
		cjs      []batchv1.CronJob
		svcs     []corev1.Service
		eps      []discoveryv1.EndpointSlice
		events   []corev1.Event
		nodes    []corev1.Node
		pvcs     []corev1.PersistentVolumeClaim
		classes  []storagev1.StorageClass
		nodesErr error
	)
	run := func(what string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				mu.Lock()
				errs[what] = err
				mu.Unlock()
			}
		})
	}
	run("pods", func(ctx context.Context) error {
		l, err := c.CoreV1().Pods(ns).List(ctx, lo)
		if err == nil {
			pods = l.Items
		}
		return err
	})
	run("replicasets", func(ctx context.Context) error {
		l, err := c.AppsV1().ReplicaSets(ns).List(ctx, lo)
		if err == nil {
			rss = l.Items
		}
		return err
	})
	run("deployments", func(ctx context.Context) error {
		l, err := c.AppsV1().Deployments(ns).List(ctx, lo)
		if err == nil {
			deps = l.Items
		}
		return err
	})
	run("statefulsets", func(ctx context.Context) error {
		l, err := c.AppsV1().StatefulSets(ns).List(ctx, lo)
		if err == nil {
			stss = l.Items
		}
		return err
	})
	run("daemonsets", func(ctx context.Context) error {
		l, err := c.AppsV1().DaemonSets(ns).List(ctx, lo)
		if err == nil {
			dss = l.Items
		}
		return err
	})
	run("jobs", func(ctx context.Context) error {
		l, err := c.BatchV1().Jobs(ns).List(ctx, lo)
		if err == nil {
			jobs = l.Items
		}
		return err
	})
	run("cronjobs", func(ctx context.Context) error {
		l, err := c.BatchV1().CronJobs(ns).List(ctx, lo)
		if err == nil {
			cjs = l.Items
		}
		return err
	})
	run("services", func(ctx context.Context) error {
		l, err := c.CoreV1().Services(ns).List(ctx, lo)
		if err == nil {
			svcs = l.Items
		}
		return err
	})
	run("endpointslices", func(ctx context.Context) error {
		l, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, lo)
		if err == nil {
			eps = l.Items
		}
		return err
	})
	run("events", func(ctx context.Context) error {
		l, err := c.CoreV1().Events(ns).List(ctx, lo)
		if err == nil {
			events = l.Items
		}
		return err
	})
	run("nodes", func(ctx context.Context) error {
		l, err := c.CoreV1().Nodes().List(ctx, lo)
		if err == nil {
			nodes = l.Items
		}
		nodesErr = err
		return err
	})
	run("persistentvolumeclaims", func(ctx context.Context) error {
		l, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, lo)
		if err == nil {
			pvcs = l.Items
		}
		return err
	})
	run("storageclasses", func(ctx context.Context) error {
		l, err := c.StorageV1().StorageClasses().List(ctx, lo)
		if err == nil {
			classes = l.Items
		}
		return err
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errs["pods"]; err != nil {
		return nil, fmt.Errorf("analyze: list pods: %w", err)
	}
	byReason := map[string][]string{}
	for _, what := range sortedKeys(errs) {
		r := shortError(errs[what])
		byReason[r] = append(byReason[r], what)
	}
	for _, r := range sortedKeys(byReason) {
		s.gaps = append(s.gaps, fmt.Sprintf("cannot list (%s): %s", r, strings.Join(byReason[r], ", ")))
	}

	s.podsByNS = map[string][]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		s.pods = append(s.pods, p)
	}
	sortObjects(s.pods)
	s.podMap = make(map[nsName]*corev1.Pod, len(s.pods))
	for _, p := range s.pods {
		s.podsByNS[p.Namespace] = append(s.podsByNS[p.Namespace], p)
		s.podMap[nsName{p.Namespace, p.Name}] = p
	}
	s.replicaSets = indexed(rss)
	s.deployments = indexed(deps)
	s.statefulSets = indexed(stss)
	s.daemonSets = indexed(dss)
	s.jobs = indexed(jobs)
	s.cronJobs = indexed(cjs)
	s.servicesOK = errs["services"] == nil
	s.serviceMap = map[nsName]*corev1.Service{}
	for i := range svcs {
		s.services = append(s.services, &svcs[i])
		s.serviceMap[nsName{svcs[i].Namespace, svcs[i].Name}] = &svcs[i]
	}
	sortObjects(s.services)
	s.slicesOK = errs["endpointslices"] == nil
	s.slices = map[nsName][]*discoveryv1.EndpointSlice{}
	for i := range eps {
		if svc := eps[i].Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := nsName{eps[i].Namespace, svc}
			s.slices[k] = append(s.slices[k], &eps[i])
		}
	}
	s.eventsFor = map[objKey][]*corev1.Event{}
	for i := range events {
		s.events = append(s.events, &events[i])
	}
	slices.SortStableFunc(s.events, func(a, b *corev1.Event) int {
		return cmp.Or(eventTime(a).Compare(eventTime(b)), cmp.Compare(a.Name, b.Name))
	})
	for _, e := range s.events {
		io := e.InvolvedObject
		k := objKey{io.Kind, io.Namespace, io.Name}
		s.eventsFor[k] = append(s.eventsFor[k], e)
	}
	s.nodesOK = nodesErr == nil
	s.nodes = map[string]*corev1.Node{}
	for i := range nodes {
		s.nodes[nodes[i].Name] = &nodes[i]
		s.nodeList = append(s.nodeList, &nodes[i])
	}
	sortObjects(s.nodeList)
	s.pvcsOK = errs["persistentvolumeclaims"] == nil
	s.pvcs = map[nsName]*corev1.PersistentVolumeClaim{}
	for i := range pvcs {
		s.pvcs[nsName{pvcs[i].Namespace, pvcs[i].Name}] = &pvcs[i]
		s.pvcList = append(s.pvcList, &pvcs[i])
	}
	sortObjects(s.pvcList)
	s.classesOK = errs["storageclasses"] == nil
	s.classes = map[string]*storagev1.StorageClass{}
	for i := range classes {
		s.classes[classes[i].Name] = &classes[i]
	}
	if ns == "" {
		s.nodePods = map[string][]*corev1.Pod{}
		for _, p := range s.pods {
			if p.Spec.NodeName != "" && !podTerminal(p) {
				s.nodePods[p.Spec.NodeName] = append(s.nodePods[p.Spec.NodeName], p)
			}
		}
		s.nodePodsOK = true
	}
	return s, nil
}

// inScope reports whether an object with these labels is selected by Options.LabelSelector.
func (s *snapshot) inScope(l map[string]string) bool {
	return s.sel.Empty() || s.sel.Matches(labels.Set(l))
}

// indexed maps objects by namespace/name.
func indexed[T any, PT interface {
	*T
	metav1.Object
}](items []T) map[nsName]PT {
	m := make(map[nsName]PT, len(items))
	for i := range items {
		p := PT(&items[i])
		m[nsName{p.GetNamespace(), p.GetName()}] = p
	}
	return m
}

// sortObjects sorts by namespace, then name.
func sortObjects[T metav1.Object](items []T) {
	slices.SortFunc(items, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shortError describes an API error briefly (forbidden, not found, or its text).
func shortError(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden"
	case apierrors.IsNotFound(err):
		return "not served by this cluster"
	}
	return truncate(err.Error(), 160)
}

// controllerRef returns the controlling owner reference, or the first one.
func controllerRef(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// topOwner walks owner references from an object up to the object the user manages
// (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, ...) and returns it kubectl
// style ("deployment/checkout"). An object without owners is its own top owner.
func (s *snapshot) topOwner(ns, kind, name string, refs []metav1.OwnerReference) string {
	for range 8 {
		ref := controllerRef(refs)
		if ref == nil {
			break
		}
		kind, name = ref.Kind, ref.Name
		k := nsName{ns, name}
		var next []metav1.OwnerReference
		switch ref.Kind {
		case "ReplicaSet":
			if o := s.replicaSets[k]; o != nil {
				next = o.OwnerReferences
			}
		case "Job":
			if o := s.jobs[k]; o != nil {
				next = o.OwnerReferences
			}
		case "Deployment":
			if o := s.deployments[k]; o != nil {
				next = o.OwnerReferences
			}
		case "StatefulSet":
			if o := s.statefulSets[k]; o != nil {
				next = o.OwnerReferences
			}
		case "DaemonSet":
			if o := s.daemonSets[k]; o != nil {
				next = o.OwnerReferences
			}
		case "CronJob":
			if o := s.cronJobs[k]; o != nil {
				next = o.OwnerReferences
			}
		}
		if len(next) == 0 {
			break
		}
		refs = next
	}
	return resourceName(kind, name)
}

// podOwner is the top owner of a pod.
func (s *snapshot) podOwner(p *corev1.Pod) string {
	return s.topOwner(p.Namespace, "Pod", p.Name, p.OwnerReferences)
}

// resourceName formats kind and name kubectl style: "deployment/web".
func resourceName(kind, name string) string { return strings.ToLower(kind) + "/" + name }

// eventTime is when an Event was last seen.
func eventTime(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if e.EventTime.After(t) {
		t = e.EventTime.Time
	}
	if t.IsZero() {
		t = e.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	return t
}

// eventCount is how many times an Event occurred.
func eventCount(e *corev1.Event) int32 {
	n := e.Count
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	return max(n, 1)
}

// eventsOf returns the Events about an object, oldest first, optionally only those whose
// reason is one of reasons.
func (s *snapshot) eventsOf(kind, ns, name string, reasons ...string) []*corev1.Event {
	all := s.eventsFor[objKey{kind, ns, name}]
	if len(reasons) == 0 {
		return all
	}
	var out []*corev1.Event
	for _, e := range all {
		if slices.Contains(reasons, e.Reason) {
			out = append(out, e)
		}
	}
	return out
}

// containerEvents filters Events to those about one container (fieldPath
// "spec.containers{name}" or "spec.initContainers{name}"); Events without a fieldPath
// are kept.
func containerEvents(events []*corev1.Event, container string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range events {
		fp := e.InvolvedObject.FieldPath
		if fp == "" || strings.HasSuffix(fp, "{"+container+"}") {
			out = append(out, e)
		}
	}
	return out
}

// describeEvent formats an Event as evidence: `Warning FailedMount (x14, 2m ago): message`.
func (s *snapshot) describeEvent(e *corev1.Event) string {
	count := ""
	if n := eventCount(e); n > 1 {
		count = fmt.Sprintf("x%d, ", n)
	}
	return fmt.Sprintf("event %s %s (%s%s): %s", e.Type, e.Reason, count, s.ago(eventTime(e)), strings.TrimSpace(e.Message))
}

// ago formats how long ago t was.
func (s *snapshot) ago(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return humanDuration(s.now.Sub(t)) + " ago"
}

// humanDuration formats a duration like kubectl's AGE column.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// keyed reads a ConfigMap, Secret or ServiceAccount on demand and caches what it learned.
func (s *snapshot) keyed(ctx context.Context, cache map[nsName]*keyedObject, ns, name string,
	get func(ctx context.Context) ([]string, error)) *keyedObject {
	k := nsName{ns, name}
	if o := cache[k]; o != nil {
		return o
	}
	o := &keyedObject{known: true}
	keys, err := get(ctx)
	switch {
	case err == nil:
		o.exists, o.keys = true, keys
		sort.Strings(o.keys)
	case apierrors.IsNotFound(err):
	default:
		o.known = false
	}
	cache[k] = o
	return o
}

// configMap reports whether a ConfigMap exists and its keys.
func (s *snapshot) configMap(ctx context.Context, ns, name string) *keyedObject {
	return s.keyed(ctx, s.configMaps, ns, name, func(ctx context.Context) ([]string, error) {
		cm, err := s.c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(cm.Data)+len(cm.BinaryData))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		for k := range cm.BinaryData {
			keys = append(keys, k)
		}
		return keys, nil
	})
}

// secret reports whether a Secret exists and its key names; values are discarded at once.
func (s *snapshot) secret(ctx context.Context, ns, name string) *keyedObject {
	return s.keyed(ctx, s.secrets, ns, name, func(ctx context.Context) ([]string, error) {
		sec, err := s.c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(sec.Data)+len(sec.StringData))
		for k := range sec.Data {
			keys = append(keys, k)
		}
		for k := range sec.StringData {
			if _, dup := sec.Data[k]; !dup {
				keys = append(keys, k)
			}
		}
		return keys, nil
	})
}

// serviceAccount reports whether a ServiceAccount exists.
func (s *snapshot) serviceAccount(ctx context.Context, ns, name string) *keyedObject {
	return s.keyed(ctx, s.accounts, ns, name, func(ctx context.Context) ([]string, error) {
		_, err := s.c.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		return nil, err
	})
}

// configMapNames lists the ConfigMaps of a namespace, for "did you mean" suggestions. It
// returns nil when they cannot be listed. (Secrets are not listed for this: a list would
// transfer every value.)
func (s *snapshot) configMapNames(ctx context.Context, ns string) []string {
	l, err := s.c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(l.Items))
	for _, o := range l.Items {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	return names
}

// service returns a Service from the snapshot, or reads it when its namespace was not
// listed. ok is false when existence is unknown (read error).
func (s *snapshot) service(ctx context.Context, ns, name string) (svc *corev1.Service, ok bool) {
	k := nsName{ns, name}
	if s.servicesOK && (s.opts.Namespace == "" || s.opts.Namespace == ns) {
		return s.serviceMap[k], true
	}
	if known, done := s.otherSvcOK[k]; done {
		return s.otherSvcs[k], known
	}
	svc, err := s.c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		s.otherSvcs[k], s.otherSvcOK[k] = svc, true
		return svc, true
	case apierrors.IsNotFound(err):
		s.otherSvcOK[k] = true
		return nil, true
	}
	s.otherSvcOK[k] = false
	return nil, false
}

// readyEndpoints counts the ready endpoints of a Service from its EndpointSlices; known is
// false when no EndpointSlice exists for it or they could not be read.
func (s *snapshot) readyEndpoints(ctx context.Context, svc *corev1.Service) (ready, notReady int, known bool) {
	k := nsName{svc.Namespace, svc.Name}
	list := s.slices[k]
	if s.opts.Namespace != "" && s.opts.Namespace != svc.Namespace {
		l, err := s.c.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name,
		})
		if err != nil {
			return 0, 0, false
		}
		list = nil
		for i := range l.Items {
			list = append(list, &l.Items[i])
		}
	} else if !s.slicesOK {
		return 0, 0, false
	}
	if len(list) == 0 {
		return 0, 0, false
	}
	for _, sl := range list {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready++
			} else {
				notReady++
			}
		}
	}
	return ready, notReady, true
}

// quotasIn lists the ResourceQuotas of a namespace (nil when unreadable).
func (s *snapshot) quotasIn(ctx context.Context, ns string) []corev1.ResourceQuota {
	if q, ok := s.quotas[ns]; ok {
		return q
	}
	l, err := s.c.CoreV1().ResourceQuotas(ns).List(ctx, metav1.ListOptions{})
	var q []corev1.ResourceQuota
	if err == nil {
		q = l.Items
	}
	s.quotas[ns] = q
	return q
}

// podsOnNodes returns the non-terminal pods bound to each node, cluster-wide (reading them
// when only one namespace was listed). ok is false when they cannot be read.
func (s *snapshot) podsOnNodes(ctx context.Context) (map[string][]*corev1.Pod, bool) {
	if s.nodePods != nil || s.nodePodsOK {
		return s.nodePods, s.nodePodsOK
	}
	s.nodePods = map[string][]*corev1.Pod{}
	l, err := s.c.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
	if err != nil {
		return s.nodePods, false
	}
	for i := range l.Items {
		p := &l.Items[i]
		if p.Spec.NodeName != "" && !podTerminal(p) {
			s.nodePods[p.Spec.NodeName] = append(s.nodePods[p.Spec.NodeName], p)
		}
	}
	s.nodePodsOK = true
	return s.nodePods, true
}

// persistentVolumes lists the PersistentVolumes (nil when unreadable).
func (s *snapshot) persistentVolumes(ctx context.Context) []corev1.PersistentVolume {
	if !s.pvsLoaded {
		s.pvsLoaded = true
		if l, err := s.c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{}); err == nil {
			s.pvs = l.Items
		}
	}
	return s.pvs
}

// podTerminal reports whether a pod has finished (Succeeded or Failed).
func podTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
