package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubently/kubently/internal/k8stest"
)

// The control plane and identities shared by every test of the package.
var (
	cp           *k8stest.ControlPlane
	saKubeconfig string       // kubeconfig of the executor's read-only ServiceAccount
	saConfig     *rest.Config // the same identity as a rest.Config
)

// goldenNode is the one Node of the test cluster; it is created in TestMain so
// that no test changes cluster-scoped objects while another compares them.
const goldenNode = "golden-node"

func TestMain(m *testing.M) {
	// Without the control-plane binaries the unit tests still run and the
	// cluster tests skip, unless K8S_TEST_REQUIRED=1 (then RunMain fails).
	if _, err := k8stest.BinDir(); err != nil && os.Getenv(k8stest.EnvRequired) != "1" {
		fmt.Fprintf(os.Stderr, "kube tests: cluster tests skipped: %v\n", err)
		os.Exit(m.Run())
	}
	os.Exit(k8stest.RunMain(m, func(c *k8stest.ControlPlane) error {
		cp = c
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		if saKubeconfig, saConfig, err = c.ReadOnlyServiceAccount(ctx); err != nil {
			return err
		}
		if _, err := c.Node(ctx, goldenNode, map[string]string{"topology.kubernetes.io/zone": "zone-a"}); err != nil {
			return err
		}
		c.Metrics().SetNodeMetrics(goldenNode, k8stest.ResourceUsage{CPUMilli: 1250, MemoryBytes: 6 << 30})
		return nil
	}))
}

// fixture is a namespace populated the way a small real application looks:
// a Deployment with two ReplicaSet revisions and two Pods, a second
// Deployment whose rollout is stuck, a crash-looping Pod with two containers,
// a Service with its Endpoints and EndpointSlice, a Secret, a ConfigMap and
// Events. Objects are created with the admin client, status included, since
// no controller or kubelet runs.
type fixture struct {
	ns        string
	webPods   []string
	crashPod  string
	secret    string
	secretVal map[string]string
}

const (
	fixtureOldRS = "web-6b7f9c5d8"
	fixtureNewRS = "web-7c9b8f6d4"
)

