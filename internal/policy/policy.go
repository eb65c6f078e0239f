package policy

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Rule is an extra per-cluster allow or deny rule from the executor's
// configuration. An empty list matches anything, and so does a list holding
// "*". Verbs are command paths: "get", "rollout" (every rollout subcommand)
// or "rollout restart". Resources are resource types in any spelling kubectl
// accepts ("po", "secret", "deployments.apps"); they are compared in canonical
// form. Namespaces are compared exactly.
type Rule struct {
	Verbs      []string `json:"verbs,omitempty" yaml:"verbs,omitempty"`
	Resources  []string `json:"resources,omitempty" yaml:"resources,omitempty"`
	Namespaces []string `json:"namespaces,omitempty" yaml:"namespaces,omitempty"`
}

// Policy decides which kubectl commands an executor runs. The zero value is
// the ReadOnly mode without extra rules.
//
// Deny rules refuse every command they match. Allow rules, when there are
// any, restrict the mode further: a command must be allowed by the mode AND
// match at least one allow rule. Allow rules therefore never widen a mode (an
// allow rule for "delete" does nothing in readOnly mode), which keeps the
// mode an upper bound an operator can rely on. The refusals of credential
// and target overrides, file inputs, unbounded streams and secret value
// reads are not rules: no rule can lift them.
type Policy struct {
	// Mode is the security mode; "" means ReadOnly.
	Mode Mode `json:"securityMode,omitempty" yaml:"securityMode,omitempty"`
	// Allow, when not empty, lists the commands allowed within the mode.
	Allow []Rule `json:"allow,omitempty" yaml:"allow,omitempty"`
	// Deny lists commands refused even though the mode allows them.
	Deny []Rule `json:"deny,omitempty" yaml:"deny,omitempty"`
	// DefaultNamespace is the namespace the executor uses when a command has
	// no -n/--namespace; it is what namespace rules compare against. ""
	// means "default".
	DefaultNamespace string `json:"defaultNamespace,omitempty" yaml:"defaultNamespace,omitempty"`
}

// Denial is the error Check returns when it refuses a command.
type Denial struct {
	// Reason says what was refused and why, e.g. "flag --kubeconfig is not
	// allowed: it overrides the executor's credentials or target".
	Reason string
	// Mode is the security mode that refused the command.
	Mode Mode
}

// Error returns "command denied: " followed by the reason.
func (d *Denial) Error() string { return "command denied: " + d.Reason }

// IsDenial reports whether err is (or wraps) a *Denial.
func IsDenial(err error) bool {
	var d *Denial
	return errors.As(err, &d)
}

// Validate reports a policy that cannot be applied: an unknown mode, a rule
// naming an unknown command or a malformed resource type, or an empty
// namespace. Check refuses every command of an invalid policy.
func (p Policy) Validate() error {
	if _, err := ParseMode(string(p.Mode)); err != nil {
		return err
	}
	check := func(kind string, i int, r Rule) error {
		for _, v := range r.Verbs {
			if v == "*" {
				continue
			}
			if lookupPath(strings.ToLower(v)) == nil {
				return fmt.Errorf("%s rule %d: unknown command %q", kind, i+1, v)
			}
		}
		for _, res := range r.Resources {
			if res == "*" {
				continue
			}
			if _, err := CanonicalResource(res); err != nil {
				return fmt.Errorf("%s rule %d: %v", kind, i+1, err)
			}
		}
		for _, ns := range r.Namespaces {
			if strings.TrimSpace(ns) == "" {
				return fmt.Errorf("%s rule %d: empty namespace", kind, i+1)
			}
		}
		return nil
	}
	for i, r := range p.Allow {
		if err := check("allow", i, r); err != nil {
			return err
		}
	}
	for i, r := range p.Deny {
		if err := check("deny", i, r); err != nil {
			return err
		}
	}
	return nil
}

// mode returns the effective mode of a valid policy.
func (p Policy) mode() Mode {
	m, _ := ParseMode(string(p.Mode))
	return m
}

