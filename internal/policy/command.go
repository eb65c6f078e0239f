package policy

import (
	"sort"
	"strings"
)

// Command is a parsed kubectl invocation. Parse fills it the way kubectl
// itself would understand the argv; Check decides on it; the executor runs it
// and the audit log records Argv.
type Command struct {
	// Verb is the kubectl command, lower-case: "get", "rollout", "auth", ...
	Verb string
	// Subcommand is the rest of the command path, lower-case, with aliases
	// resolved: "history" for rollout history, "pod" for "top po",
	// "secret generic" for "create secret generic"; "" when there is none.
	Subcommand string
	// Resources are the canonical resource types the command reaches (plural,
	// lower-case, e.g. "pods", "secrets"; see CanonicalResource), in order of
	// appearance and without duplicates. "all" stays "all".
	Resources []string
	// Names are the object names the command names, in order, without
	// duplicates. Use Targets to know which name belongs to which type.
	Names []string
	// Targets pair each typed resource with an object name ("" = every object
	// of the type), e.g. "get pod/a secret/b" has two targets.
	Targets []Target
	// Namespace is the value of -n/--namespace ("" when absent: the
	// executor's default namespace applies).
	Namespace string
	// AllNamespaces is true when -A/--all-namespaces is true.
	AllNamespaces bool
	// Output is the raw value of -o/--output, e.g. "wide" or "jsonpath={.x}".
	Output string
	// Flags holds every flag given, by canonical long name (without dashes).
	// Flags that take one value hold only the effective (last) value, as in
	// kubectl; list flags (e.g. --label-columns, --from-literal) hold every
	// occurrence. Booleans are "true" or "false".
	Flags map[string][]string
	// Positionals are the non-flag arguments after the command path. For get,
	// describe and the like this includes arguments after "--" (they are
	// resource names to kubectl, not flags).
	Positionals []string
	// ExecArgs are the arguments after "--" for the commands that run a
	// program: exec, run and create deployment|job|cronjob.
	ExecArgs []string
}

// Target is one resource reference of a command.
type Target struct {
	Type     string // the type as written, e.g. "deploy", "deployments.v1.apps", "Secret"
	Resource string // canonical resource, e.g. "deployments", "secrets"
	Name     string // object name, or "" for every object of the type
}

// Path returns the full command path, e.g. "get" or "rollout history".
func (c *Command) Path() string {
	if c.Subcommand == "" {
		return c.Verb
	}
	return c.Verb + " " + c.Subcommand
}

// Flag returns the effective (last) value of a flag and whether it was given.
func (c *Command) Flag(name string) (string, bool) {
	v, ok := c.Flags[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// BoolFlag reports whether a boolean flag was given and is true.
func (c *Command) BoolFlag(name string) bool {
	v, _ := c.Flag(name)
	return v == "true"
}

// OutputFormat returns the lower-cased output format name of -o, without
// its argument: "jsonpath" for "-o jsonpath={.a}", "" when -o is absent.
func (c *Command) OutputFormat() string {
	f, _, _ := strings.Cut(c.Output, "=")
	return strings.ToLower(f)
}

// TouchesSecrets reports whether the command reaches the secrets resource in
// any spelling (e.g. "secret/x", "pods,secrets", "Secret.v1.").
func (c *Command) TouchesSecrets() bool {
	for _, r := range c.Resources {
		if r == SecretsResource {
			return true
		}
	}
	return false
}

// runsProgram reports whether arguments after "--" are a program and its
// arguments rather than ordinary positionals.
func runsProgram(path string) bool {
	switch path {
	case "exec", "run", "create deployment", "create job", "create cronjob":
		return true
	}
	return false
}

// Argv returns the full normalized argv, verb first: the command path, every
// flag as --name=value (sorted by name), the positionals, and "--" followed by
// ExecArgs when there are any. Feeding it to kubectl (or to Parse) means
// exactly what the parsed command means; it is what the audit log records and
// what the executor runs.
func (c *Command) Argv() []string {
	argv := []string{c.Verb}
	argv = append(argv, strings.Fields(c.Subcommand)...)
	names := make([]string, 0, len(c.Flags))
	for name := range c.Flags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range c.Flags[name] {
			argv = append(argv, "--"+name+"="+v)
		}
	}
	if runsProgram(c.Path()) {
		argv = append(argv, c.Positionals...)
		if len(c.ExecArgs) > 0 {
			argv = append(argv, "--")
			argv = append(argv, c.ExecArgs...)
		}
		return argv
	}
	for _, p := range c.Positionals {
		if len(p) > 1 && p[0] == '-' {
			// Would read as a flag: protect every positional behind "--".
			argv = append(argv, "--")
			break
		}
	}
	return append(argv, c.Positionals...)
}
