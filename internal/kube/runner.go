package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Options configures a Runner.
type Options struct {
	// Config holds the executor's credentials (in-cluster ServiceAccount or
	// KUBECONFIG). Required. It is copied; later changes have no effect.
	Config *rest.Config
	// Namespace is the default namespace when -n is absent (the kubeconfig
	// or in-cluster namespace); "default" when empty.
	Namespace string
	// ReadOnly is defence in depth behind the policy: mutating commands are
	// refused before they start, and the transport refuses every request
	// that is not GET/HEAD/OPTIONS (except POSTs of SelfSubjectAccessReview
	// and SelfSubjectRulesReview, which `auth can-i` needs), as well as the
	// exec/attach/portforward/proxy subresources whatever their verb.
	ReadOnly bool
	// AllowExec lets `exec` (and the pods/exec subresource) through when
	// ReadOnly is set: the extendedReadOnly security mode.
	AllowExec bool
	// MaxOutputBytes caps Result.Output and Result.Error (each); 0 means
	// DefaultMaxOutputBytes. Output beyond the cap is dropped and the kept
	// text ends with "\n[output truncated by kubently: limit N bytes]\n".
	MaxOutputBytes int
	// Logger receives the kubectl libraries' klog output. Nil means
	// slog.Default(). klog is process-global: the first Runner decides.
	Logger *slog.Logger
	// DiscoveryTTL is how long the shared discovery cache (API groups,
	// resources, OpenAPI) is kept before it is refetched; 0 means 10 minutes.
	DiscoveryTTL time.Duration
}

// Result is what a command printed and how it ended, as the kubectl binary
// would have reported it.
type Result struct {
	// Output is what kubectl prints on stdout.
	Output string
	// Error is what kubectl prints on stderr: error messages ("Error from
	// server (NotFound): ..."), warnings and notes such as "No resources
	// found in default namespace.", which come with ExitCode 0.
	Error string
	// ExitCode is kubectl's exit status (0 success, 1 for errors, or the
	// remote process's status for exec).
	ExitCode int
	// Truncated reports that Output or Error was cut at MaxOutputBytes.
	Truncated bool
}

// discoveryMinAge is the minimum age before the shared discovery cache may
// be invalidated again (by a NoMatch retry or `api-resources`): a resource
// type created less than this after the last refresh is found on the next
// command, and concurrent runs cannot make the cache refetch more often.
const discoveryMinAge = time.Second

// cancelGrace is how long Run waits, after its context ended, for the
// cancelled command to return so its last output and error are included.
const cancelGrace = 2 * time.Second

// Runner runs kubectl commands in-process. It is safe for concurrent use:
// every Run builds its own command tree, options, factory, output buffers
// and REST config; only the discovery cache and REST mapper are shared.
type Runner struct {
	base      *rest.Config
	namespace string
	guard     guardPolicy
	maxOutput int
	logger    *slog.Logger

	disco  *sharedDiscovery
	mapper *restmapper.DeferredDiscoveryRESTMapper

	// skipVerbGate disables the up-front refusal of mutating commands in
	// read-only mode, so tests can prove that the transport refuses them too.
	skipVerbGate bool
}

// NewRunner validates opts and builds a Runner. It also installs the
// process-wide hooks the kubectl libraries need inside a server (klog into
// slog, no os.Exit on fatal errors); see installProcessHooks.
func NewRunner(opts Options) (*Runner, error) {
	if opts.Config == nil {
		return nil, errors.New("kube: Options.Config is required")
	}
	if opts.Config.Host == "" {
		return nil, errors.New("kube: Options.Config.Host is empty")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	installProcessHooks(logger)

	base := rest.CopyConfig(opts.Config)
	if base.UserAgent == "" {
		base.UserAgent = "kubently-executor/" + libraryVersion().GitVersion + " (in-process kubectl)"
	}
	r := &Runner{
		base:      base,
		namespace: opts.Namespace,
		guard:     guardPolicy{readOnly: opts.ReadOnly, allowExec: opts.AllowExec},
		maxOutput: opts.MaxOutputBytes,
		logger:    logger,
	}
	if r.namespace == "" {
		r.namespace = "default"
	}
	if r.maxOutput <= 0 {
		r.maxOutput = DefaultMaxOutputBytes
	}
	ttl := opts.DiscoveryTTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}

	// Discovery is shared by all runs, so it is not tied to one run's
	// context; it gets its own timeout instead. QPS/burst follow kubectl.
	dcfg := rest.CopyConfig(base)
	dcfg.QPS, dcfg.Burst = 50, 300
	if dcfg.Timeout == 0 {
		dcfg.Timeout = 60 * time.Second
	}
	dcfg.WarningHandler, dcfg.WarningHandlerWithContext = rest.NoWarnings{}, nil
	r.wrapTransport(dcfg)
	dc, err := discovery.NewDiscoveryClientForConfig(dcfg)
	if err != nil {
		return nil, fmt.Errorf("kube: discovery client: %w", err)
	}
	r.disco = newSharedDiscovery(memory.NewMemCacheClient(dc), discoveryMinAge, ttl)
	r.mapper = restmapper.NewDeferredDiscoveryRESTMapper(r.disco)
	return r, nil
}

