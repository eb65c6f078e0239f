package kube

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/kubectl/pkg/scheme"
)

// runGetter is the genericclioptions.RESTClientGetter of one run. kubectl's
// factory (cmdutil.NewFactory) is built over it, so every client a command
// creates goes through the run's transport chain (context binding, read-only
// guard, secret redaction), while discovery and the REST mapper are shared
// by all runs of the Runner.
type runGetter struct {
	e *runEnv
}

// ToRESTConfig returns a fresh copy of the run's REST config with the
// defaults kubectl's own getter applies (core/v1 group version, /api path,
// kubectl's scheme without conversion).
func (g *runGetter) ToRESTConfig() (*rest.Config, error) {
	cfg, err := g.e.restConfig()
	if err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	if err := setKubectlDefaults(c); err != nil {
		return nil, err
	}
	return c, nil
}

// setKubectlDefaults mirrors the defaults kubectl's MatchVersionFlags getter
// puts on every REST config it hands out; some commands rely on them
// (cluster-info reads GroupVersion, for one).
func setKubectlDefaults(c *rest.Config) error {
	c.GroupVersion = &schema.GroupVersion{Group: "", Version: "v1"}
	if c.APIPath == "" {
		c.APIPath = "/api"
	}
	if c.NegotiatedSerializer == nil {
		c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	}
	return rest.SetKubernetesDefaults(c)
}

// ToDiscoveryClient returns the Runner's shared, memory-cached discovery client.
func (g *runGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.e.r.disco, nil
}

// ToRESTMapper returns kubectl's short-name expanding mapper over the shared
// deferred mapper; its ambiguity warnings go to this run's stderr.
func (g *runGetter) ToRESTMapper() (meta.RESTMapper, error) {
	wp := printers.NewWarningPrinter(g.e.streams.ErrOut, printers.WarningPrinterOptions{})
	return restmapper.NewShortcutExpander(g.e.r.mapper, g.e.r.disco, wp.Print), nil
}

// ToRawKubeConfigLoader returns the run's clientcmd.ClientConfig.
func (g *runGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return &runClientConfig{e: g.e}
}

// runClientConfig answers the kubeconfig questions kubectl commands ask: the
// namespace (from -n, else the Runner's default) and the REST config.
type runClientConfig struct {
	e *runEnv
}

const kubeconfigName = "kubently"

// RawConfig returns a minimal kubeconfig describing the executor's cluster.
func (c *runClientConfig) RawConfig() (clientcmdapi.Config, error) {
	ns, _, _ := c.Namespace()
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.e.r.base.Host
	cfg.Clusters[kubeconfigName] = cluster
	cfg.AuthInfos[kubeconfigName] = clientcmdapi.NewAuthInfo()
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo, kctx.Namespace = kubeconfigName, kubeconfigName, ns
	cfg.Contexts[kubeconfigName] = kctx
	cfg.CurrentContext = kubeconfigName
	return *cfg, nil
}

// ClientConfig returns a copy of the run's REST config.
func (c *runClientConfig) ClientConfig() (*rest.Config, error) {
	cfg, err := c.e.restConfig()
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(cfg), nil
}

// Namespace returns the namespace of the run and whether it was given
// explicitly (-n/--namespace), like kubectl's kubeconfig loader.
func (c *runClientConfig) Namespace() (string, bool, error) {
	if ns := c.e.global.namespace; ns != "" {
		return ns, true, nil
	}
	return c.e.r.namespace, false, nil
}

// ConfigAccess returns a read-only view of RawConfig; no file is ever read
// or written.
func (c *runClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return &runConfigAccess{c: c}
}

type runConfigAccess struct{ c *runClientConfig }

func (a *runConfigAccess) GetLoadingPrecedence() []string { return nil }
func (a *runConfigAccess) GetStartingConfig() (*clientcmdapi.Config, error) {
	cfg, err := a.c.RawConfig()
	return &cfg, err
}
func (a *runConfigAccess) GetDefaultFilename() string { return "" }
func (a *runConfigAccess) IsExplicitFile() bool       { return false }
func (a *runConfigAccess) GetExplicitFile() string    { return "" }

// sharedDiscovery wraps the Runner's memory-cached discovery client with the
// freshness rules kubectl gets from its disk cache:
//
//   - Fresh reports false once the cache is older than minAge, so a "no
//     matches for kind" error makes kubectl's deferred REST mapper invalidate
//     and retry (a CRD installed after the cache was filled is found);
//   - Invalidate (called by `version` and `api-resources`) is honoured at
//     most once per minAge, so concurrent runs do not keep emptying the cache
//     under each other;
//   - the cache is dropped when it is older than ttl (see expire).
type sharedDiscovery struct {
	discovery.CachedDiscoveryInterface
	minAge, ttl time.Duration

	mu    sync.Mutex
	since time.Time
}

func newSharedDiscovery(c discovery.CachedDiscoveryInterface, minAge, ttl time.Duration) *sharedDiscovery {
	return &sharedDiscovery{CachedDiscoveryInterface: c, minAge: minAge, ttl: ttl, since: time.Now()}
}

// ServerGroupsAndResources returns the groups and their resources in
// discovery order, as kubectl's disk-cached client does. The memory cache's
// own answer is built from a map, so `get all` would list types, and short
// names would be resolved, in a different order on every call.
func (d *sharedDiscovery) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	// d does not implement the aggregated-discovery interface, so this takes
	// the ordered path over d's (cached) ServerGroups and per-version lists.
	return discovery.ServerGroupsAndResources(d)
}

// Fresh implements discovery.CachedDiscoveryInterface.
func (d *sharedDiscovery) Fresh() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Since(d.since) < d.minAge
}

// Invalidate implements discovery.CachedDiscoveryInterface.
func (d *sharedDiscovery) Invalidate() {
	d.invalidateOlderThan(d.minAge)
}

// expire drops the cache when it is older than ttl.
func (d *sharedDiscovery) expire() {
	d.invalidateOlderThan(d.ttl)
}

func (d *sharedDiscovery) invalidateOlderThan(age time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.since) < age {
		return
	}
	d.CachedDiscoveryInterface.Invalidate()
	d.since = time.Now()
}
