package k8stest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubently/kubently/internal/testpki"
)

const (
	// EnvTestBins names the directory holding the kube-apiserver, etcd and kubectl binaries
	// built by hack/k8s-testbins/build.sh.
	EnvTestBins = "KUBENTLY_TESTBINS"
	// EnvRequired, when "1", makes a missing control plane fail the test binary instead of
	// skipping its tests (CI sets it).
	EnvRequired = "K8S_TEST_REQUIRED"
	// KubernetesVersion is the version of the control plane and kubectl binaries.
	KubernetesVersion = "v1.37.2"

	adminUser   = "kubently-test-admin"
	startupWait = 3 * time.Minute
)

// ControlPlane is a running etcd + kube-apiserver pair with the kubelet and metrics-server
// stand-ins. Create it with Start (or RunMain) and release it with Stop. It is safe for
// concurrent use by parallel tests.
type ControlPlane struct {
	dir        string // temp dir: PKI, etcd data, logs, kubeconfigs; removed by Stop
	bins       string
	ca         *testpki.CA
	url        string
	adminToken string

	etcd, apiserver *process
	adminConfig     *rest.Config
	admin           kubernetes.Interface
	adminKubeconfig string
	kubelet         *Kubelet
	metrics         *Metrics

	saMu         sync.Mutex
	saKubeconfig string
	saConfig     *rest.Config

	stopOnce sync.Once
}

// ErrNoBinaries reports that the control-plane binaries are not available, so the caller
// can skip (or, with K8S_TEST_REQUIRED=1, fail).
var ErrNoBinaries = errors.New("k8stest: control-plane binaries not available")

// BinDir returns the directory named by KUBENTLY_TESTBINS after checking that it holds
// executable kube-apiserver, etcd and kubectl binaries. The error wraps ErrNoBinaries.
func BinDir() (string, error) {
	dir := os.Getenv(EnvTestBins)
	if dir == "" {
		return "", fmt.Errorf("%w: %s is not set (build them with hack/k8s-testbins/build.sh and set %s to the directory it prints)", ErrNoBinaries, EnvTestBins, EnvTestBins)
	}
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: no executable %s in %s=%s (run hack/k8s-testbins/build.sh)", ErrNoBinaries, name, EnvTestBins, dir)
		}
	}
	return dir, nil
}

