package scenarios

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubently/kubently/internal/k8stest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// builder writes the objects of one scenario into one namespace with the admin client.
type builder struct {
	ctx context.Context
	cp  *k8stest.ControlPlane
	c   kubernetes.Interface
	ns  string
	now time.Time
}

// NodeName is the name of a node Build creates for a namespace: "<namespace>-<suffix>".
func NodeName(namespace, suffix string) string { return namespace + "-" + suffix }

// node creates a Ready node named after the namespace (see ControlPlane.Node).
func (b *builder) node(suffix string, labels map[string]string) (*corev1.Node, error) {
	return b.cp.Node(b.ctx, NodeName(b.ns, suffix), labels)
}

// suffix returns a kube-style random-looking suffix derived from s (stable per input).
func suffix(s string, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	h := fnv.New64a()
	h.Write([]byte(s))
	v := h.Sum64()
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
		if v == 0 {
			h.Write([]byte{byte(i)})
			v = h.Sum64()
		}
	}
	return string(out)
}

func ago(now time.Time, d time.Duration) metav1.Time {
	return metav1.NewTime(now.Add(-d).Truncate(time.Second))
}

func ptr[T any](v T) *T { return &v }

// podIP returns a stable fake pod IP for pod i of a namespace.
func (b *builder) podIP(name string) string {
	h := fnv.New32a()
	h.Write([]byte(b.ns + "/" + name))
	v := h.Sum32()
	return fmt.Sprintf("10.244.%d.%d", v%250, 10+(v>>8)%200)
}

// deploySpec describes a Deployment, its ReplicaSet and its pods.
type deploySpec struct {
	name     string
	replicas int32
	pod      corev1.PodSpec
	// node returns the node pod i is bound to ("" leaves it unscheduled).
	node func(i int) string
	// status writes pod i's status as the kubelet (or scheduler) would.
	status func(i int, p *corev1.Pod)
	// noPods: the ReplicaSet could not create any (FailedCreate).
	noPods bool
	// podCount, when not 0, is how many of the replicas exist.
	podCount int
	// rsFailure sets a ReplicaFailure condition with this message on the ReplicaSet.
	rsFailure string
}

// deployed is what deploy created.
type deployed struct {
	dep  *appsv1.Deployment
	rs   *appsv1.ReplicaSet
	pods []*corev1.Pod
}

// deploy creates a Deployment, a ReplicaSet owned by it and pods owned by the ReplicaSet,
// writes the pods' status and then the ReplicaSet and Deployment status computed from them,
// as the controllers would.
func (b *builder) deploy(d deploySpec) (*deployed, error) {
	labels := map[string]string{"app": d.name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: b.ns, Labels: maps.Clone(labels)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(d.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(labels)},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels)}, Spec: d.pod},
		},
	}
	dep, err := b.c.AppsV1().Deployments(b.ns).Create(b.ctx, dep, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("deployment %s: %w", d.name, err)
	}
	hash := suffix(b.ns+"/"+d.name, 10)
	rsLabels := maps.Clone(labels)
	rsLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.name + "-" + hash, Namespace: b.ns, Labels: maps.Clone(rsLabels),
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": fmt.Sprint(d.replicas)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(d.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(rsLabels)},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(rsLabels)}, Spec: d.pod},
		},
	}
	if rs, err = b.c.AppsV1().ReplicaSets(b.ns).Create(b.ctx, rs, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("replicaset of %s: %w", d.name, err)
	}
	out := &deployed{dep: dep, rs: rs}
	if !d.noPods {
		n := int(d.replicas)
		if d.podCount > 0 {
			n = d.podCount
		}
		for i := range n {
			spec := *d.pod.DeepCopy()
			if d.node != nil {
				spec.NodeName = d.node(i)
			}
			name := rs.Name + "-" + suffix(fmt.Sprintf("%s/%s/%d", b.ns, rs.Name, i), 5)
			p, err := b.createPod(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: name, Namespace: b.ns, Labels: maps.Clone(rsLabels),
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
						Controller: ptr(true), BlockOwnerDeletion: ptr(true),
					}},
				},
				Spec: spec,
			}, func(p *corev1.Pod) {
				if d.status != nil {
					d.status(i, p)
				}
			})
			if err != nil {
				return nil, err
			}
			out.pods = append(out.pods, p)
		}
	}
	if err := b.writeWorkloadStatus(out, d); err != nil {
		return nil, err
	}
	return out, nil
}

