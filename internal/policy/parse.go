package policy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseError is returned by Parse when an argv is not a command this package
// can interpret: an unknown verb or flag, a missing flag value, a malformed
// resource argument, or a command that is never supported.
type ParseError struct {
	// Msg says what is wrong, e.g. `unknown flag --foo for "get"`.
	Msg string
}

// Error returns the message.
func (e *ParseError) Error() string { return e.Msg }

func parseErrorf(format string, a ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, a...)}
}

// Parse parses a kubectl invocation the way kubectl v1.37 (cobra and pflag)
// would: --flag=value, --flag value, -n value, -nvalue, -n=value, combined
// short booleans (-Aw), "--" ending the flags, bool flags with =true|false,
// and "_" equal to "-" in long flag names. Every flag must be known for the
// command: an unknown flag is an error, because it cannot be known whether it
// would consume the next argument.
//
// commandType is the kubectl verb ("get", "rollout", ...) and args the rest
// of the argv. commandType may also hold the command path ("rollout
// history"), or be "" with the verb as args[0] (a leading "kubectl" is
// skipped). The verb is matched case-insensitively; subcommands, like
// everything else, exactly as kubectl does.
//
// Parse does not decide whether a command is allowed: use Policy.Check.
func Parse(commandType string, args []string) (*Command, error) {
	verb, rest, err := splitVerb(commandType, args)
	if err != nil {
		return nil, err
	}
	n := root.children[verb]
	if n == nil {
		return nil, parseErrorf("unknown verb %q", verb)
	}
	return parseNode(n, rest)
}

// splitVerb returns the lower-case verb and the remaining arguments.
func splitVerb(commandType string, args []string) (string, []string, error) {
	if len(args) > maxArgs {
		return "", nil, parseErrorf("too many arguments: %d (at most %d)", len(args), maxArgs)
	}
	words := strings.Fields(strings.ToLower(commandType))
	rest := append([]string(nil), args...)
	if len(words) > 0 && words[0] == "kubectl" {
		words = words[1:]
	}
	if len(words) == 0 {
		if len(rest) > 0 && rest[0] == "kubectl" {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return "", nil, parseErrorf("no kubectl command given")
		}
		if strings.HasPrefix(rest[0], "-") {
			return "", nil, parseErrorf("the kubectl verb must come first, before any flag (got %q)", rest[0])
		}
		return strings.ToLower(rest[0]), rest[1:], nil
	}
	// A command path such as "rollout history": the later words are the
	// subcommands, which come first among the arguments.
	if len(words)+len(rest) > maxArgs {
		return "", nil, parseErrorf("too many arguments: %d (at most %d)", len(words)+len(rest), maxArgs)
	}
	return words[0], append(words[1:], rest...), nil
}

// neverError builds the refusal for a command that is refused in every mode.
func neverError(n *node) error {
	kind := "command"
	if !strings.Contains(n.path, " ") {
		kind = "verb"
	}
	return parseErrorf("%s %q is never allowed: %s", kind, n.path, n.never)
}

// parseNode resolves subcommands below n and parses the remaining argv.
func parseNode(n *node, args []string) (*Command, error) {
	if n.never != "" {
		return nil, neverError(n)
	}
	for len(n.children) > 0 {
		i := findSubcommand(n.flags, args)
		if i < 0 {
			break
		}
		child := n.children[args[i]] // case-sensitive, as in kubectl
		if child == nil {
			if n.needsSub {
				return nil, parseErrorf("unknown subcommand %q for %q (expected one of: %s)", args[i], n.path, strings.Join(n.subcommandNames(), ", "))
			}
			break
		}
		if child.never != "" {
			return nil, neverError(child)
		}
		args = append(append([]string(nil), args[:i]...), args[i+1:]...)
		n = child
	}
	if n.needsSub {
		if n.path == "create" {
			return nil, parseErrorf("%q needs a subcommand (one of: %s); creating from files is not allowed", n.path, strings.Join(n.subcommandNames(), ", "))
		}
		return nil, parseErrorf("%q needs a subcommand (one of: %s)", n.path, strings.Join(n.subcommandNames(), ", "))
	}

	occs, positionals, dashAt, err := parseFlags(n, args)
	if err != nil {
		return nil, err
	}
	verb, sub, _ := strings.Cut(n.path, " ")
	c := &Command{Verb: verb, Subcommand: sub, Flags: map[string][]string{}}
	for _, o := range occs {
		if o.spec.kind == kindList {
			c.Flags[o.spec.name] = append(c.Flags[o.spec.name], o.value)
		} else {
			c.Flags[o.spec.name] = []string{o.value}
		}
	}
	c.Namespace, _ = c.Flag("namespace")
	c.AllNamespaces = c.BoolFlag("all-namespaces")
	c.Output, _ = c.Flag("output")

	if runsProgram(n.path) && dashAt >= 0 {
		c.Positionals = positionals[:dashAt]
		c.ExecArgs = positionals[dashAt:]
		if len(c.ExecArgs) == 0 {
			c.ExecArgs = nil
		}
	} else {
		c.Positionals = positionals
	}
	if len(c.Positionals) == 0 {
		c.Positionals = nil
	}
	if err := interpretPositionals(n, c); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if !seen["r/"+t.Resource] {
			seen["r/"+t.Resource] = true
			c.Resources = append(c.Resources, t.Resource)
		}
		if t.Name != "" && !seen["n/"+t.Name] {
			seen["n/"+t.Name] = true
			c.Names = append(c.Names, t.Name)
		}
	}
	return c, nil
}

