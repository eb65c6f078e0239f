package policy

import (
	"fmt"
	"sort"
	"strings"
)

// shape says how a command's positional arguments are interpreted.
type shape uint8

const (
	shapeNoArgs        shape = iota // no positional arguments at all (version, events, ...)
	shapeResources                  // TYPE[,TYPE...] [NAME...] | TYPE/NAME... (get, describe, delete, ...)
	shapeResourcePairs              // resources, then KEY=VALUE / KEY- pairs (label, annotate, set image)
	shapeEnvPairs                   // resources, then KEY=VALUE / KEY- / "-" (set env)
	shapeTaint                      // resources, then taints (KEY=VALUE:EFFECT, KEY:EFFECT, KEY-)
	shapeLastSelector               // resources, then a label selector as the last argument (set selector)
	shapeLastName                   // resources, then a ServiceAccount name as the last argument (set serviceaccount)
	shapeLogs                       // POD | TYPE/NAME, then an optional container name
	shapeExec                       // POD | TYPE/NAME, then "--" and the command
	shapeNodes                      // NODE... (cordon, uncordon, drain)
	shapeTop                        // optional object name of the command's fixed resource (top pod, top node)
	shapeExplain                    // TYPE[.FIELD...]
	shapeCanI                       // VERB [TYPE | TYPE/NAME | NONRESOURCEURL] (auth can-i)
	shapeCreate                     // NAME of the command's fixed resource; "--" then an optional command
	shapeRun                        // NAME of a pod; optional container arguments, after "--" or not
)

// node is one kubectl command (or command group) in the tree this package
// understands.
type node struct {
	path     string           // command path, e.g. "rollout history"
	name     string           // last word of path
	aliases  []string         // cobra aliases of this command
	children map[string]*node // subcommands by name and alias
	// never, when set, means the command is refused in every mode; the text
	// says why and completes "... is never allowed: ".
	never string
	// needsSub means the command does nothing useful without a subcommand
	// (kubectl prints help or, for create, requires files).
	needsSub bool
	shape    shape
	resource string // fixed resource of shapeTop, shapeCreate and events
	flags    *flagTable
	// extension marks Kubently's own executor commands (kubently triage,
	// kubently logsearch): not kubectl commands, so not in KnownCommands.
	extension bool
}

// flagKind says how a flag consumes its value, mirroring pflag.
type flagKind uint8

const (
	kindString    flagKind = iota // takes a value; last occurrence wins
	kindBool                      // optional value, "true" when given alone
	kindOptString                 // optional string value with a default (noOpt)
	kindInt                       // takes an integer value
	kindDuration                  // takes a Go duration
	kindList                      // takes a value; every occurrence is kept
)

// flagSpec is one flag kubectl accepts for a command.
type flagSpec struct {
	name   string
	short  byte
	kind   flagKind
	kindID string // the kind as written in kubectlFlags ("bool", "slice", "opt=unchanged", ...)
	noOpt  string // value used when the flag is given without a value ("" = value required)
	bits   int    // size of an integer flag's value (32 or 64)
	hidden bool
	global bool // inherited from the root command (not defined by the command itself)
}

// takesValue reports whether the flag consumes the next argument when given
// without "=" (pflag: no NoOptDefVal).
func (s *flagSpec) takesValue() bool { return s.noOpt == "" }

// flagTable is the merged set of flags of one command: its own flags plus the
// global ones it inherits. A command's own flag shadows a global flag of the
// same name, as in cobra (e.g. --user of "create rolebinding" names a subject).
type flagTable struct {
	long  map[string]*flagSpec
	short map[byte]*flagSpec
}

func (t *flagTable) lookupLong(name string) *flagSpec { return t.long[normalizeFlagName(name)] }

func (t *flagTable) lookupShort(c byte) *flagSpec { return t.short[c] }

// normalizeFlagName mirrors kubectl's WordSepNormalizeFunc: "_" and "-" are
// the same in flag names, so --all_namespaces is --all-namespaces and
// --insecure_skip_tls_verify is --insecure-skip-tls-verify.
func normalizeFlagName(name string) string { return strings.ReplaceAll(name, "_", "-") }