// createPod creates a pod and writes its status with setStatus (when it sets anything).
func (b *builder) createPod(p *corev1.Pod, setStatus func(*corev1.Pod)) (*corev1.Pod, error) {
	p, err := b.c.CoreV1().Pods(b.ns).Create(b.ctx, p, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", p.GetName(), err)
	}
	setStatus(p)
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.PodPending
	}
	name := p.Name
	if p, err = b.c.CoreV1().Pods(b.ns).UpdateStatus(b.ctx, p, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("pod %s status: %w", name, err)
	}
	return p, nil
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// writeWorkloadStatus writes ReplicaSet and Deployment status as their controllers would.
func (b *builder) writeWorkloadStatus(out *deployed, d deploySpec) error {
	var ready, total int32
	for _, p := range out.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if isPodReady(p) {
			ready++
		}
	}
	rs := out.rs
	rs.Status = appsv1.ReplicaSetStatus{
		Replicas: total, FullyLabeledReplicas: total, ReadyReplicas: ready, AvailableReplicas: ready,
		ObservedGeneration: rs.Generation,
	}
	if d.rsFailure != "" {
		rs.Status.Conditions = []appsv1.ReplicaSetCondition{{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
			Message: d.rsFailure, LastTransitionTime: ago(b.now, 12*time.Minute),
		}}
	}
	var err error
	if out.rs, err = b.c.AppsV1().ReplicaSets(b.ns).UpdateStatus(b.ctx, rs, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("replicaset %s status: %w", rs.Name, err)
	}
	dep := out.dep
	unavailable := max(d.replicas-ready, 0)
	avail := corev1.ConditionTrue
	availReason, availMsg := "MinimumReplicasAvailable", "Deployment has minimum availability."
	if ready < d.replicas {
		avail, availReason, availMsg = corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	progressReason := "NewReplicaSetAvailable"
	progressMsg := fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs.Name)
	if ready < d.replicas {
		progressReason = "ReplicaSetUpdated"
		progressMsg = fmt.Sprintf("ReplicaSet %q is progressing.", rs.Name)
	}
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation, Replicas: total, UpdatedReplicas: total, ReadyReplicas: ready,
		AvailableReplicas: ready, UnavailableReplicas: unavailable,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: avail, Reason: availReason, Message: availMsg,
				LastUpdateTime: ago(b.now, 20*time.Minute), LastTransitionTime: ago(b.now, 20*time.Minute)},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: progressReason, Message: progressMsg,
				LastUpdateTime: ago(b.now, 20*time.Minute), LastTransitionTime: ago(b.now, 20*time.Minute)},
		},
	}
	if d.rsFailure != "" {
		dep.Status.Conditions = append(dep.Status.Conditions, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: d.rsFailure,
			LastUpdateTime: ago(b.now, 12*time.Minute), LastTransitionTime: ago(b.now, 12*time.Minute),
		})
	}
	if out.dep, err = b.c.AppsV1().Deployments(b.ns).UpdateStatus(b.ctx, dep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("deployment %s status: %w", dep.Name, err)
	}
	return nil
}

