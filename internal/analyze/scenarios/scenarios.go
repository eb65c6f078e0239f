package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kubently/kubently/internal/analyze"
	"github.com/kubently/kubently/internal/k8stest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Scenario is one failure scenario and what a correct diagnosis of it says.
type Scenario struct {
	// Number is the scenario's row in shared/scenarios/README.md (1-15).
	Number int
	// Name is a short slug, usable in test names.
	Name string
	// Broken says what is broken, as the README does.
	Broken string
	// Diagnosis is what a correct diagnosis says, as the README does.
	Diagnosis string
	// Analyzer is the analyze.Analyzer* name of the finding that diagnoses it.
	Analyzer string
	// Severity is the finding's severity (analyze.SeverityCritical unless stated).
	Severity string
	// RootCause lists words a correct root cause contains (compare case-insensitively).
	RootCause []string
	// Fix lists words a correct fix contains (compare case-insensitively).
	Fix []string

	resource func(namespace string) string
	question string // with %s for the namespace
}

// Resource is the resource a correct finding names for the scenario built in namespace,
// e.g. "deployment/checkout" or, for the NotReady node, "node/<namespace>-lost".
func (s Scenario) Resource(namespace string) string { return s.resource(namespace) }

// Question is what a user would ask about the scenario built in namespace.
func (s Scenario) Question(namespace string) string { return fmt.Sprintf(s.question, namespace) }

func fixed(r string) func(string) string { return func(string) string { return r } }

func init() {
	for _, list := range [][]Scenario{all, extras} {
		for i := range list {
			if list[i].Severity == "" {
				list[i].Severity = analyze.SeverityCritical
			}
		}
	}
}

var all = []Scenario{
	{Number: 1, Name: "missing-env-var",
		Broken:    "a Deployment's container reads env var DEPLOY_ENV that is not set; it exits 1 at start (CrashLoopBackOff)",
		Diagnosis: "the missing env var; set it in the Deployment",
		Analyzer:  analyze.AnalyzerCrashLoop, RootCause: []string{"DEPLOY_ENV", "not set"}, Fix: []string{"DEPLOY_ENV", "deployment/checkout"},
		resource: fixed("deployment/checkout"), question: "Why does deployment checkout in namespace %s keep crashing?"},
	{Number: 2, Name: "image-tag-not-found",
		Broken:    "image tag nginx:1.99-nonexistent (ErrImagePull / ImagePullBackOff, manifest unknown)",
		Diagnosis: "the tag does not exist; use an existing tag",
		Analyzer:  analyze.AnalyzerImagePull, RootCause: []string{"1.99-nonexistent", "does not exist"}, Fix: []string{"existing tag"},
		resource: fixed("deployment/web"), question: "Why are the pods of deployment web in namespace %s not starting?"},
	{Number: 3, Name: "node-selector-no-match",
		Broken:    "pod requests nodeSelector disktype=ssd and no node has that label (Pending)",
		Diagnosis: "the selector matches no node; label a node or drop the selector",
		Analyzer:  analyze.AnalyzerUnschedulable, RootCause: []string{"disktype=ssd", "matches no node"}, Fix: []string{"label", "nodeSelector"},
		resource: fixed("deployment/cache"), question: "Why is deployment cache in namespace %s stuck in Pending?"},
	{Number: 4, Name: "insufficient-cpu",
		Broken:    "pod requests 64 CPUs on 4-CPU nodes (Pending, Insufficient cpu)",
		Diagnosis: "requests exceed node allocatable; lower requests or add capacity",
		Analyzer:  analyze.AnalyzerUnschedulable, RootCause: []string{"64", "cpu", "allocatable"}, Fix: []string{"requests.cpu", "add nodes"},
		resource: fixed("deployment/analytics"), question: "Why doesn't deployment analytics in namespace %s get scheduled?"},
	{Number: 5, Name: "readiness-probe-port",
		Broken:    "readiness probe on port 8081 while the app listens on 8080; Service has no ready endpoints",
		Diagnosis: "probe port mismatch; fix the probe",
		Analyzer:  analyze.AnalyzerProbe, RootCause: []string{"8081", "8080"}, Fix: []string{"readinessProbe", "8080"},
		resource: fixed("deployment/shop"), question: "Why does service shop in namespace %s not get any traffic to its pods?"},
	{Number: 6, Name: "oom-killed",
		Broken:    "Java-like app with 128Mi limit restarts with OOMKilled (exit 137)",
		Diagnosis: "memory limit too low for the workload; raise the limit",
		Analyzer:  analyze.AnalyzerOOMKilled, RootCause: []string{"128Mi", "memory limit"}, Fix: []string{"limits.memory"},
		resource: fixed("deployment/billing"), question: "Why does deployment billing in namespace %s keep restarting?"},
	{Number: 7, Name: "missing-configmap-volume",
		Broken:    "pod mounts ConfigMap app-settings that does not exist (ContainerCreating, FailedMount)",
		Diagnosis: "create the ConfigMap or fix its name",
		Analyzer:  analyze.AnalyzerFailedMount, RootCause: []string{"ConfigMap app-settings", "does not exist"}, Fix: []string{"create ConfigMap app-settings"},
		resource: fixed("deployment/settings-api"), question: "Why is deployment settings-api in namespace %s stuck in ContainerCreating?"},
	{Number: 8, Name: "missing-storageclass",
		Broken:    "PVC requests StorageClass premium-rwx that does not exist; pod Pending",
		Diagnosis: "the missing StorageClass; use an existing class",
		Analyzer:  analyze.AnalyzerPVC, RootCause: []string{"StorageClass \"premium-rwx\"", "does not exist"}, Fix: []string{"existing StorageClass"},
		resource: fixed("persistentvolumeclaim/reports-data"), question: "Why is deployment reports in namespace %s Pending?"},
	{Number: 9, Name: "service-selector-mismatch",
		Broken:    "Service selector app: web-frontend while pods are labelled app: frontend; no endpoints",
		Diagnosis: "selector/label mismatch; fix the selector",
		Analyzer:  analyze.AnalyzerServiceEndpoints, RootCause: []string{"app=web-frontend", "app=frontend"}, Fix: []string{"selector", "app=frontend"},
		resource: fixed("service/web-frontend"), question: "Why does service web-frontend in namespace %s have no endpoints?"},
	{Number: 10, Name: "init-container-missing-service",
		Broken:    "Job's pod fails: init container wait-for-db loops on nc -z postgres 5432, Service postgres missing",
		Diagnosis: "the missing dependency Service",
		Analyzer:  analyze.AnalyzerInitContainer, RootCause: []string{"Service postgres", "does not exist"}, Fix: []string{"Service postgres"},
		resource: fixed("job/migrate-db"), question: "Why doesn't job migrate-db in namespace %s run?"},
	{Number: 11, Name: "missing-serviceaccount",
		Broken:    "Deployment uses ServiceAccount reporter that does not exist; ReplicaSet FailedCreate, no pods",
		Diagnosis: "create the ServiceAccount or use an existing one",
		Analyzer:  analyze.AnalyzerFailedCreate, RootCause: []string{"ServiceAccount reporter", "does not exist"}, Fix: []string{"serviceaccount reporter"},
		resource: fixed("deployment/reporter"), question: "Why does deployment reporter in namespace %s have no pods?"},
	{Number: 12, Name: "untolerated-taint",
		Broken:    "all nodes tainted maintenance=true:NoSchedule; new pods Pending",
		Diagnosis: "taint without matching toleration; remove the taint or tolerate it",
		Analyzer:  analyze.AnalyzerUnschedulable, RootCause: []string{"maintenance=true:NoSchedule", "does not tolerate"}, Fix: []string{"taint", "toleration"},
		resource: fixed("deployment/api"), question: "Why are the new pods of deployment api in namespace %s Pending?"},
	{Number: 13, Name: "node-not-ready",
		Broken:    "a node is NotReady (kubelet stopped posting status) and its pods are Unknown/terminating",
		Diagnosis: "the node, not the app, is the problem",
		Analyzer:  analyze.AnalyzerNodeNotReady, RootCause: []string{"NotReady", "kubelet stopped posting", "not the application"}, Fix: []string{"node"},
		resource: func(ns string) string { return "node/" + NodeName(ns, "lost") },
		question: "Why are pods of deployment inventory in namespace %s Terminating and not ready?"},
	{Number: 14, Name: "missing-secret-key",
		Broken:    "pod needs Secret key password in Secret db-creds that only has username (CreateContainerConfigError)",
		Diagnosis: "the missing key in the Secret",
		Analyzer:  analyze.AnalyzerConfig, RootCause: []string{"db-creds", "no key \"password\""}, Fix: []string{"password", "db-creds"},
		resource: fixed("deployment/orders"), question: "Why can't the containers of deployment orders in namespace %s be created?"},
	{Number: 15, Name: "liveness-probe-fails",
		Broken:    "liveness probe /healthz returns 500 after 30 s; container restarts repeatedly",
		Diagnosis: "the failing liveness probe and its endpoint",
		Analyzer:  analyze.AnalyzerProbe, RootCause: []string{"liveness", "/healthz", "500"}, Fix: []string{"/healthz"},
		resource: fixed("deployment/payments"), question: "Why does deployment payments in namespace %s restart all the time?"},
}