// parseFlagLines turns a kubectlFlags entry into flag specs.
func parseFlagLines(text string, global bool) []*flagSpec {
	var out []*flagSpec
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 || len(fields) > 3 || (len(fields) == 3 && fields[2] != "hidden") {
			panic(fmt.Sprintf("policy: bad flag table line %q", line))
		}
		s := &flagSpec{kindID: fields[1], hidden: len(fields) == 3, global: global}
		name, short, hasShort := strings.Cut(fields[0], ",")
		s.name = name
		if hasShort {
			if len(short) != 1 {
				panic(fmt.Sprintf("policy: bad shorthand in %q", line))
			}
			s.short = short[0]
		}
		switch k := fields[1]; {
		case k == "bool":
			s.kind, s.noOpt = kindBool, "true"
		case strings.HasPrefix(k, "opt="):
			s.kind, s.noOpt = kindOptString, strings.TrimPrefix(k, "opt=")
		case k == "string":
			s.kind = kindString
		case k == "int" || k == "int64":
			s.kind, s.bits = kindInt, 64
		case k == "int32":
			s.kind, s.bits = kindInt, 32
		case k == "duration":
			s.kind = kindDuration
		case k == "slice" || k == "array" || k == "map":
			s.kind = kindList
		default:
			panic(fmt.Sprintf("policy: bad flag kind in %q", line))
		}
		out = append(out, s)
	}
	return out
}

// helpFlag is cobra's -h/--help, which every command has.
var helpFlag = &flagSpec{name: "help", short: 'h', kind: kindBool, kindID: "bool", noOpt: "true"}

func newFlagTable(path string, globals []*flagSpec) *flagTable {
	local, ok := kubectlFlags[path]
	if !ok {
		local, ok = extensionFlags[path]
	}
	if !ok {
		panic("policy: no flag table for " + path)
	}
	t := &flagTable{long: map[string]*flagSpec{}, short: map[byte]*flagSpec{}}
	add := func(s *flagSpec, shadow bool) {
		if _, dup := t.long[s.name]; dup {
			if shadow {
				return
			}
			panic("policy: duplicate flag " + s.name + " in " + path)
		}
		t.long[s.name] = s
		if s.short != 0 {
			if _, dup := t.short[s.short]; !dup {
				t.short[s.short] = s
			}
		}
	}
	for _, s := range parseFlagLines(local, false) {
		add(s, false)
	}
	for _, s := range globals {
		add(s, true)
	}
	add(helpFlag, true)
	return t
}

// nodeDef declares one command of the tree.
type nodeDef struct {
	path      string
	aliases   []string
	shape     shape
	resource  string
	needsSub  bool
	never     string
	extension bool
}

