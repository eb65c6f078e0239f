// Command kubently-executor runs inside a Kubernetes cluster (or anywhere
// with a kubeconfig), dials OUT to the Kubently API and runs the commands it
// receives in-process, within the security mode its owner configured.
// Configuration: docs/configuration.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/execext"
	"github.com/kubently/kubently/internal/executor"
	"github.com/kubently/kubently/internal/kube"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/telemetry"
	"github.com/kubently/kubently/internal/version"
)

func main() {
	cfg, err := config.LoadExecutor(config.Source{Args: os.Args[1:]})
	if config.IsHelp(err) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubently-executor: configuration:", err)
		os.Exit(2)
	}
	log := telemetry.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown (in-flight commands get a
	// grace period); a second one ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("kubently-executor failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config.Executor, log *slog.Logger) error {
	rc, ns, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	pol, err := buildPolicy(cfg, ns)
	if err != nil {
		return err
	}
	runner, err := kube.NewRunner(kube.Options{
		Config:         rc,
		Namespace:      ns,
		ReadOnly:       pol.Mode != policy.FullAccess,
		AllowExec:      pol.Mode == policy.ExtendedReadOnly,
		MaxOutputBytes: cfg.MaxOutputBytes,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	client, err := runner.Clientset()
	if err != nil {
		return err
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kv, err := runner.ServerVersion(vctx)
	cancel()
	if err != nil {
		log.Warn("could not read the Kubernetes version; continuing", "err", err)
		kv = "unknown"
	}
	ex, err := executor.New(executor.Config{
		APIURL: cfg.APIURL, ClusterID: cfg.ClusterID, Token: cfg.Token, CAFile: cfg.CAFile, InsecureSkipVerify: cfg.InsecureSkipVerify,
		Policy: pol, Concurrency: cfg.Concurrency, Version: version.String(), KubernetesVersion: kv, IdleTimeout: cfg.IdleTimeout,
	}, kubeRunner{r: runner, client: client}, log)
	if err != nil {
		return err
	}
	log.Info("kubently-executor starting", "cluster", cfg.ClusterID, "api", cfg.APIURL, "mode", pol.Mode, "kubernetes", kv, "executor", ex.ID())
	return ex.Run(ctx)
}

// buildPolicy turns the configuration into the authoritative policy.
// defaultNamespace is where the runner sends commands without -n, so that
// namespace rules judge them by the namespace they really act in. A policy
// that cannot be applied is a startup error, not a silent refusal of
// every command.
func buildPolicy(cfg *config.Executor, defaultNamespace string) (policy.Policy, error) {
	mode, err := policy.ParseMode(cfg.SecurityMode)
	if err != nil {
		return policy.Policy{}, err
	}
	if mode == policy.FullAccess && !cfg.AllowFullAccess {
		return policy.Policy{}, errors.New("securityMode fullAccess lets clients change the cluster; start with --allow-full-access (KUBENTLY_ALLOW_FULL_ACCESS=true) to confirm")
	}
	conv := func(rs []config.Rule) []policy.Rule {
		var out []policy.Rule
		for _, r := range rs {
			out = append(out, policy.Rule{Verbs: r.Verbs, Resources: r.Resources, Namespaces: r.Namespaces})
		}
		return out
	}
	pol := policy.Policy{Mode: mode, Allow: conv(cfg.Rules.Allow), Deny: conv(cfg.Rules.Deny), DefaultNamespace: defaultNamespace}
	if err := pol.Validate(); err != nil {
		return policy.Policy{}, fmt.Errorf("security policy: %w", err)
	}
	return pol, nil
}

// restConfig uses the kubeconfig when given, else the in-cluster
// ServiceAccount, else the default kubeconfig locations.
func restConfig(kubeconfig string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	} else if rc, err := rest.InClusterConfig(); err == nil {
		ns := "default"
		if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
			ns = string(b)
		}
		return rc, ns, nil
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no Kubernetes credentials: not in a cluster and no usable kubeconfig: %w", err)
	}
	ns, _, _ := cc.Namespace()
	return rc, ns, nil
}

// kubeRunner adapts the in-process kubectl, and the executor's extension
// commands (kubently triage|logsearch), to the executor's Runner.
type kubeRunner struct {
	r      *kube.Runner
	client kubernetes.Interface
}

func (k kubeRunner) Run(ctx context.Context, argv []string) executor.RunResult {
	if execext.Handles(argv) {
		res := execext.Run(ctx, k.client, argv)
		return executor.RunResult{Output: res.Output, Error: res.Error, ExitCode: res.ExitCode}
	}
	res := k.r.Run(ctx, argv)
	return executor.RunResult{Output: res.Output, Error: res.Error, ExitCode: res.ExitCode, Truncated: res.Truncated}
}