// wrapTransport adds the Runner's own round trippers to cfg: secret
// redaction nearest the network, the read-only guard in front of it.
func (r *Runner) wrapTransport(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &redactTransport{next: rt} })
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &guardTransport{policy: r.guard, next: rt} })
}

// Clientset returns a typed client over the Runner's credentials with the
// same secret redaction and read-only guard as every command, for the
// executor's own extension commands (package execext).
func (r *Runner) Clientset() (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(r.base)
	r.wrapTransport(cfg)
	return kubernetes.NewForConfig(cfg)
}

// ServerVersion returns the API server's gitVersion, e.g. "v1.37.2".
func (r *Runner) ServerVersion(ctx context.Context) (string, error) {
	info, err := r.serverVersion(ctx)
	if err != nil {
		return "", err
	}
	return info.GitVersion, nil
}

func (r *Runner) serverVersion(ctx context.Context) (*apimachineryversion.Info, error) {
	body, err := r.disco.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var info apimachineryversion.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("unable to parse the server version: %w", err)
	}
	return &info, nil
}

// Run executes argv (verb first, e.g. ["get", "pods", "-A"]) in-process and
// returns what kubectl would have printed and its exit code. ctx carries the
// command's deadline: when it ends, every request of the command is
// cancelled and Run returns what was printed so far with ExitCode 1.
func (r *Runner) Run(ctx context.Context, argv []string) Result {
	stdout, stderr := newCapWriter(r.maxOutput), newCapWriter(r.maxOutput)
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(stderr, "error: kubently: the command was not started: %v\n", context.Cause(ctx))
		return r.result(stdout, stderr, exitCodeDefault)
	}
	r.disco.expire()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(errors.New("kubently: command finished"))
	e := newRunEnv(r, runCtx, stdout, stderr)

	done := make(chan int, 1)
	go func() { done <- e.execute(argv) }()
	select {
	case code := <-done:
		return r.result(stdout, stderr, code)
	case <-ctx.Done():
	}
	select {
	case code := <-done: // finished just as ctx ended: its own result stands
		return r.result(stdout, stderr, code)
	default:
	}
	cause := context.Cause(ctx)
	cancel(cause)
	select {
	case <-done:
	case <-time.After(cancelGrace):
		r.logger.Warn("kubectl command still running after cancellation", "argv", argv)
	}
	fmt.Fprintf(stderr, "error: kubently: the command was stopped: %v\n", cause)
	return r.result(stdout, stderr, exitCodeDefault)
}

func (r *Runner) result(stdout, stderr *capWriter, code int) Result {
	out, t1 := stdout.String()
	errText, t2 := stderr.String()
	return Result{Output: out, Error: errText, ExitCode: code, Truncated: t1 || t2}
}

// runEnv is the state of one Run: streams, flags, factory and REST config.
type runEnv struct {
	r        *Runner
	ctx      context.Context
	streams  genericiooptions.IOStreams
	global   globalFlags
	getter   *runGetter
	factory  cmdutil.Factory
	warnings interface {
		rest.WarningHandler
		WarningCount() int
	}

	cfgOnce sync.Once
	cfg     *rest.Config
	cfgErr  error
}

func newRunEnv(r *Runner, ctx context.Context, stdout, stderr *capWriter) *runEnv {
	e := &runEnv{
		r:   r,
		ctx: ctx,
		streams: genericiooptions.IOStreams{
			In:     strings.NewReader(""),
			Out:    stdout,
			ErrOut: stderr,
		},
	}
	e.warnings = rest.NewWarningWriter(stderr, rest.WarningWriterOptions{Deduplicate: true})
	e.getter = &runGetter{e: e}
	e.factory = cmdutil.NewFactory(e.getter)
	return e
}

// restConfig builds the run's REST config once (after flag parsing, so
// --request-timeout applies): the Runner's config, this run's warning
// handler, and the transport chain context -> guard -> redaction.
func (e *runEnv) restConfig() (*rest.Config, error) {
	e.cfgOnce.Do(func() {
		timeout, err := e.global.timeout()
		if err != nil {
			e.cfgErr = err
			return
		}
		c := rest.CopyConfig(e.r.base)
		if timeout > 0 {
			c.Timeout = timeout
		}
		c.WarningHandler, c.WarningHandlerWithContext = e.warnings, nil
		e.r.wrapTransport(c)
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &contextTransport{ctx: e.ctx, next: rt} })
		e.cfg = c
	})
	return e.cfg, e.cfgErr
}