// commandDefs lists every kubectl command this package knows. Commands with a
// never reason are recognised only to refuse them with a clear reason; the
// others have a flag table in kubectlFlags.
var commandDefs = []nodeDef{
	// read-only commands
	{path: "get", shape: shapeResources},
	{path: "describe", shape: shapeResources},
	{path: "explain", shape: shapeExplain},
	{path: "version", shape: shapeNoArgs},
	{path: "cluster-info", shape: shapeNoArgs},
	{path: "cluster-info dump", never: "it dumps the state of the whole cluster and every pod's logs, optionally into files on the executor"},
	{path: "logs", shape: shapeLogs},
	{path: "events", shape: shapeNoArgs, resource: "events"},
	{path: "top", needsSub: true},
	{path: "top node", aliases: []string{"nodes", "no"}, shape: shapeTop, resource: "nodes"},
	{path: "top pod", aliases: []string{"pods", "po"}, shape: shapeTop, resource: "pods"},
	{path: "api-resources", shape: shapeNoArgs},
	{path: "api-versions", shape: shapeNoArgs},
	{path: "rollout", needsSub: true},
	{path: "rollout history", shape: shapeResources},
	{path: "rollout status", shape: shapeResources},
	{path: "rollout restart", shape: shapeResources},
	{path: "rollout undo", shape: shapeResources},
	{path: "rollout pause", shape: shapeResources},
	{path: "rollout resume", shape: shapeResources},
	{path: "auth", needsSub: true},
	{path: "auth can-i", shape: shapeCanI},
	{path: "auth reconcile", never: "it needs file input (-f), and only \"auth can-i\" is supported"},
	{path: "auth whoami", never: "only \"auth can-i\" is supported"},
	// extendedReadOnly
	{path: "exec", shape: shapeExec},
	// fullAccess
	{path: "create", needsSub: true},
	{path: "create clusterrole", shape: shapeCreate, resource: "clusterroles"},
	{path: "create clusterrolebinding", shape: shapeCreate, resource: "clusterrolebindings"},
	{path: "create configmap", aliases: []string{"cm"}, shape: shapeCreate, resource: "configmaps"},
	{path: "create cronjob", aliases: []string{"cj"}, shape: shapeCreate, resource: "cronjobs"},
	{path: "create deployment", aliases: []string{"deploy"}, shape: shapeCreate, resource: "deployments"},
	{path: "create ingress", aliases: []string{"ing"}, shape: shapeCreate, resource: "ingresses"},
	{path: "create job", shape: shapeCreate, resource: "jobs"},
	{path: "create namespace", aliases: []string{"ns"}, shape: shapeCreate, resource: "namespaces"},
	{path: "create poddisruptionbudget", aliases: []string{"pdb"}, shape: shapeCreate, resource: "poddisruptionbudgets"},
	{path: "create priorityclass", aliases: []string{"pc"}, shape: shapeCreate, resource: "priorityclasses"},
	{path: "create quota", aliases: []string{"resourcequota"}, shape: shapeCreate, resource: "resourcequotas"},
	{path: "create role", shape: shapeCreate, resource: "roles"},
	{path: "create rolebinding", shape: shapeCreate, resource: "rolebindings"},
	{path: "create secret", needsSub: true},
	{path: "create secret docker-registry", shape: shapeCreate, resource: "secrets"},
	{path: "create secret generic", shape: shapeCreate, resource: "secrets"},
	{path: "create secret tls", shape: shapeCreate, resource: "secrets"},
	{path: "create service", aliases: []string{"svc"}, needsSub: true},
	{path: "create service clusterip", shape: shapeCreate, resource: "services"},
	{path: "create service externalname", shape: shapeCreate, resource: "services"},
	{path: "create service loadbalancer", shape: shapeCreate, resource: "services"},
	{path: "create service nodeport", shape: shapeCreate, resource: "services"},
	{path: "create serviceaccount", aliases: []string{"sa"}, shape: shapeCreate, resource: "serviceaccounts"},
	{path: "create token", never: "it mints ServiceAccount tokens, which are credentials"},
	{path: "delete", shape: shapeResources},
	{path: "scale", shape: shapeResources},
	{path: "label", shape: shapeResourcePairs},
	{path: "annotate", shape: shapeResourcePairs},
	{path: "cordon", shape: shapeNodes},
	{path: "uncordon", shape: shapeNodes},
	{path: "drain", shape: shapeNodes},
	{path: "patch", shape: shapeResources},
	{path: "set", needsSub: true},
	{path: "set env", shape: shapeEnvPairs},
	{path: "set image", shape: shapeResourcePairs},
	{path: "set resources", shape: shapeResources},
	{path: "set selector", shape: shapeLastSelector},
	{path: "set serviceaccount", aliases: []string{"sa"}, shape: shapeLastName},
	{path: "set subject", shape: shapeResources},
	{path: "taint", shape: shapeTaint},
	{path: "autoscale", shape: shapeResources},
	{path: "expose", shape: shapeResources},
	{path: "run", shape: shapeRun},
	// Kubently's executor extension commands (package execext): read-only
	// analyses that run next to the cluster and return compact answers.
	{path: "kubently", needsSub: true, extension: true},
	{path: "kubently triage", shape: shapeNoArgs, resource: "pods", extension: true},
	{path: "kubently logsearch", shape: shapeNoArgs, resource: "pods", extension: true},
	// never, in any mode
	{path: "proxy", never: "it exposes the API server through a long-lived proxy"},
	{path: "port-forward", never: "it opens long-lived network tunnels into pods"},
	{path: "attach", never: "it attaches to a container's interactive input and output"},
	{path: "cp", never: "it copies files between the executor and containers"},
	{path: "debug", never: "it creates debugging containers and privileged node pods"},
	{path: "edit", never: "it needs an interactive editor"},
	{path: "plugin", never: "kubectl plugins are local programs"},
	{path: "config", never: "it reads or changes the executor's kubeconfig, which holds its credentials"},
	{path: "kuberc", never: "it reads or changes the executor's local kubectl preferences"},
	{path: "completion", never: "shell completion is a local feature of your own kubectl"},
	{path: "options", never: "it only prints kubectl's help"},
	{path: "help", never: "help is a local feature: run kubectl help on your machine"},
	{path: "alpha", never: "alpha commands are not supported"},
	{path: "kustomize", never: "it reads files on the executor"},
	{path: "apply", never: "it needs file input (-f/-k), and files on the executor are never read"},
	{path: "replace", never: "it needs file input (-f), and files on the executor are never read"},
	{path: "diff", never: "it needs file input (-f/-k), and files on the executor are never read"},
	{path: "wait", never: "it is not supported; poll with get or rollout status instead"},
	{path: "certificate", never: "approving or denying certificate signing requests mints cluster credentials"},
}