// Limits that keep parsing cheap whatever the input: kubectl command lines
// are short, and the TYPE,TYPE NAME NAME form multiplies.
const (
	maxArgs    = 1000 // arguments in one command
	maxTargets = 1000 // resource/name pairs in one command
)

// findSubcommand returns the index of the first argument that is not a flag
// or a flag's value, or -1. It mirrors cobra's stripFlags: "--flag" without
// "=" and "-f" consume the next argument unless the flag is known to have an
// optional value (a boolean); "--" ends the search.
func findSubcommand(t *flagTable, args []string) int {
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			return -1
		case strings.HasPrefix(s, "--") && !strings.Contains(s, "="):
			if spec := t.lookupLong(s[2:]); spec == nil || spec.takesValue() {
				i++
			}
		case len(s) == 2 && s[0] == '-' && s[1] != '=':
			if spec := t.lookupShort(s[1]); spec == nil || spec.takesValue() {
				i++
			}
		case s != "" && !strings.HasPrefix(s, "-"):
			return i
		}
	}
	return -1
}

// occurrence is one flag as found in the argv.
type occurrence struct {
	spec  *flagSpec
	value string
}

// parseFlags mirrors pflag's FlagSet.Parse with interspersed arguments. It
// returns the flags in order, the positional arguments, and the number of
// positionals before "--" (-1 when there was no "--").
func parseFlags(n *node, args []string) (occs []occurrence, positionals []string, dashAt int, err error) {
	dashAt = -1
	t := n.flags
	for len(args) > 0 {
		s := args[0]
		args = args[1:]
		if len(s) < 2 || s[0] != '-' {
			positionals = append(positionals, s)
			continue
		}
		if s == "--" {
			dashAt = len(positionals)
			positionals = append(positionals, args...)
			break
		}
		if s[1] == '-' {
			name := s[2:]
			if name[0] == '-' || name[0] == '=' {
				return nil, nil, 0, parseErrorf("bad flag syntax: %s", s)
			}
			name, value, hasValue := strings.Cut(name, "=")
			spec := t.lookupLong(name)
			if spec == nil {
				return nil, nil, 0, parseErrorf("unknown flag --%s for %q", name, n.path)
			}
			switch {
			case hasValue:
			case !spec.takesValue():
				value = spec.noOpt
			case len(args) > 0:
				value, args = args[0], args[1:]
			default:
				return nil, nil, 0, parseErrorf("flag %s needs a value", displayFlag(spec))
			}
			o, err := newOccurrence(spec, value)
			if err != nil {
				return nil, nil, 0, err
			}
			occs = append(occs, o)
			continue
		}
		// Short flags: "-abc" is a series of shorthands; the last one may
		// take the rest of the word ("-nkube-system", "-n=x") or the next
		// argument as its value.
		shorthands := s[1:]
		if strings.HasPrefix(shorthands, "test.") {
			return nil, nil, 0, parseErrorf("bad flag syntax: %s", s)
		}
		consumed := false
		for len(shorthands) > 0 {
			c := shorthands[0]
			spec := t.lookupShort(c)
			if spec == nil {
				if len(s) == 2 {
					return nil, nil, 0, parseErrorf("unknown flag -%c for %q", c, n.path)
				}
				return nil, nil, 0, parseErrorf("unknown flag -%c in %s for %q", c, s, n.path)
			}
			var value string
			switch {
			case len(shorthands) > 2 && shorthands[1] == '=':
				value, shorthands = shorthands[2:], ""
			case !spec.takesValue():
				value, shorthands = spec.noOpt, shorthands[1:]
			case len(shorthands) > 1:
				value, shorthands = shorthands[1:], ""
			case len(args) > 0 && !consumed:
				value, shorthands = args[0], ""
				args = args[1:]
				consumed = true
			default:
				return nil, nil, 0, parseErrorf("flag %s needs a value", displayFlag(spec))
			}
			o, err := newOccurrence(spec, value)
			if err != nil {
				return nil, nil, 0, err
			}
			occs = append(occs, o)
		}
	}
	return occs, positionals, dashAt, nil
}

