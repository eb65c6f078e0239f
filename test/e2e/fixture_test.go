package e2e

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kubently/kubently/internal/k8stest"
)

// fixtureNode is the one Node of the e2e cluster; its kubelet is the
// k8stest stand-in, so `logs` reaches the lines set with SetLogs.
const fixtureNode = "e2e-node"

// fixture is a namespace that looks like a small application in trouble: a
// Deployment "shop" at its second revision with two running Pods, a
// Deployment "billing" whose rollout never completes, a Pod "queue-0" whose
// "consumer" container crash-loops next to a healthy "metrics" sidecar, a
// Service with its EndpointSlice, a ConfigMap, a Secret and Events. Every
// object, status included, is written with the admin client: no controller
// or kubelet runs.
type fixture struct {
	ns       string
	shopPods []string
	queuePod string
	secret   string
}

const (
	shopRSOld = "shop-5d8f7c6b9"
	shopRSNew = "shop-7f9c8d5b4"
)

func createFixture(ctx context.Context, ns string) (f *fixture, err error) {
	f = &fixture{ns: ns, shopPods: []string{shopRSNew + "-k2x7p", shopRSNew + "-q9w4z"}, queuePod: "queue-0", secret: "shop-db"}
	c := cp.AdminClient()
	if err := ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	if _, err := cp.Node(ctx, fixtureNode, map[string]string{"node-role.kubernetes.io/worker": ""}); err != nil {
		return nil, err
	}
	cp.Metrics().SetNodeMetrics(fixtureNode, k8stest.ResourceUsage{CPUMilli: 870, MemoryBytes: 5 << 30})
	started := metav1.NewTime(time.Now().Add(-3 * time.Hour).Truncate(time.Second))

	if err := f.shop(ctx, c, started); err != nil {
		return nil, fmt.Errorf("shop: %w", err)
	}
	if err := f.queue(ctx, c, started); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if _, err := stuckDeployment(ctx, ns, "billing"); err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	if err := f.network(ctx, c); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if err := f.config(ctx, c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := f.events(ctx, c); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return f, nil
}

func shopTemplate(image, hash string) corev1.PodTemplateSpec {
	labels := map[string]string{"app": "shop", "team": "web"}
	if hash != "" {
		labels["pod-template-hash"] = hash
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "shop", Image: image,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
		}}},
	}
}

// shop is a Deployment at revision 2 with both ReplicaSets and two Pods
// serving requests (logs and metrics included).
func (f *fixture) shop(ctx context.Context, c kubernetes.Interface, started metav1.Time) error {
	two := int32(2)
	dep, err := c.AppsV1().Deployments(f.ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"app": "shop"}, Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}, Template: shopTemplate("shop:2.4.1", ""),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", shopRSNew)},
		},
	}
	if dep, err = c.AppsV1().Deployments(f.ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		return err
	}
	var current *appsv1.ReplicaSet
	for _, r := range []struct {
		name, hash, image, revision, cause string
		replicas                           int32
	}{
		{shopRSOld, "5d8f7c6b9", "shop:2.3.0", "1", "deploy shop 2.3.0", 0},
		{shopRSNew, "7f9c8d5b4", "shop:2.4.1", "2", "deploy shop 2.4.1", 2},
	} {
		n := r.replicas
		tpl := shopTemplate(r.image, r.hash)
		rs, err := c.AppsV1().ReplicaSets(f.ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: r.name, Labels: tpl.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(dep, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
				Annotations:     map[string]string{"deployment.kubernetes.io/revision": r.revision, "kubernetes.io/change-cause": r.cause},
			},
			Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop", "pod-template-hash": r.hash}}, Template: tpl},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: rs.Generation}
		if rs, err = c.AppsV1().ReplicaSets(f.ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
			return err
		}
		if n > 0 {
			current = rs
		}
	}
	logStart := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	for i, name := range f.shopPods {
		tpl := shopTemplate("shop:2.4.1", "7f9c8d5b4")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tpl.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(current, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
			Spec: tpl.Spec,
		}
		pod.Spec.NodeName = fixtureNode
		ip := fmt.Sprintf("10.88.0.%d", 21+i)
		err := createPodWithStatus(ctx, c, f.ns, pod, ip, started, []corev1.ContainerStatus{{
			Name: "shop", Image: "shop:2.4.1", ImageID: "registry.example/shop@sha256:4e5f", Ready: true, Started: ptrTo(true),
			ContainerID: fmt.Sprintf("containerd://%064x", 100+i),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
		}}, true)
		if err != nil {
			return err
		}
		cp.Metrics().SetPodMetrics(f.ns, name, map[string]k8stest.ResourceUsage{"shop": {CPUMilli: int64(120 + 35*i), MemoryBytes: int64(96+8*i) << 20}})
		cp.Kubelet().SetLogs(f.ns, name, "shop", false, []k8stest.LogLine{
			{Time: logStart, Text: "listening on :8000"},
			{Time: logStart.Add(30 * time.Second), Text: fmt.Sprintf("GET /cart 200 %dms", 12+i)},
			{Time: time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second), Text: "GET /checkout 502 upstream billing unavailable"},
			{Time: time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Second), Text: "GET /healthz 200 1ms"},
		})
	}
	return nil
}