// extras are further failures the analyzers recognise, beyond the README's 15.
var extras = []Scenario{
	{Number: 101, Name: "quota-exceeded",
		Broken:    "a ResourceQuota is exhausted: the ReplicaSet creates one of two pods, the second is forbidden (FailedCreate)",
		Diagnosis: "the exhausted quota; raise it or lower the requests",
		Analyzer:  analyze.AnalyzerFailedCreate, RootCause: []string{"ResourceQuota compute", "exhausted", "requests.cpu=1"}, Fix: []string{"quota", "requests"},
		resource: fixed("deployment/batch-api"), question: "Why does deployment batch-api in namespace %s have only one pod?"},
	{Number: 102, Name: "service-target-port",
		Broken:    "Service catalog forwards to targetPort 9090 while the pods listen on 8080",
		Diagnosis: "targetPort not among the container ports; fix the targetPort",
		Analyzer:  analyze.AnalyzerServiceEndpoints, Severity: analyze.SeverityWarning,
		RootCause: []string{"targetPort 9090", "8080"}, Fix: []string{"targetPort", "8080"},
		resource: fixed("service/catalog"), question: "Why are connections to service catalog in namespace %s refused?"},
	{Number: 103, Name: "init-container-waits",
		Broken:    "init container wait-for-redis loops on nslookup redis-master forever (Init:0/1); Service redis-master missing",
		Diagnosis: "the missing dependency Service",
		Analyzer:  analyze.AnalyzerInitContainer, RootCause: []string{"Service redis-master", "does not exist"}, Fix: []string{"redis-master"},
		resource: fixed("deployment/worker"), question: "Why is deployment worker in namespace %s stuck in Init?"},
}

// All returns the 15 scenarios of the README, in order.
func All() []Scenario { return append([]Scenario(nil), all...) }

// Extras returns further scenarios (numbered from 101) that the analyzers diagnose: an
// exhausted ResourceQuota, a Service targetPort the pods do not listen on, and an init
// container that waits forever for a missing Service.
func Extras() []Scenario { return append([]Scenario(nil), extras...) }

// Get returns scenario n (1-15, or an extra from 101).
func Get(n int) (Scenario, error) {
	for _, list := range [][]Scenario{all, extras} {
		for _, s := range list {
			if s.Number == n {
				return s, nil
			}
		}
	}
	return Scenario{}, fmt.Errorf("scenarios: no scenario %d (1-%d, 101-%d)", n, len(all), 100+len(extras))
}

