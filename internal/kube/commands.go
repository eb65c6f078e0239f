package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubectl/pkg/cmd/annotate"
	"k8s.io/kubectl/pkg/cmd/apiresources"
	"k8s.io/kubectl/pkg/cmd/auth"
	"k8s.io/kubectl/pkg/cmd/clusterinfo"
	"k8s.io/kubectl/pkg/cmd/delete"
	"k8s.io/kubectl/pkg/cmd/describe"
	"k8s.io/kubectl/pkg/cmd/drain"
	"k8s.io/kubectl/pkg/cmd/events"
	cmdexec "k8s.io/kubectl/pkg/cmd/exec"
	"k8s.io/kubectl/pkg/cmd/explain"
	"k8s.io/kubectl/pkg/cmd/get"
	"k8s.io/kubectl/pkg/cmd/label"
	"k8s.io/kubectl/pkg/cmd/logs"
	"k8s.io/kubectl/pkg/cmd/patch"
	"k8s.io/kubectl/pkg/cmd/rollout"
	"k8s.io/kubectl/pkg/cmd/scale"
	"k8s.io/kubectl/pkg/cmd/set"
	"k8s.io/kubectl/pkg/cmd/top"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// CommandInfo describes one command form the runner supports.
type CommandInfo struct {
	// Path is the command without "kubectl", e.g. "get" or "rollout status".
	Path string
	// Mutating commands change the cluster; they only run when
	// Options.ReadOnly is false.
	Mutating bool
	// Exec marks `exec`, which runs a process in a container; with
	// Options.ReadOnly it needs Options.AllowExec.
	Exec bool
}

// Annotation keys carried by the cobra commands the runner builds.
const (
	annotationMutating = "kubently.io/mutating"
	annotationExec     = "kubently.io/exec"
)

// commandSpec is one entry of the command table: how to build the cobra
// command for a run.
type commandSpec struct {
	CommandInfo
	build func(e *runEnv) *cobra.Command
}

// commandTable lists every supported command. Entries whose Path has two
// words are subcommands of a parent built from the first word.
var commandTable = []commandSpec{
	// Read-only commands: kubectl's own Options, driven through
	// Complete/Validate/Run by the runner (no cmdutil.CheckErr).
	{CommandInfo{Path: "get"}, (*runEnv).newGet},
	{CommandInfo{Path: "describe"}, (*runEnv).newDescribe},
	{CommandInfo{Path: "explain"}, (*runEnv).newExplain},
	{CommandInfo{Path: "version"}, (*runEnv).newVersion},
	{CommandInfo{Path: "cluster-info"}, (*runEnv).newClusterInfo},
	{CommandInfo{Path: "logs"}, (*runEnv).newLogs},
	{CommandInfo{Path: "events"}, (*runEnv).newEvents},
	{CommandInfo{Path: "top pod"}, (*runEnv).newTopPod},
	{CommandInfo{Path: "top node"}, (*runEnv).newTopNode},
	{CommandInfo{Path: "api-resources"}, (*runEnv).newAPIResources},
	{CommandInfo{Path: "api-versions"}, (*runEnv).newAPIVersions},
	{CommandInfo{Path: "rollout history"}, (*runEnv).newRolloutHistory},
	{CommandInfo{Path: "rollout status"}, (*runEnv).newRolloutStatus},
	{CommandInfo{Path: "auth can-i"}, (*runEnv).newCanI},
	{CommandInfo{Path: "exec", Exec: true}, (*runEnv).newExec},

	// Mutating commands: kubectl's own cobra commands (their options keep
	// unexported fields), run under the fatal-error trap.
	{CommandInfo{Path: "delete", Mutating: true}, func(e *runEnv) *cobra.Command { return delete.NewCmdDelete(e.factory, e.streams) }},
	{CommandInfo{Path: "scale", Mutating: true}, func(e *runEnv) *cobra.Command { return scale.NewCmdScale(e.factory, e.streams) }},
	{CommandInfo{Path: "label", Mutating: true}, func(e *runEnv) *cobra.Command { return label.NewCmdLabel(e.factory, e.streams) }},
	{CommandInfo{Path: "annotate", Mutating: true}, func(e *runEnv) *cobra.Command {
		return annotate.NewCmdAnnotate(cliName, e.factory, e.streams)
	}},
	{CommandInfo{Path: "cordon", Mutating: true}, func(e *runEnv) *cobra.Command { return drain.NewCmdCordon(e.factory, e.streams) }},
	{CommandInfo{Path: "uncordon", Mutating: true}, func(e *runEnv) *cobra.Command { return drain.NewCmdUncordon(e.factory, e.streams) }},
	{CommandInfo{Path: "patch", Mutating: true}, func(e *runEnv) *cobra.Command { return patch.NewCmdPatch(e.factory, e.streams) }},
	{CommandInfo{Path: "set image", Mutating: true}, func(e *runEnv) *cobra.Command { return set.NewCmdImage(e.factory, e.streams) }},
	{CommandInfo{Path: "rollout restart", Mutating: true}, func(e *runEnv) *cobra.Command {
		return rollout.NewCmdRolloutRestart(e.factory, e.streams)
	}},
	{CommandInfo{Path: "rollout undo", Mutating: true}, func(e *runEnv) *cobra.Command {
		return rollout.NewCmdRolloutUndo(cliName, e.factory, e.streams)
	}},
	{CommandInfo{Path: "rollout pause", Mutating: true}, func(e *runEnv) *cobra.Command {
		return rollout.NewCmdRolloutPause(e.factory, e.streams)
	}},
	{CommandInfo{Path: "rollout resume", Mutating: true}, func(e *runEnv) *cobra.Command {
		return rollout.NewCmdRolloutResume(e.factory, e.streams)
	}},
}