// queue is a Pod whose consumer crash-loops (with a previous instance's
// log) next to a healthy sidecar.
func (f *fixture) queue(ctx context.Context, c kubernetes.Interface, started metav1.Time) error {
	crashed := metav1.NewTime(time.Now().Add(-7 * time.Minute).Truncate(time.Second))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: f.queuePod, Labels: map[string]string{"app": "queue"}},
		Spec: corev1.PodSpec{NodeName: fixtureNode, Containers: []corev1.Container{
			{Name: "consumer", Image: "queue-consumer:1.0"},
			{Name: "metrics", Image: "exporter:0.9"},
		}},
	}
	err := createPodWithStatus(ctx, c, f.ns, pod, "10.88.0.40", started, []corev1.ContainerStatus{
		{
			Name: "consumer", Image: "queue-consumer:1.0", ImageID: "registry.example/queue-consumer@sha256:aa11", RestartCount: 5, Started: ptrTo(false),
			ContainerID: fmt.Sprintf("containerd://%064x", 200),
			State:       corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container=consumer"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 2, Reason: "Error", StartedAt: crashed, FinishedAt: crashed, ContainerID: fmt.Sprintf("containerd://%064x", 199),
			}},
		},
		{
			Name: "metrics", Image: "exporter:0.9", ImageID: "registry.example/exporter@sha256:bb22", Ready: true, Started: ptrTo(true),
			ContainerID: fmt.Sprintf("containerd://%064x", 201),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
		},
	}, false)
	if err != nil {
		return err
	}
	cp.Metrics().SetPodMetrics(f.ns, f.queuePod, map[string]k8stest.ResourceUsage{"consumer": {CPUMilli: 3, MemoryBytes: 12 << 20}, "metrics": {CPUMilli: 5, MemoryBytes: 20 << 20}})
	cp.Kubelet().SetLogs(f.ns, f.queuePod, "consumer", false, []k8stest.LogLine{{Time: crashed.Time, Text: "connecting to broker"}})
	cp.Kubelet().SetLogs(f.ns, f.queuePod, "consumer", true, []k8stest.LogLine{
		{Time: crashed.Time.Add(-2 * time.Second), Text: "connecting to broker"},
		{Time: crashed.Time, Text: "panic: broker amqp://mq:5672 refused the connection"},
	})
	cp.Kubelet().SetLogs(f.ns, f.queuePod, "metrics", false, []k8stest.LogLine{{Time: started.Time, Text: "exporter ready on :9100"}})
	return nil
}