// newOccurrence checks a flag value the way the flag's pflag type would and
// normalizes booleans to "true"/"false".
func newOccurrence(spec *flagSpec, value string) (occurrence, error) {
	switch spec.kind {
	case kindBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return occurrence{}, parseErrorf("invalid value %q for flag %s: must be true or false", value, displayFlag(spec))
		}
		value = strconv.FormatBool(b)
	case kindInt:
		base := 0
		if spec.name == "v" {
			base = 10 // klog's Level
		}
		if _, err := strconv.ParseInt(value, base, spec.bits); err != nil {
			return occurrence{}, parseErrorf("invalid value %q for flag %s: must be an integer", value, displayFlag(spec))
		}
	case kindList:
		switch spec.kindID {
		case "slice": // pflag stringSlice: one CSV record
			if value != "" {
				if _, err := csv.NewReader(strings.NewReader(value)).Read(); err != nil {
					return occurrence{}, parseErrorf("invalid value %q for flag %s: not a comma-separated list: %v", value, displayFlag(spec), err)
				}
			}
		case "map": // kubectl's mapStringString: key=value pairs
			for _, kv := range strings.Split(value, ",") {
				if kv != "" && !strings.Contains(kv, "=") {
					return occurrence{}, parseErrorf("invalid value %q for flag %s: expected key=value pairs", value, displayFlag(spec))
				}
			}
		}
	case kindDuration:
		if _, err := time.ParseDuration(value); err != nil {
			return occurrence{}, parseErrorf("invalid value %q for flag %s: must be a duration such as 30s or 5m", value, displayFlag(spec))
		}
	}
	return occurrence{spec: spec, value: value}, nil
}

// displayFlag names a flag for messages: "--watch", or "-w/--watch" when it
// has a shorthand.
func displayFlag(spec *flagSpec) string {
	if spec.short != 0 {
		return "-" + string(spec.short) + "/--" + spec.name
	}
	return "--" + spec.name
}