// Build creates scenario n in namespace (which must exist, e.g. from cp.NewNamespace) with
// cp's admin client, plus the nodes it needs (named with NodeName), and sets the logs of its
// containers in cp's kubelet stand-in.
func Build(ctx context.Context, cp *k8stest.ControlPlane, namespace string, scenario int) error {
	b := &builder{ctx: ctx, cp: cp, c: cp.AdminClient(), ns: namespace, now: time.Now()}
	builders := map[int]func() error{
		1: b.missingEnvVar, 2: b.imageTagNotFound, 3: b.nodeSelectorNoMatch, 4: b.insufficientCPU,
		5: b.readinessProbePort, 6: b.oomKilled, 7: b.missingConfigMapVolume, 8: b.missingStorageClass,
		9: b.serviceSelectorMismatch, 10: b.initContainerMissingService, 11: b.missingServiceAccount,
		12: b.untoleratedTaint, 13: b.nodeNotReady, 14: b.missingSecretKey, 15: b.livenessProbeFails,
		101: b.quotaExceeded, 102: b.serviceTargetPort, 103: b.initContainerWaits,
	}
	build, ok := builders[scenario]
	if !ok {
		_, err := Get(scenario)
		return err
	}
	if err := build(); err != nil {
		return fmt.Errorf("scenarios: build %d in %s: %w", scenario, namespace, err)
	}
	return nil
}

// BuildHealthy creates a healthy application in namespace: a Deployment with ready pods and
// a ConfigMap volume, a Service with ready endpoints, a bound PVC, and a Ready node.
func BuildHealthy(ctx context.Context, cp *k8stest.ControlPlane, namespace string) error {
	b := &builder{ctx: ctx, cp: cp, c: cp.AdminClient(), ns: namespace, now: time.Now()}
	if err := b.healthy(); err != nil {
		return fmt.Errorf("scenarios: build healthy in %s: %w", namespace, err)
	}
	return nil
}

func intOrString(s string) intstr.IntOrString {
	if n, err := strconv.Atoi(s); err == nil {
		return intstr.FromInt32(int32(n))
	}
	return intstr.FromString(s)
}

func resources(cpuReq, memReq, cpuLim, memLim string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	set := func(l corev1.ResourceList, name corev1.ResourceName, v string) {
		if v != "" {
			l[name] = resource.MustParse(v)
		}
	}
	set(r.Requests, corev1.ResourceCPU, cpuReq)
	set(r.Requests, corev1.ResourceMemory, memReq)
	set(r.Limits, corev1.ResourceCPU, cpuLim)
	set(r.Limits, corev1.ResourceMemory, memLim)
	return r
}

func httpPort(n int32) []corev1.ContainerPort {
	return []corev1.ContainerPort{{Name: "http", ContainerPort: n, Protocol: corev1.ProtocolTCP}}
}

func onNode(name string) func(int) string { return func(int) string { return name } }