// createPodWithStatus creates pod and writes the status a kubelet would.
func createPodWithStatus(ctx context.Context, c kubernetes.Interface, ns string, pod *corev1.Pod, ip string, started metav1.Time, containers []corev1.ContainerStatus, ready bool) error {
	pod, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	readyStatus := corev1.ConditionTrue
	if !ready {
		readyStatus = corev1.ConditionFalse
	}
	qos := pod.Status.QOSClass
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: started},
			{Type: corev1.PodReady, Status: readyStatus, LastTransitionTime: started},
			{Type: corev1.ContainersReady, Status: readyStatus, LastTransitionTime: started},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: started},
		},
		HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		StartTime: &started, QOSClass: qos, ContainerStatuses: containers,
	}
	_, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

// stuckDeployment creates a Deployment whose rollout waits for Pods that
// never become available: `rollout status` on it blocks until its timeout or
// until completeRollout.
func stuckDeployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	c := cp.AdminClient()
	two := int32(2)
	labels := map[string]string{"app": name}
	dep, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: name + ":3.0"}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2}
	return c.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{})
}

// completeRollout writes the status of a finished rollout, which ends a
// waiting `rollout status`.
func completeRollout(ctx context.Context, ns, name string) error {
	c := cp.AdminClient()
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	_, err = c.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{})
	return err
}

func (f *fixture) network(ctx context.Context, c kubernetes.Interface) error {
	_, err := c.CoreV1().Services(f.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"app": "shop"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "shop"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	_, err = c.DiscoveryV1().EndpointSlices(f.ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "shop-8dj2m", Labels: map[string]string{discoveryv1.LabelServiceName: "shop"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.88.0.21"}, Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)}},
			{Addresses: []string{"10.88.0.22"}, Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo(int32(8000)), Protocol: ptrTo(corev1.ProtocolTCP)}},
	}, metav1.CreateOptions{})
	return err
}

func (f *fixture) config(ctx context.Context, c kubernetes.Interface) error {
	if _, err := c.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-settings", Labels: map[string]string{"app": "shop"}},
		Data:       map[string]string{"CART_TTL": "30m", "BILLING_URL": "http://billing"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := c.CoreV1().Secrets(f.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: f.secret, Labels: map[string]string{"app": "shop"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte(secretValue), "user": []byte("shop")},
	}, metav1.CreateOptions{})
	return err
}

// secretValue must never appear in any output.
const secretValue = "hunter2-e2e-Secret-Value"

func (f *fixture) events(ctx context.Context, c kubernetes.Interface) error {
	first := metav1.NewTime(time.Now().Add(-50 * time.Minute).Truncate(time.Second))
	last := metav1.NewTime(time.Now().Add(-6 * time.Minute).Truncate(time.Second))
	for i, ev := range []struct {
		kind, name, typ, reason, msg, component string
		count                                   int32
	}{
		{"Pod", f.shopPods[0], corev1.EventTypeNormal, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", f.ns, f.shopPods[0], fixtureNode), "default-scheduler", 1},
		{"Pod", f.queuePod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container consumer in pod " + f.queuePod, "kubelet", 12},
		{"Deployment", "billing", corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set billing-6c9d to 2", "deployment-controller", 1},
	} {
		apiVersion := "v1"
		if ev.kind == "Deployment" {
			apiVersion = "apps/v1"
		}
		if _, err := c.CoreV1().Events(f.ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ev.name, 0x1800+i)},
			InvolvedObject: corev1.ObjectReference{Kind: ev.kind, Namespace: f.ns, Name: ev.name, APIVersion: apiVersion},
			Reason:         ev.reason, Message: ev.msg, Type: ev.typ, Count: ev.count,
			Source:         corev1.EventSource{Component: ev.component, Host: fixtureNode},
			FirstTimestamp: first, LastTimestamp: last,
			ReportingController: ev.component, ReportingInstance: fixtureNode,
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