// RunMain is for TestMain: it starts a control plane, calls setup (which may be nil) with it,
// runs the tests and stops everything, returning the exit code for os.Exit. Without the
// binaries it prints why and skips all tests of the package (exit 0), unless
// K8S_TEST_REQUIRED=1, where it fails (exit 1). SIGINT and SIGTERM stop the control plane
// before the test binary exits.
func RunMain(m *testing.M, setup func(cp *ControlPlane) error) int {
	if _, err := BinDir(); err != nil {
		if os.Getenv(EnvRequired) == "1" {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n(%s=1 requires the Kubernetes test control plane)\n", err, EnvRequired)
			return 1
		}
		fmt.Fprintf(os.Stderr, "SKIP: all tests of this package: %v\n", err)
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupWait)
	cp, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start Kubernetes test control plane: %v\n", err)
		return 1
	}
	defer cp.Stop()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer func() { signal.Stop(sigs); close(sigs) }()
	go func() {
		if s, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "k8stest: %v: stopping the control plane\n", s)
			cp.Stop()
			os.Exit(1)
		}
	}()

	if setup != nil {
		if err := setup(cp); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: k8stest setup: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// Start starts etcd, kube-apiserver and the stand-ins, and returns once the apiserver is ready
// and metrics.k8s.io is served. ctx bounds the startup only (3 minutes when it has no
// deadline). Call Stop when done.
func Start(ctx context.Context) (*ControlPlane, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startupWait)
		defer cancel()
	}
	bins, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "k8stest-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{dir: dir, bins: bins, adminToken: randomToken()}
	ok := false
	defer func() {
		if !ok {
			cp.Stop()
		}
	}()
	if err := cp.writePKI(); err != nil {
		return nil, fmt.Errorf("k8stest: PKI: %w", err)
	}
	if err := cp.writeAuditPolicy(); err != nil {
		return nil, fmt.Errorf("k8stest: audit policy: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := cp.startProcesses(ctx, attempt)
		if err == nil {
			break
		}
		if attempt < 3 && portConflict(err) {
			continue
		}
		return nil, err
	}

	cp.adminConfig = cp.tokenConfig(cp.adminToken)
	if cp.admin, err = kubernetes.NewForConfig(cp.adminConfig); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cp.adminConfig)
	if err != nil {
		return nil, err
	}
	cp.adminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(cp.adminKubeconfig, cp.adminConfig, adminUser); err != nil {
		return nil, err
	}

	standIn, err := cp.ca.IssueServing("kubently-k8stest-standin",
		[]string{"localhost", metricsService + "." + metricsNamespace + ".svc"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	if cp.kubelet, err = startKubelet(standIn, cp.admin); err != nil {
		return nil, err
	}
	if cp.metrics, err = startMetrics(standIn, cp.admin); err != nil {
		return nil, err
	}
	if err := cp.metrics.register(ctx, dyn, cp.ca.CertPEM); err != nil {
		return nil, fmt.Errorf("k8stest: %w\n--- end of kube-apiserver output ---\n%s", err, cp.apiserver.logTail())
	}
	ok = true
	return cp, nil
}

// writePKI writes the CA, the apiserver serving certificate, the ServiceAccount signing key
// and the static token file into the temp dir.
func (cp *ControlPlane) writePKI() error {
	var err error
	if cp.ca, err = testpki.NewCA("kubently-k8stest-ca"); err != nil {
		return err
	}
	serving, err := cp.ca.IssueServing("kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)})
	if err != nil {
		return err
	}
	saPriv, saPub, err := newServiceAccountKey()
	if err != nil {
		return err
	}
	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", cp.adminToken, adminUser, adminUser)
	for name, data := range map[string][]byte{
		"ca.crt": cp.ca.CertPEM, "apiserver.crt": serving.CertPEM, "apiserver.key": serving.KeyPEM,
		"sa.key": saPriv, "sa.pub": saPub, "tokens.csv": []byte(tokens),
	} {
		if err := os.WriteFile(cp.path(name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.dir, name) }

// startProcesses starts etcd and kube-apiserver on fresh ports and waits until both are
// ready. On failure it stops whatever it started.
func (cp *ControlPlane) startProcesses(ctx context.Context, attempt int) (err error) {
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	defer func() {
		if err != nil {
			cp.apiserver.stop()
			cp.etcd.stop()
			cp.apiserver, cp.etcd = nil, nil
		}
	}()

	suffix := strconv.Itoa(attempt)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	cp.etcd, err = startProcess("etcd", filepath.Join(cp.bins, "etcd"), []string{
		"--name=k8stest",
		"--data-dir=" + cp.path("etcd-data-"+suffix),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=k8stest=" + peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, cp.path("etcd-"+suffix+".log"))
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := cp.etcd.waitReady(ctx, func(ctx context.Context) error {
		return httpGetOK(ctx, plain, clientURL+"/health", "", []byte(`"health":"true"`))
	}); err != nil {
		return err
	}

	cp.url = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	cp.apiserver, err = startProcess("kube-apiserver", filepath.Join(cp.bins, "kube-apiserver"), []string{
		"--etcd-servers=" + clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + cp.path("apiserver.crt"),
		"--tls-private-key-file=" + cp.path("apiserver.key"),
		"--client-ca-file=" + cp.path("ca.crt"),
		"--token-auth-file=" + cp.path("tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.path("sa.pub"),
		"--service-account-signing-key-file=" + cp.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + cp.path("apiserver-certs"),
		"--audit-policy-file=" + cp.path("audit-policy.yaml"),
		"--audit-log-path=" + cp.AuditLogPath(),
		"--audit-log-maxsize=0",
	}, cp.path("kube-apiserver-"+suffix+".log"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.ca.CertPEM)
	secure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer secure.CloseIdleConnections()
	return cp.apiserver.waitReady(ctx, func(ctx context.Context) error {
		return httpGetOK(ctx, secure, cp.url+"/readyz", cp.adminToken, nil)
	})
}

// httpGetOK succeeds when GET url answers 200 and the body contains want.
func httpGetOK(ctx context.Context, c *http.Client, url, token string, want []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body.Bytes(), want) {
		return fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, body.String())
	}
	return nil
}

// Stop stops the apiserver, etcd and the stand-ins and removes the temp dir. It is safe to
// call more than once and from several goroutines.
func (cp *ControlPlane) Stop() {
	cp.stopOnce.Do(func() {
		cp.apiserver.stop()
		cp.etcd.stop()
		if cp.kubelet != nil {
			cp.kubelet.close()
		}
		if cp.metrics != nil {
			cp.metrics.close()
		}
		if cp.dir != "" {
			_ = os.RemoveAll(cp.dir)
		}
	})
}

// URL is the apiserver's base URL, https://127.0.0.1:<port>.
func (cp *ControlPlane) URL() string { return cp.url }

// CAData is the PEM CA certificate that signed the apiserver's serving certificate.
func (cp *ControlPlane) CAData() []byte { return bytes.Clone(cp.ca.CertPEM) }

// AdminConfig returns a new rest.Config for a cluster-admin (static token, group
// system:masters).
func (cp *ControlPlane) AdminConfig() *rest.Config { return rest.CopyConfig(cp.adminConfig) }

// AdminClient returns a cluster-admin clientset, for fixtures.
func (cp *ControlPlane) AdminClient() kubernetes.Interface { return cp.admin }

// AdminKubeconfig returns the path of a kubeconfig file for the cluster-admin.
func (cp *ControlPlane) AdminKubeconfig() string { return cp.adminKubeconfig }

// KubectlPath returns the path of the kubectl binary matching the control plane's version.
func (cp *ControlPlane) KubectlPath() string { return filepath.Join(cp.bins, "kubectl") }

// Kubelet returns the kubelet stand-in that serves pod logs.
func (cp *ControlPlane) Kubelet() *Kubelet { return cp.kubelet }

// Metrics returns the metrics-server stand-in that serves metrics.k8s.io.
func (cp *ControlPlane) Metrics() *Metrics { return cp.metrics }

// Kubectl runs the control plane's kubectl binary with --kubeconfig=kubeconfig and args, with
// a discovery cache private to this control plane, and returns its stdout and stderr. err is
// non-nil when kubectl exits non-zero (an *exec.ExitError).
func (cp *ControlPlane) Kubectl(ctx context.Context, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, cp.KubectlPath(), append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Env = append(childEnv(), "KUBECACHEDIR="+cp.path("kubectl-cache"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// tokenConfig returns a rest.Config for the apiserver with a bearer token.
func (cp *ControlPlane) tokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            cp.url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: bytes.Clone(cp.ca.CertPEM)},
		QPS:             200,
		Burst:           400,
	}
}

// writeKubeconfig writes a single-context kubeconfig for a token rest.Config.
func writeKubeconfig(path string, cfg *rest.Config, user string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["k8stest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["k8stest"] = &clientcmdapi.Context{Cluster: "k8stest", AuthInfo: user, Namespace: "default"}
	kc.CurrentContext = "k8stest"
	return clientcmd.WriteToFile(*kc, path)
}

var nonNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// NewNamespace creates a namespace with a unique name derived from the test's name and
// returns the name. The namespace is deleted when the test ends; without a namespace
// controller it stays Terminating, which keeps new objects out of it.
func (cp *ControlPlane) NewNamespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	name := fmt.Sprintf("t-%s-%s", base, rand.Text()[:6])
	name = strings.ToLower(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cp.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("k8stest: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cp.admin.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return name
}

// Node creates (or, if it exists, updates) a Ready node with the given labels whose only
// address is InternalIP 127.0.0.1 and whose kubelet port is the kubelet stand-in's, so the
// apiserver proxies pods/log of pods with spec.nodeName=name to the stand-in. Like a healthy
// kubelet's node it has no not-ready taint and a fresh Lease in kube-node-lease; it reports
// 4 CPUs, 16Gi memory and 110 pods of capacity. Calling Node again renews it.
func (cp *ControlPlane) Node(ctx context.Context, name string, labels map[string]string) (*corev1.Node, error) {
	all := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
	}
	for k, v := range labels {
		all[k] = v
	}
	nodes := cp.admin.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if node, err = nodes.Get(ctx, name, metav1.GetOptions{}); err == nil {
			for k, v := range all {
				if node.Labels == nil {
					node.Labels = map[string]string{}
				}
				node.Labels[k] = v
			}
			node, err = nodes.Update(ctx, node, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("k8stest: node %s: %w", name, err)
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(cp.kubelet.Port())}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: KubernetesVersion, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "containerd://2.1.0", OSImage: "Debian GNU/Linux 13 (trixie)", KernelVersion: "6.12.0",
		},
	}
	if node, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("k8stest: node %s status: %w", name, err)
	}
	// Admission taints new nodes not-ready; the node lifecycle controller would lift it.
	var taints []corev1.Taint
	for _, taint := range node.Spec.Taints {
		if taint.Key != corev1.TaintNodeNotReady {
			taints = append(taints, taint)
		}
	}
	if len(taints) != len(node.Spec.Taints) {
		node.Spec.Taints = taints
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("k8stest: node %s taints: %w", name, err)
		}
	}
	if err := cp.nodeLease(ctx, node); err != nil {
		return nil, err
	}
	return node, nil
}

// nodeLease creates or renews the node's heartbeat Lease in kube-node-lease, as a kubelet does.
func (cp *ControlPlane) nodeLease(ctx context.Context, node *corev1.Node) error {
	const ns = corev1.NamespaceNodeLease
	if err := ensureNamespace(ctx, cp.admin, ns); err != nil {
		return err
	}
	leases := cp.admin.CoordinationV1().Leases(ns)
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{HolderIdentity: &node.Name, LeaseDurationSeconds: ptrTo(int32(40)), RenewTime: &now}
	lease, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: node.Name, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
			}}},
			Spec: spec,
		}, metav1.CreateOptions{})
	case err == nil:
		lease.Spec = spec
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("k8stest: node %s lease: %w", node.Name, err)
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
