package k8stest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubently/kubently/internal/testpki"
)

// ResourceUsage is the CPU and memory a container or node uses, as metrics-server reports it.
type ResourceUsage struct {
	// CPUMilli is CPU usage in millicores.
	CPUMilli int64
	// MemoryBytes is the working-set memory in bytes.
	MemoryBytes int64
}

func (u ResourceUsage) resourceList() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(u.CPUMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(u.MemoryBytes, resource.BinarySI),
	}
}

const (
	metricsGroup   = "metrics.k8s.io"
	metricsVersion = "v1beta1"
	metricsGV      = metricsGroup + "/" + metricsVersion
	// metricsService is the Service (type ExternalName localhost) the APIService points at.
	metricsService   = "metrics-server"
	metricsNamespace = "kube-system"
	// metricsWindow is the sampling window reported with every sample.
	metricsWindow = 15 * time.Second
)

// Metrics is a stand-in for metrics-server: it serves metrics.k8s.io/v1beta1 NodeMetrics and
// PodMetrics, registered with the apiserver through an APIService, so `kubectl top` works.
// Like metrics-server it reports only objects that exist in the apiserver (copying their
// labels, honouring label and field selectors) and that have usage set here.
type Metrics struct {
	client kubernetes.Interface // admin client: the pods and nodes that exist
	srv    *http.Server
	port   int

	mu    sync.Mutex
	pods  map[types.NamespacedName]map[string]ResourceUsage
	nodes map[string]ResourceUsage
}

// startMetrics serves the metrics stand-in over TLS on a free loopback port.
func startMetrics(cert *testpki.Serving, client kubernetes.Interface) (*Metrics, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		client: client,
		port:   l.Addr().(*net.TCPAddr).Port,
		pods:   map[types.NamespacedName]map[string]ResourceUsage{},
		nodes:  map[string]ResourceUsage{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis", m.serveGroupList)
	mux.HandleFunc("GET /apis/"+metricsGroup, m.serveGroup)
	mux.HandleFunc("GET /apis/"+metricsGV, m.serveResourceList)
	mux.HandleFunc("GET /apis/"+metricsGV+"/nodes", m.serveNodes)
	mux.HandleFunc("GET /apis/"+metricsGV+"/nodes/{name}", m.serveNodes)
	mux.HandleFunc("GET /apis/"+metricsGV+"/pods", m.servePods)
	mux.HandleFunc("GET /apis/"+metricsGV+"/namespaces/{namespace}/pods", m.servePods)
	mux.HandleFunc("GET /apis/"+metricsGV+"/namespaces/{namespace}/pods/{name}", m.servePods)
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	}
	m.srv = &http.Server{Handler: mux, TLSConfig: cert.ServerTLSConfig(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.ServeTLS(l, "", "") }()
	return m, nil
}

// Port is the TCP port of the stand-in on 127.0.0.1.
func (m *Metrics) Port() int { return m.port }

func (m *Metrics) close() { _ = m.srv.Close() }

// SetPodMetrics sets the usage of a pod's containers (by container name); nil removes the pod's
// metrics. The pod must exist in the apiserver for the metrics to be served.
func (m *Metrics) SetPodMetrics(namespace, pod string, containers map[string]ResourceUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := types.NamespacedName{Namespace: namespace, Name: pod}
	if containers == nil {
		delete(m.pods, key)
		return
	}
	c := make(map[string]ResourceUsage, len(containers))
	for name, u := range containers {
		c[name] = u
	}
	m.pods[key] = c
}

// SetNodeMetrics sets the usage of a node. The node must exist in the apiserver for the
// metrics to be served.
func (m *Metrics) SetNodeMetrics(node string, usage ResourceUsage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[node] = usage
}

func (m *Metrics) podUsage(namespace, name string) (map[string]ResourceUsage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.pods[types.NamespacedName{Namespace: namespace, Name: name}]
	return c, ok
}

func (m *Metrics) nodeUsage(name string) (ResourceUsage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.nodes[name]
	return u, ok
}

// sample returns the timestamp and window of a sample taken now.
func sample() (metav1.Time, metav1.Duration) {
	return metav1.NewTime(time.Now().Truncate(time.Second)), metav1.Duration{Duration: metricsWindow}
}

func (m *Metrics) podMetrics(pod *corev1.Pod) (metricsv1beta1.PodMetrics, bool) {
	usage, ok := m.podUsage(pod.Namespace, pod.Name)
	if !ok {
		return metricsv1beta1.PodMetrics{}, false
	}
	ts, window := sample()
	pm := metricsv1beta1.PodMetrics{
		TypeMeta:   metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsGV},
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: pod.Labels, CreationTimestamp: ts},
		Timestamp:  ts,
		Window:     window,
		Containers: []metricsv1beta1.ContainerMetrics{},
	}
	names := make([]string, 0, len(usage))
	for name := range usage {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: name, Usage: usage[name].resourceList()})
	}
	return pm, true
}

func (m *Metrics) nodeMetrics(node *corev1.Node) (metricsv1beta1.NodeMetrics, bool) {
	usage, ok := m.nodeUsage(node.Name)
	if !ok {
		return metricsv1beta1.NodeMetrics{}, false
	}
	ts, window := sample()
	return metricsv1beta1.NodeMetrics{
		TypeMeta:   metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsGV},
		ObjectMeta: metav1.ObjectMeta{Name: node.Name, Labels: node.Labels, CreationTimestamp: ts},
		Timestamp:  ts,
		Window:     window,
		Usage:      usage.resourceList(),
	}, true
}