// podStatus builds a pod's status as the kubelet reports it. scheduled is when the pod was
// bound; ready is the Ready condition; inits and containers are the container statuses.
func (b *builder) podStatus(p *corev1.Pod, phase corev1.PodPhase, scheduled time.Time, inits, containers []corev1.ContainerStatus) {
	at := metav1.NewTime(scheduled.Truncate(time.Second))
	initDone := true
	var pendingInits []string
	for _, s := range inits {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			initDone = false
			pendingInits = append(pendingInits, s.Name)
		}
	}
	allReady := len(containers) > 0
	var unready []string
	for _, s := range containers {
		if !s.Ready {
			allReady = false
			unready = append(unready, s.Name)
		}
	}
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: at}
		if !ok {
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, msg
		}
		return c
	}
	initMsg := fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pendingInits, " "))
	readyMsg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	p.Status = corev1.PodStatus{
		Phase: phase,
		Conditions: []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, true, "", ""),
			cond(corev1.PodInitialized, initDone, "ContainersNotInitialized", initMsg),
			cond(corev1.ContainersReady, allReady, "ContainersNotReady", readyMsg),
			cond(corev1.PodReady, allReady, "ContainersNotReady", readyMsg),
			cond(corev1.PodScheduled, true, "", ""),
		},
		HostIP:                "127.0.0.1",
		HostIPs:               []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP:                 b.podIP(p.Name),
		PodIPs:                []corev1.PodIP{{IP: b.podIP(p.Name)}},
		StartTime:             &at,
		QOSClass:              p.Status.QOSClass, // set by the apiserver, immutable
		InitContainerStatuses: inits,
		ContainerStatuses:     containers,
	}
}

// unschedulableStatus is the status the scheduler writes for a pod it cannot place.
func (b *builder) unschedulableStatus(p *corev1.Pod, message string, since time.Duration) {
	p.Status = corev1.PodStatus{
		Phase:    corev1.PodPending,
		QOSClass: p.Status.QOSClass,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: message, LastTransitionTime: ago(b.now, since),
		}},
	}
}

func containerID(pod, container string, n int32) string {
	return "containerd://" + suffix(fmt.Sprintf("%s/%s/%d", pod, container, n), 16) + suffix(fmt.Sprintf("%s/%s/%d/b", pod, container, n), 16)
}

func imageID(image string) string {
	repo := image
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo = image[:i]
	}
	return repo + "@sha256:" + strings.Repeat(suffix(image, 16), 4)
}

// running is the status of a running container.
func running(pod string, c corev1.Container, ready bool, restarts int32, started time.Time, last *corev1.ContainerStateTerminated) corev1.ContainerStatus {
	s := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name, restarts),
		Ready: ready, Started: ptr(true), RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started.Truncate(time.Second))}},
	}
	if last != nil {
		s.LastTerminationState.Terminated = last
	}
	return s
}

// waiting is the status of a container that is not running.
func waiting(c corev1.Container, reason, message string, restarts int32, last *corev1.ContainerStateTerminated) corev1.ContainerStatus {
	s := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, Started: ptr(false), RestartCount: restarts,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
	}
	if last != nil {
		s.ImageID = imageID(c.Image)
		s.LastTerminationState.Terminated = last
	}
	return s
}

// terminated is a finished container instance.
func terminated(pod, container string, n int32, exit int32, reason string, started, finished time.Time) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode: exit, Reason: reason, ContainerID: containerID(pod, container, n),
		StartedAt: metav1.NewTime(started.Truncate(time.Second)), FinishedAt: metav1.NewTime(finished.Truncate(time.Second)),
	}
}

var eventSeq atomic.Uint64

// eventSpec is an Event as kubelet, scheduler or a controller records it.
type eventSpec struct {
	kind, apiVersion, name, namespace string
	uid                               types.UID
	fieldPath                         string
	typ, reason, message              string
	component, host                   string
	count                             int32
	first, last                       time.Duration // how long ago
}

// event records an Event. Node events go to the "default" namespace, as the kubelet and
// node controller write them.
func (b *builder) event(e eventSpec) error {
	ns := e.namespace
	eventNS := ns
	if eventNS == "" {
		eventNS = metav1.NamespaceDefault
	}
	if e.count == 0 {
		e.count = 1
	}
	if e.first < e.last {
		e.first = e.last
	}
	name := fmt.Sprintf("%s.%x", e.name, uint64(b.now.UnixNano())+eventSeq.Add(1))
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: eventNS},
		InvolvedObject: corev1.ObjectReference{
			Kind: e.kind, APIVersion: e.apiVersion, Name: e.name, Namespace: ns, UID: e.uid, FieldPath: e.fieldPath,
		},
		Type: e.typ, Reason: e.reason, Message: e.message,
		Source:         corev1.EventSource{Component: e.component, Host: e.host},
		FirstTimestamp: ago(b.now, e.first), LastTimestamp: ago(b.now, e.last), Count: e.count,
		ReportingController: e.component, ReportingInstance: e.component,
	}
	if e.host != "" {
		ev.ReportingInstance = e.host
	}
	if _, err := b.c.CoreV1().Events(eventNS).Create(b.ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("event %s %s: %w", e.reason, e.name, err)
	}
	return nil
}

