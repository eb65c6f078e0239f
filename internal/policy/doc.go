// Package policy parses kubectl command lines and decides which of them an
// executor may run. The API calls it as a fast pre-check before routing a
// command; the executor calls it again, authoritatively, before running the
// command in-process. It depends only on the Go standard library so that the
// API binary stays free of k8s.io modules.
//
// # Parsing
//
// Parse reads an argv with kubectl's own rules (cobra and pflag, as in
// kubectl v1.37): --flag=value, --flag value, -n value, -nvalue, -n=value,
// combined short booleans such as -Aw, "--" ending the flags, boolean flags
// with =true|false, and "_" equal to "-" in long flag names. It knows every
// flag of every supported command (table in kubectl_flags.go, checked against
// kubectl itself by the tests of the kubectlcompat module) and refuses unknown
// flags, because it cannot know whether they would swallow the next
// argument. Resource arguments are read like kubectl's resource builder
// ("pods", "po", "pod/x", "pods,secrets x", "secrets.v1.", "Secret") and
// canonicalized (CanonicalResource), so checks never rely on substrings.
//
// # Modes and refusals
//
// A Policy has a Mode: ReadOnly (default), ExtendedReadOnly (adds
// non-interactive exec) or FullAccess (adds mutating commands). Whatever the
// mode and the rules, Check refuses credential and target overrides
// (--kubeconfig, --context, -s/--server, --token, --as, ...), file and stdin
// inputs (-f, -k, --from-file, ...), unbounded streams (--watch, logs
// --follow), interactive sessions, --raw, and anything that would print
// secret values (-o yaml/json/jsonpath/... on secrets). Per-cluster Allow and
// Deny rules narrow a mode and can never widen it.
//
// Command.Argv gives a normalized argv (--name=value flags, "--" where
// needed) that means exactly what the parsed command means; the executor
// runs that and the audit log records it.
//
// The user-facing reference is docs/security-modes.md.
package policy
