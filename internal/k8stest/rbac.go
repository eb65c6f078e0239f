package k8stest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

const (
	// ExecutorNamespace is the namespace of the executor's ServiceAccount in
	// deploy/rbac/executor-readonly.yaml.
	ExecutorNamespace = "kubently"
	// ExecutorServiceAccount is the executor's ServiceAccount in deploy/rbac/executor-readonly.yaml.
	ExecutorServiceAccount = "kubently-executor"
	// rbacManifest is the product's read-only executor RBAC, relative to the module root.
	rbacManifest = "deploy/rbac/executor-readonly.yaml"
)

// ReadOnlyServiceAccount applies deploy/rbac/executor-readonly.yaml (once per control plane):
// namespace "kubently", ServiceAccount "kubently-executor" and its read-only ClusterRole and
// binding. It mints a real ServiceAccount token through the TokenRequest API and returns a
// kubeconfig file and a rest.Config that authenticate with it, exactly what the executor
// has in a cluster. It returns once RBAC lets the token list pods.
func (cp *ControlPlane) ReadOnlyServiceAccount(ctx context.Context) (kubeconfigPath string, cfg *rest.Config, err error) {
	cp.saMu.Lock()
	defer cp.saMu.Unlock()
	if cp.saConfig != nil {
		return cp.saKubeconfig, rest.CopyConfig(cp.saConfig), nil
	}
	manifest, err := rbacManifestPath()
	if err != nil {
		return "", nil, err
	}
	if err := ensureNamespace(ctx, cp.admin, ExecutorNamespace); err != nil {
		return "", nil, err
	}
	if err := applyManifest(ctx, cp.admin, manifest); err != nil {
		return "", nil, err
	}
	tr, err := cp.admin.CoreV1().ServiceAccounts(ExecutorNamespace).CreateToken(ctx, ExecutorServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(24 * 3600))}},
		metav1.CreateOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("k8stest: TokenRequest for %s/%s: %w", ExecutorNamespace, ExecutorServiceAccount, err)
	}
	cfg = cp.tokenConfig(tr.Status.Token)
	if err := waitForRBAC(ctx, cfg); err != nil {
		return "", nil, err
	}
	path := filepath.Join(cp.dir, "executor.kubeconfig")
	if err := writeKubeconfig(path, cfg, "system:serviceaccount:"+ExecutorNamespace+":"+ExecutorServiceAccount); err != nil {
		return "", nil, err
	}
	cp.saKubeconfig, cp.saConfig = path, cfg
	return path, rest.CopyConfig(cfg), nil
}

// waitForRBAC waits until the authorizer's caches contain the new binding: the token may list
// pods in all namespaces.
func waitForRBAC(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods"}},
		}, metav1.CreateOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = r.Status.Reason
		return r.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("k8stest: executor RBAC not effective: %w (last: %s)", err, last)
	}
	return nil
}

// rbacManifestPath finds deploy/rbac/executor-readonly.yaml: first above the working
// directory (go test runs in the package directory), then relative to this source file.
func rbacManifestPath() (string, error) {
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, rbacManifest)
			tried = append(tried, p)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil || filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		p := filepath.Join(filepath.Dir(file), "..", "..", rbacManifest)
		tried = append(tried, p)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("k8stest: %s not found (tried %v)", rbacManifest, tried)
}

// applyManifest creates every object of a multi-document YAML file with the admin client;
// objects that already exist are left alone. It knows the kinds an RBAC manifest holds.
func applyManifest(ctx context.Context, admin kubernetes.Interface, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	decode := scheme.Codecs.UniversalDeserializer().Decode
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("k8stest: read %s: %w", path, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("k8stest: decode %s: %w", path, err)
		}
		if err := createObject(ctx, admin, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("k8stest: create %s from %s: %w", gvk.Kind, path, err)
		}
	}
}

func createObject(ctx context.Context, admin kubernetes.Interface, obj any) error {
	opts := metav1.CreateOptions{}
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = admin.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		_, err = admin.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = admin.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	case *rbacv1.Role:
		_, err = admin.RbacV1().Roles(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.RoleBinding:
		_, err = admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, opts)
	default:
		err = fmt.Errorf("unsupported object %T", obj)
	}
	return err
}

// stripComments drops YAML comment lines, so a document of only comments counts as empty.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(ctx context.Context, admin kubernetes.Interface, name string) error {
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("k8stest: create namespace %s: %w", name, err)
	}
	return nil
}