// cliName is the command name kubectl's messages use ("See 'kubectl get -h'").
const cliName = "kubectl"

// SupportedCommands returns every command form the runner supports, in a
// stable order, so callers (policy, help texts, tool schemas) can list them.
func SupportedCommands() []CommandInfo {
	out := make([]CommandInfo, 0, len(commandTable))
	for _, s := range commandTable {
		out = append(out, s.CommandInfo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// SupportedVerbs returns the sorted, de-duplicated first words of the
// supported commands ("get", "rollout", "top", ...).
func SupportedVerbs() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range commandTable {
		verb := strings.Fields(s.Path)[0]
		if !seen[verb] {
			seen[verb] = true
			out = append(out, verb)
		}
	}
	sort.Strings(out)
	return out
}

// supportedSummary is the list used in "not supported" errors.
func supportedSummary(readOnly bool) string {
	var parts []string
	for _, c := range SupportedCommands() {
		if readOnly && c.Mutating {
			continue
		}
		parts = append(parts, c.Path)
	}
	return strings.Join(parts, ", ")
}

// buildRoot assembles the per-run command tree: a "kubectl" root carrying the
// global flags and the supported commands under it. When verb is a
// supported first word only that command (and its subcommands) is built,
// which keeps a run cheap; otherwise (argv starts with a global flag, or an
// unknown verb) every command is.
func (e *runEnv) buildRoot(verb string) *cobra.Command {
	only := ""
	for _, spec := range commandTable {
		if strings.Fields(spec.Path)[0] == verb {
			only = verb
			break
		}
	}
	root := &cobra.Command{
		Use:           cliName,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(e.streams.In)
	root.SetOut(e.streams.Out)
	root.SetErr(e.streams.ErrOut)
	// kubectl's flag errors read "<err>\nSee 'kubectl get --help' for usage."
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s\nSee '%s --help' for usage.", err, c.CommandPath())
	})
	e.global.addFlags(root.PersistentFlags())

	parents := map[string]*cobra.Command{}
	stubs := map[string]bool{}
	for _, spec := range commandTable {
		words := strings.Fields(spec.Path)
		if only != "" && words[0] != only {
			// Other verbs are present as bare stubs: kubectl's messages
			// look for siblings (get suggests `kubectl explain` if it exists).
			if !stubs[words[0]] {
				stubs[words[0]] = true
				root.AddCommand(&cobra.Command{Use: words[0], Hidden: true})
			}
			continue
		}
		cmd := spec.build(e)
		prepareCommand(cmd, spec.CommandInfo)
		if len(words) == 1 {
			root.AddCommand(cmd)
			continue
		}
		parent, ok := parents[words[0]]
		if !ok {
			parent = &cobra.Command{Use: words[0], Annotations: map[string]string{}}
			parents[words[0]] = parent
			root.AddCommand(parent)
		}
		parent.AddCommand(cmd)
	}
	root.SetGlobalNormalizationFunc(wordSepNormalize)
	return root
}

// prepareCommand marks a command with its table info and makes sure it runs
// through RunE: kubectl's own Run closures (mutating commands) are wrapped so
// that their cmdutil.CheckErr calls end in the runner's recover instead of
// os.Exit (see installProcessHooks).
func prepareCommand(cmd *cobra.Command, info CommandInfo) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	if info.Mutating {
		cmd.Annotations[annotationMutating] = "true"
	}
	if info.Exec {
		cmd.Annotations[annotationExec] = "true"
	}
	if cmd.Run != nil && cmd.RunE == nil {
		run := cmd.Run
		cmd.Run = nil
		cmd.RunE = func(c *cobra.Command, args []string) error {
			run(c, args)
			return nil
		}
	}
	cmd.PreRun, cmd.PreRunE, cmd.PostRun, cmd.PostRunE = nil, nil, nil, nil
}