// 1: the container exits because DEPLOY_ENV is not set.
func (b *builder) missingEnvVar() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	app := corev1.Container{
		Name: "app", Image: "registry.example.com/shop/checkout:2.3.1", Ports: httpPort(8080),
		Env:       []corev1.EnvVar{{Name: "PORT", Value: "8080"}, {Name: "LOG_LEVEL", Value: "info"}},
		Resources: resources("100m", "128Mi", "", "256Mi"),
	}
	d, err := b.deploy(deploySpec{
		name: "checkout", replicas: 2, pod: corev1.PodSpec{Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			last := terminated(p.Name, "app", 6, 1, "Error", b.now.Add(-2*time.Minute), b.now.Add(-2*time.Minute))
			b.podStatus(p, corev1.PodRunning, b.now.Add(-18*time.Minute), nil, []corev1.ContainerStatus{
				waiting(app, "CrashLoopBackOff", fmt.Sprintf("back-off 5m0s restarting failed container=app pod=%s_%s(%s)", p.Name, p.Namespace, p.UID), 7, last),
			})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		b.logs(p.Name, "app", true, b.now.Add(-2*time.Minute),
			"2026-01-12T09:14:03Z INFO starting checkout service version=2.3.1",
			"2026-01-12T09:14:03Z INFO loading configuration from environment",
			"fatal: DEPLOY_ENV is not set")
		if err := b.startedEvents(p, 18*time.Minute, 7); err != nil {
			return err
		}
		if err := b.podEvent(p, "app", corev1.EventTypeWarning, "BackOff",
			fmt.Sprintf("Back-off restarting failed container app in pod %s_%s(%s)", p.Name, p.Namespace, p.UID), "kubelet", 74, 17*time.Minute, 20*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// 2: the image tag does not exist.
func (b *builder) imageTagNotFound() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	// A healthy neighbour runs an existing tag of the same repository.
	docs := corev1.Container{Name: "nginx", Image: "nginx:1.27", Ports: httpPort(80)}
	if _, err := b.deploy(deploySpec{
		name: "docs", replicas: 1, pod: corev1.PodSpec{Containers: []corev1.Container{docs}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-3*time.Hour), nil, []corev1.ContainerStatus{running(p.Name, docs, true, 0, b.now.Add(-3*time.Hour), nil)})
		},
	}); err != nil {
		return err
	}
	web := corev1.Container{Name: "web", Image: "nginx:1.99-nonexistent", Ports: httpPort(80), Resources: resources("50m", "64Mi", "", "")}
	d, err := b.deploy(deploySpec{
		name: "web", replicas: 2, pod: corev1.PodSpec{Containers: []corev1.Container{web}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodPending, b.now.Add(-6*time.Minute), nil, []corev1.ContainerStatus{
				waiting(web, "ImagePullBackOff", `Back-off pulling image "nginx:1.99-nonexistent"`, 0, nil),
			})
		},
	})
	if err != nil {
		return err
	}
	pullErr := `Failed to pull image "nginx:1.99-nonexistent": Error response from daemon: manifest for nginx:1.99-nonexistent not found: manifest unknown: manifest unknown`
	for _, p := range d.pods {
		for _, e := range []struct {
			typ, reason, msg string
			count            int32
		}{
			{corev1.EventTypeNormal, "Pulling", `Pulling image "nginx:1.99-nonexistent"`, 6},
			{corev1.EventTypeWarning, "Failed", pullErr, 6},
			{corev1.EventTypeWarning, "Failed", "Error: ErrImagePull", 6},
			{corev1.EventTypeNormal, "BackOff", `Back-off pulling image "nginx:1.99-nonexistent"`, 25},
			{corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff", 25},
		} {
			if err := b.podEvent(p, "web", e.typ, e.reason, e.msg, "kubelet", e.count, 6*time.Minute, 30*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// pendingDeployment creates a Deployment whose pods the scheduler cannot place, with the
// scheduler's condition and FailedScheduling Events.
func (b *builder) pendingDeployment(name string, replicas int32, spec corev1.PodSpec, schedMsg string) error {
	d, err := b.deploy(deploySpec{
		name: name, replicas: replicas, pod: spec,
		status: func(i int, p *corev1.Pod) { b.unschedulableStatus(p, schedMsg, 9*time.Minute) },
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		if err := b.podEvent(p, "", corev1.EventTypeWarning, "FailedScheduling", schedMsg, "default-scheduler", 11, 9*time.Minute, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// 3: nodeSelector disktype=ssd matches no node.
func (b *builder) nodeSelectorNoMatch() error {
	if _, err := b.node("node", map[string]string{"disktype": "hdd"}); err != nil {
		return err
	}
	spec := corev1.PodSpec{
		NodeSelector: map[string]string{"disktype": "ssd"},
		Containers:   []corev1.Container{{Name: "redis", Image: "redis:7.2", Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}}, Resources: resources("100m", "256Mi", "", "512Mi")}},
	}
	return b.pendingDeployment("cache", 1, spec,
		"0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
}

// 4: the pod requests 64 CPUs; nodes have 4.
func (b *builder) insufficientCPU() error {
	if _, err := b.node("node", nil); err != nil {
		return err
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "worker", Image: "registry.example.com/data/analytics-worker:0.9.4", Resources: resources("64", "2Gi", "64", "4Gi")}},
	}
	return b.pendingDeployment("analytics", 1, spec,
		"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
}

// 5: the readiness probe checks 8081; the app listens on 8080.
func (b *builder) readinessProbePort() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	web := corev1.Container{
		Name: "web", Image: "registry.example.com/shop/storefront:1.8.0", Ports: httpPort(8080),
		Resources: resources("100m", "128Mi", "", "256Mi"),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8081)}},
			PeriodSeconds: 5, FailureThreshold: 3, TimeoutSeconds: 1,
		},
	}
	d, err := b.deploy(deploySpec{
		name: "shop", replicas: 2, pod: corev1.PodSpec{Containers: []corev1.Container{web}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-25*time.Minute), nil, []corev1.ContainerStatus{
				running(p.Name, web, false, 0, b.now.Add(-25*time.Minute), nil),
			})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		if err := b.startedEvents(p, 25*time.Minute, 0); err != nil {
			return err
		}
		msg := fmt.Sprintf(`Readiness probe failed: Get "http://%s:8081/ready": dial tcp %s:8081: connect: connection refused`, p.Status.PodIP, p.Status.PodIP)
		if err := b.podEvent(p, "web", corev1.EventTypeWarning, "Unhealthy", msg, "kubelet", 296, 25*time.Minute, 4*time.Second); err != nil {
			return err
		}
		b.logs(p.Name, "web", false, b.now.Add(-25*time.Minute), "storefront 1.8.0 listening on :8080")
	}
	svc, err := b.service("shop", map[string]string{"app": "shop"}, 80, "http")
	if err != nil {
		return err
	}
	return b.endpointSlice(svc, 8080, d.pods)
}

// 6: a JVM with a 128Mi limit is OOMKilled.
func (b *builder) oomKilled() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	app := corev1.Container{
		Name: "billing", Image: "registry.example.com/finance/billing:4.2.0",
		Command:   []string{"java", "-Xmx512m", "-jar", "/app/billing.jar"},
		Ports:     httpPort(8080),
		Resources: resources("250m", "128Mi", "1", "128Mi"),
	}
	d, err := b.deploy(deploySpec{
		name: "billing", replicas: 1, pod: corev1.PodSpec{Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			last := terminated(p.Name, "billing", 4, 137, "OOMKilled", b.now.Add(-95*time.Second), b.now.Add(-50*time.Second))
			b.podStatus(p, corev1.PodRunning, b.now.Add(-40*time.Minute), nil, []corev1.ContainerStatus{
				waiting(app, "CrashLoopBackOff", fmt.Sprintf("back-off 2m40s restarting failed container=billing pod=%s_%s(%s)", p.Name, p.Namespace, p.UID), 5, last),
			})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		b.logs(p.Name, "billing", true, b.now.Add(-95*time.Second),
			"Starting BillingApplication v4.2.0 using Java 21.0.5",
			"Initializing Spring embedded WebApplicationContext",
			"Loading 120000 open invoices into the cache")
		if err := b.startedEvents(p, 40*time.Minute, 5); err != nil {
			return err
		}
		if err := b.podEvent(p, "billing", corev1.EventTypeWarning, "BackOff",
			fmt.Sprintf("Back-off restarting failed container billing in pod %s_%s(%s)", p.Name, p.Namespace, p.UID), "kubelet", 31, 35*time.Minute, 40*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// 7: the pod mounts ConfigMap app-settings, which does not exist.
func (b *builder) missingConfigMapVolume() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	if _, err := b.c.CoreV1().ConfigMaps(b.ns).Create(b.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "feature-flags"}, Data: map[string]string{"flags.yaml": "newCheckout: false\n"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	api := corev1.Container{
		Name: "api", Image: "registry.example.com/platform/settings-api:1.0.3", Ports: httpPort(8080),
		VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/settings", ReadOnly: true}},
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{api},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-settings"}},
		}}},
	}
	d, err := b.deploy(deploySpec{
		name: "settings-api", replicas: 1, pod: spec, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodPending, b.now.Add(-11*time.Minute), nil, []corev1.ContainerStatus{waiting(api, "ContainerCreating", "", 0, nil)})
			for j := range p.Status.Conditions {
				if p.Status.Conditions[j].Type == corev1.PodReadyToStartContainers {
					p.Status.Conditions[j].Status = corev1.ConditionFalse
				}
			}
			p.Status.PodIP, p.Status.PodIPs = "", nil
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		if err := b.podEvent(p, "", corev1.EventTypeNormal, "Scheduled",
			fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, p.Spec.NodeName), "default-scheduler", 1, 11*time.Minute, 11*time.Minute); err != nil {
			return err
		}
		if err := b.podEvent(p, "", corev1.EventTypeWarning, "FailedMount",
			`MountVolume.SetUp failed for volume "config" : configmap "app-settings" not found`, "kubelet", 14, 11*time.Minute, 50*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// 8: the PVC asks for StorageClass premium-rwx, which does not exist.
func (b *builder) missingStorageClass() error {
	if _, err := b.node("node", nil); err != nil {
		return err
	}
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	_, err := b.c.StorageV1().StorageClasses().Create(b.ctx, &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       "rancher.io/local-path",
		VolumeBindingMode: &wait,
		ReclaimPolicy:     ptr(corev1.PersistentVolumeReclaimDelete),
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	pvc, err := b.c.CoreV1().PersistentVolumeClaims(b.ns).Create(b.ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "reports-data", Labels: map[string]string{"app": "reports"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: ptr("premium-rwx"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	pvc.Status.Phase = corev1.ClaimPending
	if pvc, err = b.c.CoreV1().PersistentVolumeClaims(b.ns).UpdateStatus(b.ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if err := b.event(eventSpec{
		kind: "PersistentVolumeClaim", apiVersion: "v1", name: pvc.Name, namespace: b.ns, uid: pvc.UID,
		typ: corev1.EventTypeWarning, reason: "ProvisioningFailed", message: `storageclass.storage.k8s.io "premium-rwx" not found`,
		component: "persistentvolume-controller", count: 42, first: 10 * time.Minute, last: 15 * time.Second,
	}); err != nil {
		return err
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "reports", Image: "registry.example.com/bi/reports:2.0.1",
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/reports"}},
		}},
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "reports-data"},
		}}},
	}
	return b.pendingDeployment("reports", 1, spec,
		"0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
}

// 9: Service selector app=web-frontend; the pods are labelled app=frontend.
func (b *builder) serviceSelectorMismatch() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	fe := corev1.Container{Name: "frontend", Image: "registry.example.com/web/frontend:3.1.0", Ports: httpPort(8080)}
	if _, err := b.deploy(deploySpec{
		name: "frontend", replicas: 2, pod: corev1.PodSpec{Containers: []corev1.Container{fe}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-2*time.Hour), nil, []corev1.ContainerStatus{running(p.Name, fe, true, 0, b.now.Add(-2*time.Hour), nil)})
		},
	}); err != nil {
		return err
	}
	svc, err := b.service("web-frontend", map[string]string{"app": "web-frontend"}, 80, "8080")
	if err != nil {
		return err
	}
	return b.endpointSlice(svc, 8080, nil)
}

// 10: a Job's init container waits for Service postgres, which does not exist.
func (b *builder) initContainerMissingService() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	// Other Services exist; postgres does not.
	if _, err := b.c.CoreV1().Services(b.ns).Create(b.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-api"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "payments.example.com"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	waitScript := `for i in $(seq 1 30); do nc -z postgres 5432 && exit 0; echo "waiting for postgres:5432"; sleep 2; done; echo "postgres:5432 not reachable"; exit 1`
	initC := corev1.Container{Name: "wait-for-db", Image: "busybox:1.36", Command: []string{"sh", "-c", waitScript}}
	migrate := corev1.Container{
		Name: "migrate", Image: "registry.example.com/shop/migrations:5.0.0", Command: []string{"/app/migrate", "up"},
		Env: []corev1.EnvVar{{Name: "DATABASE_URL", Value: "postgres://postgres:5432/shop"}},
	}
	job, err := b.c.BatchV1().Jobs(b.ns).Create(b.ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate-db", Namespace: b.ns, Labels: map[string]string{"app": "migrate-db"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(6)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate-db"}},
				Spec: corev1.PodSpec{
					RestartPolicy:  corev1.RestartPolicyOnFailure,
					InitContainers: []corev1.Container{initC},
					Containers:     []corev1.Container{migrate},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	spec := *job.Spec.Template.Spec.DeepCopy()
	spec.NodeName = node.Name
	labels := map[string]string{}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	pod, err := b.createPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "migrate-db-" + suffix(b.ns+"/migrate-db", 5), Namespace: b.ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: spec,
	}, func(p *corev1.Pod) {
		last := terminated(p.Name, "wait-for-db", 3, 1, "Error", b.now.Add(-3*time.Minute), b.now.Add(-2*time.Minute))
		b.podStatus(p, corev1.PodPending, b.now.Add(-14*time.Minute),
			[]corev1.ContainerStatus{waiting(initC, "CrashLoopBackOff",
				fmt.Sprintf("back-off 1m20s restarting failed container=wait-for-db pod=%s_%s(%s)", p.Name, p.Namespace, p.UID), 4, last)},
			[]corev1.ContainerStatus{waiting(migrate, "PodInitializing", "", 0, nil)})
	})
	if err != nil {
		return err
	}
	job.Status.Active = 1
	job.Status.Ready = ptr(int32(0))
	job.Status.StartTime = ptr(ago(b.now, 14*time.Minute))
	if _, err := b.c.BatchV1().Jobs(b.ns).UpdateStatus(b.ctx, job, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("job status: %w", err)
	}
	lines := []string{}
	for range 4 {
		lines = append(lines, "nc: bad address 'postgres'", "waiting for postgres:5432")
	}
	lines = append(lines, "postgres:5432 not reachable")
	b.logs(pod.Name, "wait-for-db", true, b.now.Add(-3*time.Minute), lines...)
	if err := b.event(eventSpec{
		kind: "Job", apiVersion: "batch/v1", name: job.Name, namespace: b.ns, uid: job.UID,
		typ: corev1.EventTypeNormal, reason: "SuccessfulCreate", message: "Created pod: " + pod.Name,
		component: "job-controller", first: 14 * time.Minute, last: 14 * time.Minute,
	}); err != nil {
		return err
	}
	return b.podEvent(pod, "wait-for-db", corev1.EventTypeWarning, "BackOff",
		fmt.Sprintf("Back-off restarting failed container wait-for-db in pod %s_%s(%s)", pod.Name, pod.Namespace, pod.UID), "kubelet", 9, 10*time.Minute, 40*time.Second)
}