// Check parses a kubectl invocation (see Parse) and decides whether this
// policy allows it. It returns the parsed command (nil when the argv could
// not be parsed) and, when the command is refused, a *Denial saying why.
// Both the API (as a fast pre-check) and the executor (authoritatively) call
// it; the executor must then run exactly the returned command.
func (p Policy) Check(commandType string, args []string) (*Command, error) {
	if err := p.Validate(); err != nil {
		return nil, &Denial{Reason: "invalid security policy: " + err.Error(), Mode: p.Mode}
	}
	mode := p.mode()
	deny := func(c *Command, format string, a ...any) (*Command, error) {
		return c, &Denial{Reason: fmt.Sprintf(format, a...), Mode: mode}
	}

	verb, rest, err := splitVerb(commandType, args)
	if err != nil {
		return deny(nil, "%s", err)
	}
	n := root.children[verb]
	if n == nil {
		return deny(nil, "unknown verb %q (allowed in %s mode: %s)", verb, mode, strings.Join(p.AllowedVerbs(), ", "))
	}
	if n.never != "" {
		return deny(nil, "%s", neverError(n))
	}
	if !modeAllowsVerb(mode, verb) {
		return deny(nil, "%s", notInModeReason(mode, verb))
	}

	c, err := parseNode(n, rest)
	if err != nil {
		return deny(nil, "%s", err)
	}
	path := c.Path()
	if !modeAllows(mode, path) {
		return deny(c, "%s", notInModeReason(mode, path))
	}
	if reason := checkFlags(c); reason != "" {
		return deny(c, "%s", reason)
	}
	if reason := checkSecretValues(c); reason != "" {
		return deny(c, "reading secret values is not allowed: %s", reason)
	}
	if reason := checkArguments(c); reason != "" {
		return deny(c, "%s", reason)
	}
	if reason := p.checkRules(c); reason != "" {
		return deny(c, "%s", reason)
	}
	return c, nil
}

func notInModeReason(mode Mode, path string) string {
	kind := "command"
	if !strings.Contains(path, " ") {
		kind = "verb"
	}
	need := ""
	if m := minimumMode(path); m != "" {
		need = "it needs " + string(m) + " mode; "
	}
	return fmt.Sprintf("%s %q is not allowed in %s mode (%sallowed: %s)", kind, path, mode, need, strings.Join(modeCommands(mode), ", "))
}

// flagRule is a refusal attached to a flag name.
type flagRule struct {
	reason     string
	whenTrue   bool     // refuse only when the boolean flag is true
	globalOnly bool     // only the root command's flag (a command's own flag of that name is different)
	except     []string // command paths where the flag is harmless
}

const (
	reasonCredential = "it overrides the executor's credentials or target"
	reasonFile       = "it reads files on the executor"
	reasonStream     = "it starts an unbounded stream; commands must finish"
	reasonStdin      = "interactive input is not supported; commands run without a terminal or stdin"
)

// forbiddenFlags are refused in every mode, whatever the rules say.
var forbiddenFlags = map[string]flagRule{
	// Credential and target overrides: the executor acts only as itself,
	// against its own cluster.
	"kubeconfig":               {reason: reasonCredential, globalOnly: true},
	"context":                  {reason: reasonCredential, globalOnly: true},
	"cluster":                  {reason: reasonCredential, globalOnly: true},
	"user":                     {reason: reasonCredential, globalOnly: true},
	"server":                   {reason: reasonCredential, globalOnly: true},
	"token":                    {reason: reasonCredential, globalOnly: true},
	"as":                       {reason: reasonCredential, globalOnly: true},
	"as-group":                 {reason: reasonCredential, globalOnly: true},
	"as-uid":                   {reason: reasonCredential, globalOnly: true},
	"as-user-extra":            {reason: reasonCredential, globalOnly: true},
	"username":                 {reason: reasonCredential, globalOnly: true},
	"password":                 {reason: reasonCredential, globalOnly: true},
	"client-certificate":       {reason: reasonCredential, globalOnly: true},
	"client-key":               {reason: reasonCredential, globalOnly: true},
	"certificate-authority":    {reason: reasonCredential, globalOnly: true},
	"insecure-skip-tls-verify": {reason: reasonCredential, globalOnly: true},
	"tls-server-name":          {reason: reasonCredential, globalOnly: true},
	"proxy-url":                {reason: reasonCredential, globalOnly: true},
	"cache-dir":                {reason: "it redirects the executor's local discovery cache", globalOnly: true},
	"kuberc":                   {reason: "it loads kubectl preferences from a file on the executor", globalOnly: true},
	"profile":                  {reason: "it profiles the executor process and writes files on it", globalOnly: true},
	"profile-output":           {reason: "it profiles the executor process and writes files on it", globalOnly: true},
	"vmodule":                  {reason: "it changes the executor's process-wide logging", globalOnly: true},
	"help":                     {reason: "help is not available through Kubently; run kubectl help on your machine"},
	// Requests outside the resource model.
	"raw": {reason: "it sends a request to an arbitrary API path, bypassing the resource checks"},
	// File and stdin inputs.
	"filename":      {reason: reasonFile},
	"kustomize":     {reason: reasonFile},
	"from-file":     {reason: reasonFile},
	"from-env-file": {reason: reasonFile},
	"patch-file":    {reason: reasonFile},
	"cert":          {reason: reasonFile},
	"key":           {reason: reasonFile},
	"recursive":     {reason: "it only applies to -f/--filename, which is not allowed", whenTrue: true, except: []string{"explain"}},
	// Unbounded streams. rollout status watches by default until the
	// rollout ends; the executor's command timeout bounds it.
	"watch":      {reason: reasonStream, whenTrue: true, except: []string{"rollout status"}},
	"watch-only": {reason: reasonStream, whenTrue: true},
	"follow":     {reason: reasonStream + " (use --tail or --since)", whenTrue: true},
	// Interactive sessions.
	"stdin":            {reason: reasonStdin, whenTrue: true},
	"tty":              {reason: reasonStdin, whenTrue: true},
	"interactive":      {reason: reasonStdin, whenTrue: true},
	"attach":           {reason: reasonStdin, whenTrue: true},
	"leave-stdin-open": {reason: reasonStdin, whenTrue: true},
	"rm":               {reason: "it only works with an attached session, which is not supported", whenTrue: true},
	"edit":             {reason: "it needs an interactive editor", whenTrue: true},
	// Secret values and weakened TLS.
	"resolve":                          {reason: "it prints the secret values environment variables refer to", whenTrue: true},
	"insecure-skip-tls-verify-backend": {reason: "it disables TLS verification between the API server and the kubelet", whenTrue: true},
}