// errWatchUnsupported is returned for --watch / --watch-only: a command must
// end by itself for its result to be posted.
var errWatchUnsupported = errors.New("kubently: --watch and --watch-only are not supported (a command must finish on its own); run the command again to see changes")

func (e *runEnv) newGet() *cobra.Command {
	o := get.NewGetOptions(cliName, e.streams)
	cmd := &cobra.Command{Use: "get", Short: "Display one or many resources"}
	o.PrintFlags.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Raw, "raw", o.Raw, "Raw URI to request from the server.")
	fl.BoolVarP(&o.Watch, "watch", "w", o.Watch, "After listing/getting the requested object, watch for changes.")
	fl.BoolVar(&o.WatchOnly, "watch-only", o.WatchOnly, "Watch for changes to the requested object(s), without listing/getting first.")
	fl.BoolVar(&o.OutputWatchEvents, "output-watch-events", o.OutputWatchEvents, "Output watch event objects when --watch or --watch-only is used.")
	fl.BoolVar(&o.IgnoreNotFound, "ignore-not-found", o.IgnoreNotFound, "If set to true, suppresses NotFound error for specific objects that do not exist.")
	fl.StringVar(&o.FieldSelector, "field-selector", o.FieldSelector, "Selector (field query) to filter on, supports '=', '==', and '!='.")
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "If present, list the requested object(s) across all namespaces.")
	fl.BoolVar(&o.ServerPrint, "server-print", o.ServerPrint, "If true, have the server return the appropriate table output.")
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "identifying the resource to get from a server.")
	cmdutil.AddChunkSizeFlag(cmd, &o.ChunkSize)
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.LabelSelector)
	cmdutil.AddSubresourceFlags(cmd, &o.Subresource, "If specified, gets the subresource of the requested object.")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if o.Watch || o.WatchOnly {
			return errWatchUnsupported
		}
		if err := o.Complete(e.factory, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(e.factory, args)
	}
	return cmd
}