// 11: the Deployment's ServiceAccount reporter does not exist.
func (b *builder) missingServiceAccount() error {
	if _, err := b.node("node", nil); err != nil {
		return err
	}
	if err := b.serviceAccount("default"); err != nil {
		return err
	}
	spec := corev1.PodSpec{
		ServiceAccountName: "reporter",
		Containers:         []corev1.Container{{Name: "reporter", Image: "registry.example.com/bi/reporter:1.4.0"}},
	}
	hash := suffix(b.ns+"/reporter", 10)
	msg := fmt.Sprintf(`pods "reporter-%s-" is forbidden: error looking up service account %s/reporter: serviceaccount "reporter" not found`, hash, b.ns)
	d, err := b.deploy(deploySpec{name: "reporter", replicas: 2, pod: spec, noPods: true, rsFailure: msg})
	if err != nil {
		return err
	}
	return b.event(eventSpec{
		kind: "ReplicaSet", apiVersion: "apps/v1", name: d.rs.Name, namespace: b.ns, uid: d.rs.UID,
		typ: corev1.EventTypeWarning, reason: "FailedCreate", message: "Error creating: " + msg,
		component: "replicaset-controller", count: 17, first: 12 * time.Minute, last: 2 * time.Minute,
	})
}

// 12: every node is tainted maintenance=true:NoSchedule.
func (b *builder) untoleratedTaint() error {
	for _, name := range []string{"m1", "m2"} {
		n, err := b.node(name, nil)
		if err != nil {
			return err
		}
		if _, err := b.taintNode(n.Name, corev1.Taint{Key: "maintenance", Value: "true", Effect: corev1.TaintEffectNoSchedule}); err != nil {
			return err
		}
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "api", Image: "registry.example.com/shop/api:6.0.2", Ports: httpPort(8080), Resources: resources("200m", "256Mi", "", "512Mi")}},
	}
	return b.pendingDeployment("api", 2, spec,
		"0/2 nodes are available: 2 node(s) had untolerated taint {maintenance: true}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
}