// needCluster skips t when the test control plane is not running.
func needCluster(t testing.TB) {
	t.Helper()
	if cp == nil {
		t.Skip("needs the Kubernetes test control plane (KUBENTLY_TESTBINS)")
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	needCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := &fixture{
		ns:        cp.NewNamespace(t),
		webPods:   []string{fixtureNewRS + "-abcde", fixtureNewRS + "-fghij"},
		crashPod:  "worker-0",
		secret:    "db-creds",
		secretVal: map[string]string{"password": "s3cr3t-Value!", "username": "admin-user"},
	}
	if err := f.create(ctx, cp.AdminClient()); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return f
}

func must[T any](v T, err error) func(what string) T {
	return func(what string) T {
		if err != nil {
			panic(fmt.Sprintf("%s: %v", what, err))
		}
		return v
	}
}

func (f *fixture) create(ctx context.Context, c kubernetes.Interface) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	ns := f.ns
	replicas := int32(2)
	labels := map[string]string{"app": "web", "tier": "frontend"}
	template := func(image, hash string) corev1.PodTemplateSpec {
		l := map[string]string{"app": "web", "tier": "frontend"}
		if hash != "" {
			l["pod-template-hash"] = hash
		}
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: l},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  "nginx",
				Image: image,
				Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "db-creds"}, Key: "password"}}}},
			}}},
		}
	}

	// Deployment "web", complete at revision 2.
	dep := must(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels, Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template("nginx:1.27", ""),
		},
	}, metav1.CreateOptions{}))("deployment web")
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: `ReplicaSet "` + fixtureNewRS + `" has successfully progressed.`},
		},
	}
	dep = must(c.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{}))("deployment web status")
	owner := metav1.NewControllerRef(dep, appsv1.SchemeGroupVersion.WithKind("Deployment"))

	// Its two ReplicaSets: revision 1 (scaled down) and 2 (current).
	var newRS *appsv1.ReplicaSet
	for _, rs := range []struct {
		name, image, hash, revision, cause string
		replicas                           int32
	}{
		{fixtureOldRS, "nginx:1.26", "6b7f9c5d8", "1", "kubectl create deployment web --image=nginx:1.26", 0},
		{fixtureNewRS, "nginx:1.27", "7c9b8f6d4", "2", "kubectl set image deployment/web nginx=nginx:1.27", 2},
	} {
		n := rs.replicas
		l := map[string]string{"app": "web", "tier": "frontend", "pod-template-hash": rs.hash}
		created := must(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: rs.name, Labels: l, OwnerReferences: []metav1.OwnerReference{*owner},
				Annotations: map[string]string{"deployment.kubernetes.io/revision": rs.revision, "kubernetes.io/change-cause": rs.cause},
			},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: &n,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": rs.hash}},
				Template: template(rs.image, rs.hash),
			},
		}, metav1.CreateOptions{}))("replicaset " + rs.name)
		created.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: created.Generation}
		created = must(c.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))("replicaset status " + rs.name)
		if rs.replicas > 0 {
			newRS = created
		}
	}

	// Two running Pods of the current ReplicaSet.
	rsOwner := metav1.NewControllerRef(newRS, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	start := metav1.NewTime(time.Now().Add(-90 * time.Minute).Truncate(time.Second))
	for i, name := range f.webPods {
		tpl := template("nginx:1.27", "7c9b8f6d4")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tpl.Labels, OwnerReferences: []metav1.OwnerReference{*rsOwner}},
			Spec:       tpl.Spec,
		}
		pod.Spec.NodeName = goldenNode
		pod = must(c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}))("pod " + name)
		qos := pod.Status.QOSClass
		pod.Status = runningStatus(fmt.Sprintf("10.244.0.%d", 10+i), start, []corev1.ContainerStatus{{
			Name: "nginx", Image: "nginx:1.27", ImageID: "docker.io/library/nginx@sha256:0a1b2c", Ready: true, Started: ptr(true),
			ContainerID: fmt.Sprintf("containerd://%064d", i+1),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		}})
		pod.Status.QOSClass = qos
		must(c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}))("pod status " + name)
		cp.Metrics().SetPodMetrics(ns, name, map[string]k8stest.ResourceUsage{"nginx": {CPUMilli: int64(15 + 10*i), MemoryBytes: int64(40+i) << 20}})
	}

	// A crash-looping Pod with an app container and a sidecar.
	crash := must(c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: f.crashPod, Labels: map[string]string{"app": "worker"}},
		Spec: corev1.PodSpec{NodeName: goldenNode, Containers: []corev1.Container{
			{Name: "app", Image: "busybox:1.36", Command: []string{"sh", "-c", "exit 3"}},
			{Name: "sidecar", Image: "busybox:1.36", Command: []string{"sleep", "infinity"}},
		}},
	}, metav1.CreateOptions{}))("pod " + f.crashPod)
	crashQOS := crash.Status.QOSClass
	crashed := metav1.NewTime(time.Now().Add(-4 * time.Minute).Truncate(time.Second))
	crash.Status = runningStatus("10.244.0.30", start, []corev1.ContainerStatus{
		{
			Name: "app", Image: "busybox:1.36", ImageID: "docker.io/library/busybox@sha256:9f8e7d", RestartCount: 3, Started: ptr(false),
			ContainerID: fmt.Sprintf("containerd://%064d", 7),
			State:       corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 3, Reason: "Error", StartedAt: crashed, FinishedAt: crashed, ContainerID: fmt.Sprintf("containerd://%064d", 6),
			}},
		},
		{
			Name: "sidecar", Image: "busybox:1.36", ImageID: "docker.io/library/busybox@sha256:9f8e7d", Ready: true, Started: ptr(true),
			ContainerID: fmt.Sprintf("containerd://%064d", 8),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		},
	})
	crash.Status.QOSClass = crashQOS
	crash.Status.Conditions[1].Status = corev1.ConditionFalse // Ready
	crash.Status.Conditions[2].Status = corev1.ConditionFalse // ContainersReady
	must(c.CoreV1().Pods(ns).UpdateStatus(ctx, crash, metav1.UpdateOptions{}))("pod status " + f.crashPod)
	cp.Metrics().SetPodMetrics(ns, f.crashPod, map[string]k8stest.ResourceUsage{"app": {CPUMilli: 1, MemoryBytes: 3 << 20}, "sidecar": {CPUMilli: 2, MemoryBytes: 1 << 20}})

	// Logs as the container runtime recorded them.
	base := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	cp.Kubelet().SetLogs(ns, f.webPods[0], "nginx", false, []k8stest.LogLine{
		{Time: base, Text: "nginx: starting"},
		{Time: base.Add(time.Minute), Text: `10.0.0.1 - - "GET / HTTP/1.1" 200 615`},
		{Time: time.Now().Add(-30 * time.Minute).UTC().Truncate(time.Second), Text: `10.0.0.2 - - "GET /healthz HTTP/1.1" 200 2`},
		{Time: time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second), Text: `10.0.0.3 - - "GET /missing HTTP/1.1" 404 153`},
	})
	cp.Kubelet().SetLogs(ns, f.crashPod, "app", false, []k8stest.LogLine{{Time: crashed.Time, Text: "starting worker"}})
	cp.Kubelet().SetLogs(ns, f.crashPod, "app", true, []k8stest.LogLine{
		{Time: crashed.Time.Add(-time.Second), Text: "starting worker"},
		{Time: crashed.Time, Text: "fatal: cannot connect to db: connection refused"},
	})
	cp.Kubelet().SetLogs(ns, f.crashPod, "sidecar", false, []k8stest.LogLine{{Time: start.Time, Text: "sidecar ready"}})

	// A Deployment whose rollout is stuck (no pod ever became available).
	stuck := must(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Labels: map[string]string{"app": "api"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "example.com/api:2.0"}}},
			},
		},
	}, metav1.CreateOptions{}))("deployment api")
	stuck.Status = appsv1.DeploymentStatus{ObservedGeneration: stuck.Generation, Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2}
	must(c.AppsV1().Deployments(ns).UpdateStatus(ctx, stuck, metav1.UpdateOptions{}))("deployment api status")

	// Service "web" with its Endpoints and EndpointSlice.
	must(c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{}))("service web")
	must(c.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ //nolint:staticcheck // Endpoints are still what kubectl shows
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Subsets: []corev1.EndpointSubset{{ //nolint:staticcheck
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.10"}, {IP: "10.244.0.11"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}, metav1.CreateOptions{}))("endpoints web")
	must(c.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x7k2p", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.244.0.11"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
	}, metav1.CreateOptions{}))("endpointslice web")

	// A Secret (applied with kubectl apply, so it carries the last-applied copy) and a ConfigMap.
	data := map[string][]byte{}
	for k, v := range f.secretVal {
		data[k] = []byte(v)
	}
	lastApplied := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":%q,"namespace":%q},"stringData":{"password":%q,"username":%q}}`,
		f.secret, ns, f.secretVal["password"], f.secretVal["username"])
	must(c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: f.secret, Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{lastAppliedAnnotation: lastApplied}},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}, metav1.CreateOptions{}))("secret")
	must(c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-config"},
		Data:       map[string]string{"LOG_LEVEL": "info", "nginx.conf": "server { listen 8080; }\n"},
	}, metav1.CreateOptions{}))("configmap")

	// Events, as the scheduler and kubelet would have recorded them.
	first := metav1.NewTime(time.Now().Add(-20 * time.Minute).Truncate(time.Second))
	last := metav1.NewTime(time.Now().Add(-3 * time.Minute).Truncate(time.Second))
	for i, ev := range []struct {
		pod, typ, reason, msg, component string
		count                            int32
	}{
		{f.webPods[0], corev1.EventTypeNormal, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", ns, f.webPods[0], goldenNode), "default-scheduler", 1},
		{f.webPods[0], corev1.EventTypeNormal, "Pulled", `Container image "nginx:1.27" already present on machine`, "kubelet", 1},
		{f.crashPod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container app in pod " + f.crashPod, "kubelet", 7},
	} {
		must(c.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%d", ev.pod, 1000+i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: ev.pod, APIVersion: "v1"},
			Reason:         ev.reason, Message: ev.msg, Type: ev.typ, Count: ev.count,
			Source:         corev1.EventSource{Component: ev.component, Host: goldenNode},
			FirstTimestamp: first, LastTimestamp: last,
			ReportingController: ev.component, ReportingInstance: goldenNode,
		}, metav1.CreateOptions{}))("event " + ev.reason)
	}
	return nil
}

// runningStatus is the status the kubelet reports for a scheduled, running Pod.
func runningStatus(ip string, start metav1.Time, containers []corev1.ContainerStatus) corev1.PodStatus {
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: start},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: start},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: start},
		},
		HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		StartTime:         &start,
		ContainerStatuses: containers,
	}
}

func ptr[T any](v T) *T { return &v }

// createCRD creates a namespaced CustomResourceDefinition and waits until the
// API server serves it.
func createCRD(t testing.TB, ctx context.Context, group, plural, kind string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cp.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	name := plural + "." + group
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group": group,
			"scope": "Namespaced",
			"names": map[string]any{"plural": plural, "singular": strings.ToLower(kind), "kind": kind},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn.Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: plural}).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("CRD %s never served: %v", name, err)
	}
}