func (e *runEnv) newDescribe() *cobra.Command {
	flags := describe.NewDescribeFlags(e.factory, e.streams)
	cmd := &cobra.Command{Use: "describe", Short: "Show details of a specific resource or group of resources"}
	flags.AddFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o, err := flags.ToOptions(cliName, args)
		if err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

func (e *runEnv) newExplain() *cobra.Command {
	flags := explain.NewExplainFlags(e.streams)
	cmd := &cobra.Command{Use: "explain", Short: "Get documentation for a resource"}
	flags.AddFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o, err := flags.ToOptions(e.factory, cliName, args)
		if err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

func (e *runEnv) newClusterInfo() *cobra.Command {
	o := &clusterinfo.ClusterInfoOptions{IOStreams: e.streams}
	cmd := &cobra.Command{Use: "cluster-info", Short: "Display cluster information"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("kubently: %q is not supported; only plain `cluster-info` is", "cluster-info "+strings.Join(args, " "))
		}
		if err := o.Complete(e.getter, cmd); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

func (e *runEnv) newLogs() *cobra.Command {
	o := logs.NewLogsOptions(e.streams)
	cmd := &cobra.Command{Use: "logs", Short: "Print the logs for a container in a pod"}
	o.AddFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return runLogs(e.ctx, o)
	}
	return cmd
}

func (e *runEnv) newEvents() *cobra.Command {
	flags := events.NewEventsFlags(e.getter, e.streams)
	cmd := &cobra.Command{Use: "events", Short: "List events"}
	flags.AddFlags(cmd)
	flags.PrintFlags.AddFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if flags.Watch {
			return errWatchUnsupported
		}
		o, err := flags.ToOptions()
		if err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

func (e *runEnv) newTopPod() *cobra.Command {
	o := &top.TopPodOptions{IOStreams: e.streams, UseProtocolBuffers: true}
	cmd := top.NewCmdTopPod(e.factory, o, e.streams)
	cmd.Run = nil
	cmd.ValidArgsFunction = nil
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.RunTopPod()
	}
	return cmd
}

func (e *runEnv) newTopNode() *cobra.Command {
	o := &top.TopNodeOptions{IOStreams: e.streams, UseProtocolBuffers: true}
	cmd := top.NewCmdTopNode(e.factory, o, e.streams)
	cmd.Run = nil
	cmd.ValidArgsFunction = nil
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.RunTopNode()
	}
	return cmd
}

func (e *runEnv) newAPIResources() *cobra.Command {
	o := apiresources.NewAPIResourceOptions(e.streams)
	cmd := &cobra.Command{Use: "api-resources", Short: "Print the supported API resources on the server"}
	o.PrintFlags.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.APIGroup, "api-group", o.APIGroup, "Limit to resources in the specified API group.")
	fl.BoolVar(&o.Namespaced, "namespaced", o.Namespaced, "If false, non-namespaced resources will be returned, otherwise returning namespaced resources by default.")
	fl.StringSliceVar(&o.Verbs, "verbs", o.Verbs, "Limit to resources that support the specified verbs.")
	fl.StringVar(&o.SortBy, "sort-by", o.SortBy, "If non-empty, sort list of resources using specified field. The field can be either 'name' or 'kind'.")
	fl.BoolVar(&o.Cached, "cached", o.Cached, "Use the cached list of resources if available.")
	fl.StringSliceVar(&o.Categories, "categories", o.Categories, "Limit to resources that belong to the specified categories.")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.getter, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.RunAPIResources()
	}
	return cmd
}

func (e *runEnv) newAPIVersions() *cobra.Command {
	o := apiresources.NewAPIVersionsOptions(e.streams)
	cmd := &cobra.Command{Use: "api-versions", Short: "Print the supported API versions on the server"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.getter, cmd, args); err != nil {
			return err
		}
		return o.RunAPIVersions()
	}
	return cmd
}

func (e *runEnv) newRolloutHistory() *cobra.Command {
	o := rollout.NewRolloutHistoryOptions(e.streams)
	cmd := &cobra.Command{Use: "history", Short: "View rollout history"}
	cmd.Flags().Int64Var(&o.Revision, "revision", o.Revision, "See the details, including podTemplate of the revision specified")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.LabelSelector)
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "identifying the resource to get from a server.")
	o.PrintFlags.AddFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