// interpretPositionals fills Targets from the positionals according to the
// command's shape, and rejects argument lists kubectl would reject in a way
// that matters for knowing what the command reaches.
func interpretPositionals(n *node, c *Command) error {
	args := c.Positionals
	switch n.shape {
	case shapeNoArgs:
		if len(args) > 0 {
			return parseErrorf("%q takes no arguments (got %q)", n.path, args[0])
		}
		if n.resource != "" {
			c.Targets = append(c.Targets, Target{Type: n.resource, Resource: n.resource})
		}
	case shapeResources:
		return c.addResourceArgs(args)
	case shapeResourcePairs, shapeEnvPairs, shapeTaint:
		isPair := func(s string) bool {
			return (strings.Contains(s, "=") && s[0] != '=') || (strings.HasSuffix(s, "-") && s != "-")
		}
		what := "label"
		switch {
		case n.path == "annotate":
			what = "annotation"
		case n.path == "set image":
			what = "image"
		case n.shape == shapeEnvPairs:
			what = "environment"
			isPair = func(s string) bool { return strings.LastIndex(s, "=") >= 1 || strings.HasSuffix(s, "-") }
		case n.shape == shapeTaint:
			what = "taint"
			isPair = func(s string) bool {
				return strings.Contains(s, "=") || strings.Contains(s, ":") || strings.HasSuffix(s, "-")
			}
		}
		var resources []string
		for i, s := range args {
			if isPair(s) {
				for _, r := range args[i+1:] {
					if !isPair(r) {
						return parseErrorf("all resources must be specified before %s changes: %s", what, r)
					}
				}
				break
			}
			resources = append(resources, s)
		}
		return c.addResourceArgs(resources)
	case shapeLastSelector, shapeLastName:
		if len(args) == 0 {
			return nil
		}
		return c.addResourceArgs(args[:len(args)-1])
	case shapeLogs, shapeExec:
		max, usage := 2, "POD [CONTAINER]"
		if n.shape == shapeExec {
			max, usage = 1, "POD -- COMMAND [args...]"
		}
		if len(args) > max {
			if n.shape == shapeExec {
				return parseErrorf("exec takes exactly one pod before \"--\": use exec POD -- COMMAND [args...]")
			}
			return parseErrorf("%q takes %s (got %d arguments)", n.path, usage, len(args))
		}
		if len(args) == 0 {
			return nil
		}
		if strings.Contains(args[0], "/") {
			return c.addResourceArgs(args[:1])
		}
		c.Targets = append(c.Targets, Target{Type: "pods", Resource: "pods", Name: args[0]})
	case shapeNodes:
		if len(args) == 0 {
			c.Targets = append(c.Targets, Target{Type: "nodes", Resource: "nodes"})
		}
		for _, a := range args {
			c.Targets = append(c.Targets, Target{Type: "nodes", Resource: "nodes", Name: a})
		}
	case shapeTop:
		if len(args) > 1 {
			return parseErrorf("%q takes at most one NAME (got %d arguments)", n.path, len(args))
		}
		t := Target{Type: n.resource, Resource: n.resource}
		if len(args) == 1 {
			t.Name = args[0]
		}
		c.Targets = append(c.Targets, t)
	case shapeExplain:
		if len(args) > 1 {
			return parseErrorf("%q takes one TYPE[.FIELD...] (got %d arguments)", n.path, len(args))
		}
		if len(args) == 1 {
			typ, _, _ := strings.Cut(args[0], ".")
			r, err := CanonicalResource(typ)
			if err != nil {
				return &ParseError{Msg: err.Error()}
			}
			c.Targets = append(c.Targets, Target{Type: typ, Resource: r})
		}
	case shapeCanI:
		if len(args) > 3 {
			return parseErrorf("%q takes VERB [TYPE | TYPE/NAME | NONRESOURCEURL] [NAME] (got %d arguments)", n.path, len(args))
		}
	case shapeCreate:
		if len(args) != 1 {
			return parseErrorf("%q needs exactly one NAME (got %d arguments)", n.path, len(args))
		}
		c.Targets = append(c.Targets, Target{Type: n.resource, Resource: n.resource, Name: args[0]})
	case shapeRun:
		if len(args) == 0 {
			return parseErrorf("\"run\" needs a NAME")
		}
		c.Targets = append(c.Targets, Target{Type: "pods", Resource: "pods", Name: args[0]})
	default:
		return errors.New("policy: unhandled command shape")
	}
	return nil
}

// addResourceArgs interprets resource arguments the way kubectl's resource
// builder does: either every argument is TYPE/NAME, or the first is
// TYPE[,TYPE...] and the others are names.
func (c *Command) addResourceArgs(args []string) error {
	if len(args) == 0 {
		return nil
	}
	slashes := 0
	for _, a := range args {
		if strings.Contains(a, "/") {
			slashes++
		}
	}
	var targets []Target
	if slashes > 0 {
		if slashes != len(args) {
			return parseErrorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>')")
		}
		if len(args) > maxTargets {
			return parseErrorf("too many resource arguments: %d (at most %d)", len(args), maxTargets)
		}
		for _, a := range args {
			parts := strings.Split(a, "/")
			if len(parts) != 2 {
				return parseErrorf("arguments in resource/name form may not have more than one slash: %q", a)
			}
			if parts[0] == "" || parts[1] == "" || strings.Contains(parts[0], ",") {
				return parseErrorf("arguments in resource/name form must have a single resource and name: %q", a)
			}
			targets = append(targets, Target{Type: parts[0], Name: parts[1]})
		}
	} else {
		var types []string
		seen := map[string]bool{}
		for _, t := range strings.Split(args[0], ",") {
			if !seen[t] {
				seen[t] = true
				types = append(types, t)
			}
		}
		if len(types)*max(1, len(args)-1) > maxTargets {
			return parseErrorf("too many resource arguments: %d types times %d names is more than %d", len(types), len(args)-1, maxTargets)
		}
		for _, t := range types {
			if len(args) == 1 {
				targets = append(targets, Target{Type: t})
			}
			for _, name := range args[1:] {
				targets = append(targets, Target{Type: t, Name: name})
			}
		}
	}
	for i := range targets {
		r, err := CanonicalResource(targets[i].Type)
		if err != nil {
			return &ParseError{Msg: err.Error()}
		}
		targets[i].Resource = r
	}
	c.Targets = append(c.Targets, targets...)
	return nil
}