// maxVerbosity is the highest -v accepted: from 6 on, client-go logs every
// HTTP request (and from 8 on, request and response bodies).
const maxVerbosity = 5

// fileOutputFormats read a template or column spec from a file on the
// executor, whose content would be printed back (e.g. a token file used as a
// jsonpath template prints verbatim).
var fileOutputFormats = map[string]bool{
	"go-template-file": true, "templatefile": true, "jsonpath-file": true, "custom-columns-file": true,
}

// checkFlags applies the refusals that hold in every mode to a command's
// flags and returns the first reason, or "".
func checkFlags(c *Command) string {
	n := lookupPath(c.Path())
	names := make([]string, 0, len(c.Flags))
	for name := range c.Flags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		spec := n.flags.long[name]
		if spec == nil { // hand-built Command
			return fmt.Sprintf("unknown flag --%s for %q", name, c.Path())
		}
		rule, ok := forbiddenFlags[name]
		if !ok || (rule.globalOnly && !spec.global) || containsString(rule.except, c.Path()) {
			continue
		}
		if rule.whenTrue && !c.BoolFlag(name) {
			continue
		}
		return fmt.Sprintf("flag %s is not allowed: %s", displayFlag(spec), rule.reason)
	}
	if v, ok := c.Flag("v"); ok {
		if level, err := strconv.ParseInt(v, 10, 64); err != nil || level > maxVerbosity {
			return fmt.Sprintf("flag -v/--v=%s is not allowed: verbosity above %d logs the executor's HTTP requests", v, maxVerbosity)
		}
	}
	if f := c.OutputFormat(); fileOutputFormats[f] {
		return fmt.Sprintf("output format %q is not allowed: it reads a template file on the executor; pass the template inline", f)
	}
	return ""
}

// secretSortByRE matches the --sort-by expressions allowed on secrets: object
// metadata and the secret type, never data.
var secretSortByRE = regexp.MustCompile(`^\{?\.?(type|metadata(\.[A-Za-z0-9_./\\-]+)?)\}?$`)

// checkSecretValues refuses everything that would print secret values:
// on a command reaching secrets, only the default table, -o wide and -o name
// are allowed, with no --template and no --sort-by on data. explain only
// prints the schema and is exempt.
func checkSecretValues(c *Command) string {
	if !c.TouchesSecrets() || c.Verb == "explain" {
		return ""
	}
	switch f := c.OutputFormat(); f {
	case "", "wide", "name":
	default:
		return fmt.Sprintf("output format %q on secrets (only the default table, -o wide and -o name are allowed)", f)
	}
	if _, ok := c.Flag("template"); ok {
		return "--template on secrets"
	}
	if c.Verb == "annotate" && c.BoolFlag("list") {
		// kubectl apply stores the whole manifest, data included, in the
		// last-applied-configuration annotation.
		return "annotate --list on secrets (annotations can hold the applied manifest, data included)"
	}
	if s, ok := c.Flag("sort-by"); ok && !secretSortByRE.MatchString(s) {
		return fmt.Sprintf("--sort-by %q on secrets (only .metadata fields and .type)", s)
	}
	return ""
}

// checkArguments refuses argument lists that are outside what a mode allows
// even though kubectl would accept them.
func checkArguments(c *Command) string {
	switch c.Path() {
	case "exec":
		// Decision: exec always needs a pod and an explicit command after
		// "--"; kubectl's legacy "exec POD COMMAND" form and exec without a
		// command are refused.
		if len(c.Positionals) != 1 {
			return `exec needs exactly one pod (or TYPE/NAME) before "--", e.g. exec my-pod -- ls /`
		}
		if len(c.ExecArgs) == 0 {
			return `exec needs a command after "--", e.g. exec my-pod -- ls /`
		}
	case "set env":
		if containsString(c.Positionals, "-") || containsString(c.Flags["env"], "-") {
			return `reading environment variables from stdin ("-") is not supported`
		}
	}
	return ""
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