func (e *runEnv) newRolloutStatus() *cobra.Command {
	o := rollout.NewRolloutStatusOptions(e.streams)
	cmd := &cobra.Command{Use: "status", Short: "Show the status of the rollout"}
	cmdutil.AddFilenameOptionFlags(cmd, o.FilenameOptions, "identifying the resource to get from a server.")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", o.Watch, "Watch the status of the rollout until it's done.")
	cmd.Flags().Int64Var(&o.Revision, "revision", o.Revision, "Pin to a specific revision for showing its status. Defaults to 0 (last revision).")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "The length of time to wait before ending watch, zero means never.")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.LabelSelector)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return runRolloutStatus(e.ctx, o)
	}
	return cmd
}

func (e *runEnv) newCanI() *cobra.Command {
	o := &auth.CanIOptions{IOStreams: e.streams}
	cmd := &cobra.Command{Use: "can-i", Short: "Check whether an action is allowed"}
	fl := cmd.Flags()
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "If true, check the specified action in all namespaces.")
	fl.BoolVarP(&o.Quiet, "quiet", "q", o.Quiet, "If true, suppress output and just return the exit code.")
	fl.StringVar(&o.Subresource, "subresource", o.Subresource, "SubResource such as pod/log or deployment/scale")
	fl.BoolVar(&o.List, "list", o.List, "If true, prints all allowed actions.")
	fl.BoolVar(&o.NoHeaders, "no-headers", o.NoHeaders, "If true, prints allowed actions without headers")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(e.factory, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if o.List {
			return o.RunAccessList()
		}
		allowed, err := o.RunAccessCheck()
		if err != nil {
			return err
		}
		if !allowed {
			return cmdutil.ErrExit // kubectl exits 1 without a message after printing "no"
		}
		return nil
	}
	return cmd
}

// defaultPodExecTimeout mirrors kubectl exec's --pod-running-timeout default.
const defaultPodExecTimeout = 60 * time.Second

func (e *runEnv) newExec() *cobra.Command {
	o := &cmdexec.ExecOptions{
		StreamOptions: cmdexec.StreamOptions{IOStreams: e.streams},
		Executor:      &contextExecutor{ctx: e.ctx},
	}
	cmd := &cobra.Command{Use: "exec", Short: "Execute a command in a container"}
	cmdutil.AddPodRunningTimeoutFlag(cmd, defaultPodExecTimeout)
	cmdutil.AddJsonFilenameFlag(cmd.Flags(), &o.FilenameOptions.Filenames, "to use to exec into the resource")
	cmdutil.AddContainerVarFlags(cmd, &o.ContainerName, o.ContainerName)
	cmd.Flags().BoolVarP(&o.Stdin, "stdin", "i", o.Stdin, "Pass stdin to the container")
	cmd.Flags().BoolVarP(&o.TTY, "tty", "t", o.TTY, "Stdin is a TTY")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", o.Quiet, "Only print output from the remote session")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if o.Stdin || o.TTY {
			return errors.New("kubently: exec is non-interactive: -i/--stdin and -t/--tty are not supported")
		}
		if err := o.Complete(e.factory, cmd, args, cmd.ArgsLenAtDash()); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run()
	}
	return cmd
}

// contextExecutor runs kubectl exec's remote command under the run's
// context, so the deadline stops the remote stream.
type contextExecutor struct {
	ctx  context.Context
	base cmdexec.DefaultRemoteExecutor
}

// Execute implements cmdexec.RemoteExecutor.
func (x *contextExecutor) Execute(u *url.URL, config *restclient.Config, stdin io.Reader, stdout, stderr io.Writer, tty bool, sizeQueue remotecommand.TerminalSizeQueue) error {
	return x.base.ExecuteWithContext(x.ctx, u, config, stdin, stdout, stderr, tty, sizeQueue)
}

// ExecuteWithContext implements cmdexec.RemoteExecutor; the run's context
// bounds ctx as well.
func (x *contextExecutor) ExecuteWithContext(ctx context.Context, u *url.URL, config *restclient.Config, stdin io.Reader, stdout, stderr io.Writer, tty bool, sizeQueue remotecommand.TerminalSizeQueue) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(x.ctx, cancel)
	defer stop()
	return x.base.ExecuteWithContext(ctx, u, config, stdin, stdout, stderr, tty, sizeQueue)
}