// 13: node "<ns>-lost" stopped reporting; its pods are not ready or Terminating.
func (b *builder) nodeNotReady() error {
	healthy, err := b.node("node", nil)
	if err != nil {
		return err
	}
	lost, err := b.node("lost", nil)
	if err != nil {
		return err
	}
	// The node lifecycle controller: conditions Unknown, unreachable taints.
	lastBeat := ago(b.now, 9*time.Minute)
	since := ago(b.now, 8*time.Minute)
	for i, c := range lost.Status.Conditions {
		if c.Type == corev1.NodeReady {
			lost.Status.Conditions[i] = corev1.NodeCondition{
				Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
				Message: "Kubelet stopped posting node status.", LastHeartbeatTime: lastBeat, LastTransitionTime: since,
			}
		}
	}
	for _, t := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		lost.Status.Conditions = append(lost.Status.Conditions, corev1.NodeCondition{
			Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
			Message: "Kubelet stopped posting node status.", LastHeartbeatTime: lastBeat, LastTransitionTime: since,
		})
	}
	if lost, err = b.c.CoreV1().Nodes().UpdateStatus(b.ctx, lost, metav1.UpdateOptions{}); err != nil {
		return err
	}
	added := ago(b.now, 8*time.Minute)
	if lost, err = b.taintNode(lost.Name,
		corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &added},
		corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added},
	); err != nil {
		return err
	}
	lease, err := b.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(b.ctx, lost.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = ptr(metav1.NewMicroTime(b.now.Add(-9 * time.Minute)))
	if _, err := b.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(b.ctx, lease, metav1.UpdateOptions{}); err != nil {
		return err
	}

	inv := corev1.Container{Name: "inventory", Image: "registry.example.com/shop/inventory:3.3.0", Ports: httpPort(8080)}
	nodes := []string{lost.Name, lost.Name, healthy.Name}
	d, err := b.deploy(deploySpec{
		name: "inventory", replicas: 3, pod: corev1.PodSpec{Containers: []corev1.Container{inv}},
		node: func(i int) string { return nodes[i] },
		status: func(i int, p *corev1.Pod) {
			started := b.now.Add(-3 * time.Hour)
			if i == 2 {
				started = b.now.Add(-2 * time.Minute) // the replacement
			}
			b.podStatus(p, corev1.PodRunning, started, nil, []corev1.ContainerStatus{running(p.Name, inv, true, 0, started, nil)})
			if i < 2 {
				// MarkPodsNotReady: the node controller flips Ready to False.
				for j, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady {
						p.Status.Conditions[j].Status = corev1.ConditionFalse
						p.Status.Conditions[j].LastTransitionTime = since
					}
				}
			}
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods[:2] {
		if err := b.podEvent(p, "", corev1.EventTypeWarning, "NodeNotReady", "Node is not ready", "node-controller", 1, 8*time.Minute, 8*time.Minute); err != nil {
			return err
		}
	}
	// Taint-based eviction after the toleration of 5m: the pod is deleted, but without a
	// kubelet to confirm it stays Terminating.
	evicted := d.pods[1]
	if err := b.podEvent(evicted, "", corev1.EventTypeNormal, "TaintManagerEviction",
		fmt.Sprintf("Marking for deletion Pod %s/%s", evicted.Namespace, evicted.Name), "taint-eviction-controller", 1, 3*time.Minute, 3*time.Minute); err != nil {
		return err
	}
	if err := b.c.CoreV1().Pods(b.ns).Delete(b.ctx, evicted.Name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	if err := b.event(eventSpec{
		kind: "Node", apiVersion: "v1", name: lost.Name, uid: lost.UID,
		typ: corev1.EventTypeNormal, reason: "NodeNotReady", message: fmt.Sprintf("Node %s status is now: NodeNotReady", lost.Name),
		component: "node-controller", first: 8 * time.Minute, last: 8 * time.Minute,
	}); err != nil {
		return err
	}
	return b.startedEvents(d.pods[2], 2*time.Minute, 0)
}

// 14: the pod needs key password of Secret db-creds, which only has username.
func (b *builder) missingSecretKey() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	if _, err := b.c.CoreV1().Secrets(b.ns).Create(b.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-creds"}, Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{"username": SecretValueSentinel},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	api := corev1.Container{
		Name: "api", Image: "registry.example.com/shop/orders:2.8.1", Ports: httpPort(8080),
		Env: []corev1.EnvVar{
			{Name: "DB_HOST", Value: "orders-db"},
			{Name: "DB_USER", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db-creds"}, Key: "username"}}},
			{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db-creds"}, Key: "password"}}},
		},
	}
	msg := fmt.Sprintf("couldn't find key password in Secret %s/db-creds", b.ns)
	d, err := b.deploy(deploySpec{
		name: "orders", replicas: 1, pod: corev1.PodSpec{Containers: []corev1.Container{api}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodPending, b.now.Add(-7*time.Minute), nil, []corev1.ContainerStatus{waiting(api, "CreateContainerConfigError", msg, 0, nil)})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		if err := b.podEvent(p, "api", corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", api.Image), "kubelet", 33, 7*time.Minute, 10*time.Second); err != nil {
			return err
		}
		if err := b.podEvent(p, "api", corev1.EventTypeWarning, "Failed", "Error: "+msg, "kubelet", 33, 7*time.Minute, 10*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// SecretValueSentinel is the value of the Secret key scenario 14 does have; no finding
// may ever contain it.
const SecretValueSentinel = "orders-svc-user-7f3a9c"

// 15: the liveness probe /healthz answers 500 some 30s after start.
func (b *builder) livenessProbeFails() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	app := corev1.Container{
		Name: "app", Image: "registry.example.com/pay/payments:7.4.2", Ports: httpPort(8080),
		Resources: resources("200m", "256Mi", "", "512Mi"),
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
			InitialDelaySeconds: 10, PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 1,
		},
	}
	d, err := b.deploy(deploySpec{
		name: "payments", replicas: 1, pod: corev1.PodSpec{Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			last := terminated(p.Name, "app", 8, 137, "Error", b.now.Add(-80*time.Second), b.now.Add(-20*time.Second))
			b.podStatus(p, corev1.PodRunning, b.now.Add(-32*time.Minute), nil, []corev1.ContainerStatus{
				running(p.Name, app, true, 9, b.now.Add(-15*time.Second), last),
			})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		start := b.now.Add(-80 * time.Second)
		b.logs(p.Name, "app", true, start,
			"payments 7.4.2 listening on :8080",
			"GET /healthz 200 1ms",
			"GET /healthz 200 1ms",
			"health check failed: ledger connection pool exhausted (0/20 available)",
			"GET /healthz 500 2ms",
			"GET /healthz 500 1ms",
			"GET /healthz 500 1ms",
			"received SIGTERM, shutting down")
		b.logs(p.Name, "app", false, b.now.Add(-15*time.Second), "payments 7.4.2 listening on :8080", "GET /healthz 200 1ms")
		if err := b.startedEvents(p, 32*time.Minute, 9); err != nil {
			return err
		}
		if err := b.podEvent(p, "app", corev1.EventTypeWarning, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", "kubelet", 27, 31*time.Minute, 25*time.Second); err != nil {
			return err
		}
		if err := b.podEvent(p, "app", corev1.EventTypeNormal, "Killing", "Container app failed liveness probe, will be restarted", "kubelet", 9, 31*time.Minute, 20*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// healthy builds a working application.
func (b *builder) healthy() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	if _, err := b.c.CoreV1().ConfigMaps(b.ns).Create(b.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-config"}, Data: map[string]string{"greeting": "hello"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	pvc, err := b.c.CoreV1().PersistentVolumeClaims(b.ns).Create(b.ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeName:  "pvc-" + suffix(b.ns+"/hello-data", 12),
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	pvc.Status = corev1.PersistentVolumeClaimStatus{
		Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
	}
	if _, err := b.c.CoreV1().PersistentVolumeClaims(b.ns).UpdateStatus(b.ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	hello := corev1.Container{
		Name: "hello", Image: "registry.example.com/demo/hello:1.0.0", Ports: httpPort(8080),
		Resources: resources("50m", "64Mi", "", "128Mi"),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/hello"}, {Name: "data", MountPath: "/data"}},
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{hello},
		Volumes: []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "hello-config"}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "hello-data"}}},
		},
	}
	d, err := b.deploy(deploySpec{
		name: "hello", replicas: 2, pod: spec, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-5*time.Hour), nil, []corev1.ContainerStatus{running(p.Name, hello, true, 0, b.now.Add(-5*time.Hour), nil)})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		if err := b.startedEvents(p, 5*time.Hour, 0); err != nil {
			return err
		}
		b.logs(p.Name, "hello", false, b.now.Add(-5*time.Hour), "hello 1.0.0 listening on :8080")
	}
	svc, err := b.service("hello", map[string]string{"app": "hello"}, 80, "http")
	if err != nil {
		return err
	}
	return b.endpointSlice(svc, 8080, d.pods)
}

// 101: the namespace's ResourceQuota has no room for the second replica. The quota
// admission of the real apiserver rejects it; its message is what the ReplicaSet
// controller records.
func (b *builder) quotaExceeded() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	app := corev1.Container{Name: "api", Image: "registry.example.com/batch/api:1.2.0", Ports: httpPort(8080), Resources: resources("1", "512Mi", "", "1Gi")}
	d, err := b.deploy(deploySpec{
		name: "batch-api", replicas: 2, podCount: 1, pod: corev1.PodSpec{Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-30*time.Minute), nil, []corev1.ContainerStatus{running(p.Name, app, true, 0, b.now.Add(-30*time.Minute), nil)})
		},
	})
	if err != nil {
		return err
	}
	q, err := b.c.CoreV1().ResourceQuotas(b.ns).Create(b.ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("10")}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// What the quota controller computes: this pod (1 CPU) plus others (500m).
	q.Status = corev1.ResourceQuotaStatus{
		Hard: q.Spec.Hard,
		Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("1500m"), corev1.ResourcePods: resource.MustParse("2")},
	}
	if _, err := b.c.CoreV1().ResourceQuotas(b.ns).UpdateStatus(b.ctx, q, metav1.UpdateOptions{}); err != nil {
		return err
	}
	second := d.pods[0].DeepCopy()
	second.ObjectMeta = metav1.ObjectMeta{
		GenerateName: d.rs.Name + "-", Namespace: b.ns, Labels: d.pods[0].Labels, OwnerReferences: d.pods[0].OwnerReferences,
	}
	second.Spec.NodeName = ""
	second.Status = corev1.PodStatus{}
	// The quota admission plugin reads quotas from an informer cache, which
	// sees the status written above a moment later: until then it admits the
	// pod, which is taken back and tried again (bounded).
	for attempt := 0; ; attempt++ {
		created, cerr := b.c.CoreV1().Pods(b.ns).Create(b.ctx, second, metav1.CreateOptions{})
		err = cerr
		if cerr != nil || attempt >= 50 {
			break
		}
		zero := int64(0)
		if derr := b.c.CoreV1().Pods(b.ns).Delete(b.ctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); derr != nil {
			return derr
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !apierrors.IsForbidden(err) {
		return fmt.Errorf("the quota admitted the second replica (err %v)", err)
	}
	reason := err.Error() // pods "batch-api-…" is forbidden: exceeded quota: compute, ...
	if err := b.writeWorkloadStatus(d, deploySpec{replicas: 2, rsFailure: reason}); err != nil {
		return err
	}
	return b.event(eventSpec{
		kind: "ReplicaSet", apiVersion: "apps/v1", name: d.rs.Name, namespace: b.ns, uid: d.rs.UID,
		typ: corev1.EventTypeWarning, reason: "FailedCreate", message: "Error creating: " + reason,
		component: "replicaset-controller", count: 9, first: 25 * time.Minute, last: 3 * time.Minute,
	})
}

// 102: the Service forwards to 9090; the pods listen on 8080.
func (b *builder) serviceTargetPort() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	app := corev1.Container{Name: "catalog", Image: "registry.example.com/shop/catalog:5.1.0", Ports: httpPort(8080)}
	d, err := b.deploy(deploySpec{
		name: "catalog", replicas: 2, pod: corev1.PodSpec{Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodRunning, b.now.Add(-time.Hour), nil, []corev1.ContainerStatus{running(p.Name, app, true, 0, b.now.Add(-time.Hour), nil)})
		},
	})
	if err != nil {
		return err
	}
	svc, err := b.service("catalog", map[string]string{"app": "catalog"}, 80, "9090")
	if err != nil {
		return err
	}
	return b.endpointSlice(svc, 9090, d.pods)
}

// 103: an init container waits forever for Service redis-master, which does not exist.
func (b *builder) initContainerWaits() error {
	node, err := b.node("node", nil)
	if err != nil {
		return err
	}
	initC := corev1.Container{Name: "wait-for-redis", Image: "busybox:1.36",
		Command: []string{"sh", "-c", "until nslookup redis-master; do echo waiting for redis-master; sleep 2; done"}}
	app := corev1.Container{Name: "worker", Image: "registry.example.com/jobs/worker:0.7.0"}
	d, err := b.deploy(deploySpec{
		name: "worker", replicas: 1, pod: corev1.PodSpec{InitContainers: []corev1.Container{initC}, Containers: []corev1.Container{app}}, node: onNode(node.Name),
		status: func(i int, p *corev1.Pod) {
			b.podStatus(p, corev1.PodPending, b.now.Add(-6*time.Minute),
				[]corev1.ContainerStatus{running(p.Name, initC, false, 0, b.now.Add(-6*time.Minute), nil)},
				[]corev1.ContainerStatus{waiting(app, "PodInitializing", "", 0, nil)})
		},
	})
	if err != nil {
		return err
	}
	for _, p := range d.pods {
		var lines []string
		for range 5 {
			lines = append(lines, "Server:\t\t10.96.0.10", "** server can't find redis-master.svc.cluster.local: NXDOMAIN", "waiting for redis-master")
		}
		b.logs(p.Name, "wait-for-redis", false, b.now.Add(-6*time.Minute), lines...)
	}
	return nil
}