// podEvent records an Event about a pod (and container, when container is not "").
func (b *builder) podEvent(p *corev1.Pod, container, typ, reason, message, component string, count int32, first, last time.Duration) error {
	fp := ""
	if container != "" {
		fp = "spec.containers{" + container + "}"
		for _, c := range p.Spec.InitContainers {
			if c.Name == container {
				fp = "spec.initContainers{" + container + "}"
			}
		}
	}
	host := ""
	if component == "kubelet" {
		host = p.Spec.NodeName
	}
	return b.event(eventSpec{
		kind: "Pod", apiVersion: "v1", name: p.Name, namespace: p.Namespace, uid: p.UID, fieldPath: fp,
		typ: typ, reason: reason, message: message, component: component, host: host,
		count: count, first: first, last: last,
	})
}

// startedEvents records the Normal events of a pod whose containers started.
func (b *builder) startedEvents(p *corev1.Pod, age time.Duration, restarts int32) error {
	if err := b.podEvent(p, "", corev1.EventTypeNormal, "Scheduled",
		fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, p.Spec.NodeName), "default-scheduler", 1, age, age); err != nil {
		return err
	}
	for _, c := range p.Spec.Containers {
		for _, e := range []struct{ reason, msg string }{
			{"Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image)},
			{"Created", "Created container: " + c.Name},
			{"Started", "Started container " + c.Name},
		} {
			if err := b.podEvent(p, c.Name, corev1.EventTypeNormal, e.reason, e.msg, "kubelet", restarts+1, age, time.Minute); err != nil {
				return err
			}
		}
	}
	return nil
}

// service creates a Service.
func (b *builder) service(name string, selector map[string]string, port int32, target string) (*corev1.Service, error) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.ns, Labels: map[string]string{"app": name}},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intOrString(target), Protocol: corev1.ProtocolTCP}},
		},
	}
	svc, err := b.c.CoreV1().Services(b.ns).Create(b.ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	return svc, nil
}

// endpointSlice creates the EndpointSlice the EndpointSlice controller keeps for a
// Service: one endpoint per pod, ready as the pod is.
func (b *builder) endpointSlice(svc *corev1.Service, port int32, pods []*corev1.Pod) error {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name + "-" + suffix(b.ns+"/"+svc.Name, 5), Namespace: b.ns,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for _, p := range pods {
		ready := isPodReady(p)
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready), Serving: ptr(ready), Terminating: ptr(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
			NodeName:   ptr(p.Spec.NodeName),
		})
	}
	if _, err := b.c.DiscoveryV1().EndpointSlices(b.ns).Create(b.ctx, es, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("endpointslice of %s: %w", svc.Name, err)
	}
	return nil
}

// serviceAccount creates a ServiceAccount (no controller creates "default" here).
func (b *builder) serviceAccount(name string) error {
	_, err := b.c.CoreV1().ServiceAccounts(b.ns).Create(b.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("serviceaccount %s: %w", name, err)
	}
	return nil
}

// taintNode adds taints to a node.
func (b *builder) taintNode(name string, taints ...corev1.Taint) (*corev1.Node, error) {
	n, err := b.c.CoreV1().Nodes().Get(b.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	n.Spec.Taints = append(n.Spec.Taints, taints...)
	return b.c.CoreV1().Nodes().Update(b.ctx, n, metav1.UpdateOptions{})
}

// logs sets a container's log lines in the kubelet stand-in (previous: the last
// terminated instance).
func (b *builder) logs(pod, container string, previous bool, start time.Time, lines ...string) {
	out := make([]k8stest.LogLine, len(lines))
	for i, l := range lines {
		out[i] = k8stest.LogLine{Time: start.Add(time.Duration(i) * 100 * time.Millisecond), Text: l}
	}
	b.cp.Kubelet().SetLogs(b.ns, pod, container, previous, out)
}