func (m *Metrics) servePods(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	pods := m.client.CoreV1().Pods(ns)
	if name != "" {
		pod, err := pods.Get(r.Context(), name, metav1.GetOptions{})
		if err == nil {
			if pm, ok := m.podMetrics(pod); ok {
				writeJSON(w, http.StatusOK, pm)
				return
			}
		}
		if err == nil || apierrors.IsNotFound(err) {
			err = apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "podmetrics"}, ns+"/"+name)
		}
		writeStatus(w, err)
		return
	}
	list, err := pods.List(r.Context(), selectors(r))
	if err != nil {
		writeStatus(w, err)
		return
	}
	out := metricsv1beta1.PodMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsGV},
		Items:    []metricsv1beta1.PodMetrics{},
	}
	for i := range list.Items {
		if pm, ok := m.podMetrics(&list.Items[i]); ok {
			out.Items = append(out.Items, pm)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (m *Metrics) serveNodes(w http.ResponseWriter, r *http.Request) {
	nodes := m.client.CoreV1().Nodes()
	if name := r.PathValue("name"); name != "" {
		node, err := nodes.Get(r.Context(), name, metav1.GetOptions{})
		if err == nil {
			if nm, ok := m.nodeMetrics(node); ok {
				writeJSON(w, http.StatusOK, nm)
				return
			}
		}
		if err == nil || apierrors.IsNotFound(err) {
			err = apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "nodemetrics"}, name)
		}
		writeStatus(w, err)
		return
	}
	list, err := nodes.List(r.Context(), selectors(r))
	if err != nil {
		writeStatus(w, err)
		return
	}
	out := metricsv1beta1.NodeMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsGV},
		Items:    []metricsv1beta1.NodeMetrics{},
	}
	for i := range list.Items {
		if nm, ok := m.nodeMetrics(&list.Items[i]); ok {
			out.Items = append(out.Items, nm)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// selectors passes the request's label and field selectors on to the apiserver list.
func selectors(r *http.Request) metav1.ListOptions {
	q := r.URL.Query()
	return metav1.ListOptions{LabelSelector: q.Get("labelSelector"), FieldSelector: q.Get("fieldSelector")}
}

func (m *Metrics) serveGroupList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{metricsAPIGroup()},
	})
}

func (m *Metrics) serveGroup(w http.ResponseWriter, _ *http.Request) {
	g := metricsAPIGroup()
	g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
	writeJSON(w, http.StatusOK, g)
}

func metricsAPIGroup() metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: metricsGV, Version: metricsVersion}
	return metav1.APIGroup{Name: metricsGroup, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

func (m *Metrics) serveResourceList(w http.ResponseWriter, _ *http.Request) {
	verbs := metav1.Verbs{"get", "list"}
	writeJSON(w, http.StatusOK, metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: metricsGV,
		APIResources: []metav1.APIResource{
			{Name: "nodes", SingularName: "", Namespaced: false, Kind: "NodeMetrics", Verbs: verbs},
			{Name: "pods", SingularName: "", Namespaced: true, Kind: "PodMetrics", Verbs: verbs},
		},
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers with err as a metav1.Status, the way API servers report errors.
func writeStatus(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		st = apierrors.NewInternalError(err)
	}
	status := st.Status()
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeJSON(w, int(status.Code), status)
}

// register makes the apiserver aggregate metrics.k8s.io/v1beta1 from this stand-in: a Service
// of type ExternalName "localhost" carrying the port, and an APIService whose caBundle is the
// control plane's CA (the aggregator verifies the name metrics-server.kube-system.svc). It
// returns once the APIService is Available and served in discovery.
func (m *Metrics) register(ctx context.Context, dyn dynamic.Interface, caPEM []byte) error {
	if err := ensureNamespace(ctx, m.client, metricsNamespace); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsService, Namespace: metricsNamespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports: []corev1.ServicePort{{
				Name: "https", Port: int32(m.port), Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(m.port)),
			}},
		},
	}
	if _, err := m.client.CoreV1().Services(metricsNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create metrics Service: %w", err)
	}
	apiServiceGVR := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": metricsVersion + "." + metricsGroup},
		"spec": map[string]any{
			"group":                metricsGroup,
			"version":              metricsVersion,
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM),
			"service": map[string]any{
				"namespace": metricsNamespace,
				"name":      metricsService,
				"port":      int64(m.port),
			},
		},
	}}
	apiServices := dyn.Resource(apiServiceGVR)
	if _, err := apiServices.Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create metrics APIService: %w", err)
	}
	var last string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := apiServices.Get(ctx, metricsVersion+"."+metricsGroup, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		available := false
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Available" {
				last = fmt.Sprintf("Available=%v: %v", cm["status"], cm["message"])
				available = cm["status"] == "True"
			}
		}
		if !available {
			return false, nil
		}
		if _, err := m.client.Discovery().ServerResourcesForGroupVersion(metricsGV); err != nil {
			last = "discovery: " + err.Error()
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("metrics APIService not available: %w (last: %s)", err, last)
	}
	return nil
}
