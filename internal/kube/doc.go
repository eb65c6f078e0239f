// Package kube is the executor's in-process kubectl. Given an argv that the
// security policy (package internal/policy) already accepted, Runner.Run runs
// it against the cluster with the kubectl libraries (k8s.io/kubectl,
// k8s.io/cli-runtime, k8s.io/client-go, all v0.37.2) and returns what the
// kubectl binary would print: stdout in Result.Output, stderr in
// Result.Error, kubectl's exit code in Result.ExitCode. No kubectl process
// is started.
//
// # Usage
//
//	r, err := kube.NewRunner(kube.Options{Config: restConfig, Namespace: ns, ReadOnly: true})
//	res := r.Run(ctx, []string{"get", "pods", "-A"}) // ctx carries the deadline
//
// A Runner is safe for concurrent use. SupportedCommands lists the command
// forms (read-only: get, describe, explain, version, cluster-info, logs,
// events, top pod|node, api-resources, api-versions, rollout history|status,
// auth can-i; exec; and, only when ReadOnly is false, delete, scale, label,
// annotate, cordon, uncordon, patch, set image, rollout
// restart|undo|pause|resume). Anything else ends with ExitCode 1 and an
// error naming what is supported.
//
// # How a command runs
//
// Every Run builds a small cobra tree of its own: a "kubectl" root with the
// global flags (-n/--namespace, --request-timeout, --warnings-as-errors) and
// the requested command. Flags are parsed with cobra's ParseFlags (never
// Execute) and kubectl's own Options types do the work:
//
//   - Read-only commands use kubectl's exported Options (get.GetOptions,
//     describe.DescribeFlags, logs.LogsOptions, top.TopPodOptions, ...); the
//     runner registers the same flags kubectl does (TestFlagParity checks
//     names, shorthands, types and defaults against kubectl's commands) and
//     calls Complete, Validate and Run itself. Errors are rendered by
//     formatError, which follows kubectl's cmdutil.CheckErr rules ("Error
//     from server (NotFound): ...", "error: ...", exit code 1, a remote
//     process's code for exec) without printing or exiting.
//   - Mutating commands keep part of their options in unexported fields
//     (LabelOptions.overwrite, the field managers, the drain helper), which
//     only kubectl's own cobra Run closure can fill. For those the runner
//     uses kubectl's cobra command itself and calls its Run closure directly;
//     the cmdutil.CheckErr calls inside end in the runner's recover, not in
//     os.Exit (see below).
//   - `logs` and `rollout status` are driven through their Options, but the
//     last step (RunLogsContext, RolloutStatusOptions.Run) is reproduced in
//     streaming.go, because kubectl's versions install a SIGTERM handler that
//     calls os.Exit and watch under context.Background(). The log request
//     builder is reproduced too: kubectl's prints "Defaulted container ..."
//     to os.Stderr instead of the command's stderr.
//   - `version` prints kubectl's text and structures itself: the client
//     version comes from the k8s.io/kubectl module version (v0.37.2 is kubectl
//     v1.37.2) instead of link-time stamps an embedding binary lacks.
//   - `--watch`, `--help`, `-i/-t` on exec, `cluster-info dump`, and flags or
//     output formats that read local files (-f, -k, --patch-file,
//     *-file outputs) or switch identity (--kubeconfig, --token, --as,
//     --server, ...) are refused with a clear message.
//
// # Process-wide hooks
//
// NewRunner installs, once per process: klog output into the given slog
// logger (so nothing the libraries log can interleave with command output),
// klog.OsExit and cmdutil.BehaviorOnFatal replaced by panics carrying the
// message and exit code. Each Run executes its command in a goroutine under
// recover, so a fatal path in the libraries ends that command with kubectl's
// message, never the executor.
//
// # Clients, discovery and cancellation
//
// Per run, kubectl's factory (cmdutil.NewFactory) is built over a
// RESTClientGetter whose REST config is the Runner's, with a per-run warning
// handler (kubectl's "Warning: ..." lines go to the run's stderr) and three
// round trippers: the run's context (kubectl code often uses
// context.TODO(); every request is still cancelled when Run's ctx ends), the
// read-only guard, and secret redaction. Discovery (memory-cached) and the
// deferred REST mapper are shared by all runs: the cache is dropped after
// Options.DiscoveryTTL, and a "no matches for kind" on a cache older than a
// second makes kubectl's mapper refetch (so new CRDs are found); explicit
// invalidations (api-resources) are honoured at most once a second. When
// ctx ends, Run cancels the command, waits briefly for it, and returns what it
// printed so far plus "error: kubently: the command was stopped: <cause>"
// with ExitCode 1. `delete`, which waits for objects to disappear (a week by
// default), gets the run's remaining time as --timeout unless one is given.
//
// # Defence in depth
//
// With Options.ReadOnly, mutating commands are refused before they start, and
// the transport refuses every request that is not GET, HEAD or OPTIONS, except
// POSTs of SelfSubjectAccessReview/SelfSubjectRulesReview (auth can-i); it
// also refuses the exec, attach, portforward and proxy subresources whatever
// the verb (WebSocket exec is a GET; node proxy reaches the kubelet API),
// unless Options.AllowExec permits pods/exec. A refused request never reaches
// the network; RefusedError says why.
//
// Secret values never reach kubectl code: the redaction round tripper (see
// redact.go) rewrites every JSON response holding Secret objects (Secret,
// SecretList, Secrets inside a List, objects embedded in server-side Tables,
// watch events). Each data value becomes '*' bytes of the same decoded length
// (so `describe secret` prints the real sizes), each stringData value '*'
// characters of the same length, and the
// kubectl.kubernetes.io/last-applied-configuration annotation of a Secret
// becomes RedactedAnnotation. Requests for secrets are forced to JSON and a
// non-JSON answer for them is refused. This holds in every mode and for
// every identity: nothing in Options turns it off.
//
// # Output
//
// Result.Output and Result.Error are each capped at Options.MaxOutputBytes
// (1 MiB by default); beyond it the command keeps running (its exit code is
// kept) but its output is dropped, and the kept text ends with
// "\n[output truncated by kubently: limit N bytes]\n" and Truncated is set.
// kubectl's informational stderr ("No resources found in default
// namespace.") arrives in Result.Error with ExitCode 0, exactly as kubectl
// prints it.
package kube