// execute parses argv against the command tree and runs the command,
// writing kubectl's stdout/stderr to the run's streams; it returns the exit
// code. Panics (including the trapped CheckErr/klog.Fatal exits) end here.
func (e *runEnv) execute(argv []string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			msg, c, internal := panicResult(p)
			if internal {
				e.r.logger.Error("panic in in-process kubectl", "argv", argv, "panic", p, "stack", string(debug.Stack()))
			}
			fmt.Fprint(e.streams.ErrOut, withNewline(msg))
			code = c
		}
	}()
	if len(argv) == 0 {
		return e.fail(fmt.Errorf("kubently: no command given; supported commands: %s", supportedSummary(e.r.guard.readOnly)))
	}
	root := e.buildRoot(argv[0])
	cmd, args, err := root.Find(argv)
	if err != nil || cmd == root {
		return e.fail(fmt.Errorf("kubently: %q is not a supported kubectl command; supported commands: %s", argv[0], supportedSummary(e.r.guard.readOnly)))
	}
	if cmd.RunE == nil {
		return e.fail(fmt.Errorf("kubently: %q needs a subcommand; supported: %s", cmd.CommandPath(), subcommandList(cmd)))
	}
	if err := e.gate(cmd); err != nil {
		return e.fail(err)
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(args); err != nil {
		return e.fail(cmd.FlagErrorFunc()(cmd, err))
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return e.fail(fmt.Errorf("kubently: --help is not available in-process; see https://kubernetes.io/docs/reference/kubectl/generated/kubectl_%s/", strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), cliName+" "), " ", "_")))
	}
	if err := e.global.check(cmd); err != nil {
		return e.fail(err)
	}
	if err := checkLocalFiles(cmd); err != nil {
		return e.fail(err)
	}
	if _, err := e.restConfig(); err != nil {
		return e.fail(err)
	}
	e.boundWaits(cmd)
	positional := cmd.Flags().Args()
	if err := cmd.ValidateArgs(positional); err != nil {
		return e.fail(err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return e.fail(err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return e.fail(err)
	}
	if err := cmd.RunE(cmd, positional); err != nil {
		return e.fail(err)
	}
	if e.global.warningsAsErrors {
		switch n := e.warnings.WarningCount(); {
		case n == 1:
			return e.fail(fmt.Errorf("%d warning received", n))
		case n > 1:
			return e.fail(fmt.Errorf("%d warnings received", n))
		}
	}
	return 0
}

// gate applies the Runner's mode to the command before anything runs.
func (e *runEnv) gate(cmd *cobra.Command) error {
	g := e.r.guard
	if !g.readOnly || e.r.skipVerbGate {
		return nil
	}
	path := strings.TrimPrefix(cmd.CommandPath(), cliName+" ")
	if cmd.Annotations[annotationMutating] == "true" {
		return fmt.Errorf("kubently: %q changes the cluster and is not allowed in read-only mode; allowed commands: %s", path, supportedSummary(true))
	}
	if cmd.Annotations[annotationExec] == "true" && !g.allowExec {
		return fmt.Errorf("kubently: %q is not allowed in this security mode (it needs extendedReadOnly)", path)
	}
	return nil
}

// boundWaits gives `delete` (which waits for the objects to disappear, up to
// a week by default) the run's remaining time as its --timeout unless the
// user set one, so it stops with kubectl's own timeout error instead of
// waiting past the deadline.
func (e *runEnv) boundWaits(cmd *cobra.Command) {
	if cmd.Annotations[annotationMutating] != "true" || cmd.Name() != "delete" {
		return
	}
	if wait, err := cmd.Flags().GetBool("wait"); err != nil || !wait {
		return
	}
	f := cmd.Flags().Lookup("timeout")
	if f == nil || f.Changed || f.Value.Type() != "duration" {
		return
	}
	if dl, ok := e.ctx.Deadline(); ok {
		left := time.Until(dl)
		// Leave a little time so kubectl's timeout, not the run's
		// deadline, ends the wait and its message is the one printed.
		left -= min(time.Second, left/10)
		if left > 0 {
			_ = f.Value.Set(left.Round(time.Millisecond).String())
		}
	}
}

// fail prints err the way kubectl would and returns its exit code.
func (e *runEnv) fail(err error) int {
	msg, code := formatError(err)
	fmt.Fprint(e.streams.ErrOut, withNewline(msg))
	return code
}

func subcommandList(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, cmd.Name()+" "+c.Name())
	}
	return strings.Join(names, ", ")
}