// extensionFlags are the flag tables of the extension commands, in the
// format of kubectlFlags.
var extensionFlags = map[string]string{
	"kubently": `
`,
	"kubently triage": `
		all-namespaces,A bool
		selector,l string
`,
	"kubently logsearch": `
		selector,l string
		pattern string
		tail int64
`,
}

// root is the command tree built from commandDefs and kubectlFlags.
var root = buildTree()

func buildTree() *node {
	globals := parseFlagLines(kubectlFlags["global"], true)
	r := &node{children: map[string]*node{}}
	for _, d := range commandDefs {
		words := strings.Fields(d.path)
		parent := r
		for _, w := range words[:len(words)-1] {
			p := parent.children[w]
			if p == nil {
				panic("policy: parent of " + d.path + " not declared before it")
			}
			parent = p
		}
		n := &node{
			path: d.path, name: words[len(words)-1], aliases: d.aliases,
			children: map[string]*node{}, never: d.never, needsSub: d.needsSub,
			shape: d.shape, resource: d.resource, extension: d.extension,
		}
		if d.never == "" {
			n.flags = newFlagTable(d.path, globals)
		}
		for _, key := range append([]string{n.name}, d.aliases...) {
			if _, dup := parent.children[key]; dup {
				panic("policy: duplicate command " + d.path)
			}
			parent.children[key] = n
		}
	}
	return r
}

// lookupPath returns the node of a command path such as "rollout history".
func lookupPath(path string) *node {
	n := root
	for _, w := range strings.Fields(path) {
		n = n.children[w]
		if n == nil {
			return nil
		}
	}
	if n == root {
		return nil
	}
	return n
}

// subcommandNames lists the canonical names of a node's subcommands that are
// not refused outright, sorted, for error messages.
func (n *node) subcommandNames() []string {
	var out []string
	for key, c := range n.children {
		if key == c.name && c.never == "" {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// FlagInfo describes one flag kubectl accepts for a command, as recorded in
// this package's table. It exists so that tests (and tools such as shell
// completion) can compare the table with kubectl itself.
type FlagInfo struct {
	Name        string // long name without dashes, e.g. "namespace"
	Shorthand   string // one letter, or "" when the flag has none
	Kind        string // "bool", "string", "int", "int32", "int64", "duration", "slice", "array", "map" or "opt=<default>"
	TakesValue  bool   // true when "--flag x" consumes x (no default for a bare --flag)
	NoOptDefVal string // value of a bare --flag when it does not take a value
	Global      bool   // inherited from kubectl's root command
	Hidden      bool   // deprecated and hidden in kubectl, but still accepted
}

// KnownCommands returns the paths of every command with a flag table (e.g.
// "get", "rollout history", "create secret generic"), sorted. Commands that
// are refused in every mode (proxy, cp, config, ...) are not included.
func KnownCommands() []string {
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		for key, c := range n.children {
			if key != c.name {
				continue
			}
			if c.flags != nil && !c.extension {
				out = append(out, c.path)
			}
			walk(c)
		}
	}
	walk(root)
	sort.Strings(out)
	return out
}

// KnownFlags returns the flags of a command path from KnownCommands, including
// the global flags it inherits, sorted by name. ok is false for an unknown path.
func KnownFlags(path string) (flags []FlagInfo, ok bool) {
	n := lookupPath(path)
	if n == nil || n.flags == nil {
		return nil, false
	}
	for _, s := range n.flags.long {
		if s == helpFlag {
			continue
		}
		fi := FlagInfo{Name: s.name, Kind: s.kindID, TakesValue: s.takesValue(), NoOptDefVal: s.noOpt, Global: s.global, Hidden: s.hidden}
		if s.short != 0 {
			fi.Shorthand = string(s.short)
		}
		flags = append(flags, fi)
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	return flags, true
}
