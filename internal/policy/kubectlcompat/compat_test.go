package kubectlcompat

import (
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectl "k8s.io/kubectl/pkg/cmd"

	"github.com/kubently/kubently/internal/policy"
)

func TestMain(m *testing.M) {
	// kubectl reads ~/.kube/kuberc when it builds its commands; keep the
	// developer's own file out of the comparison.
	home, err := os.MkdirTemp("", "kubectlcompat")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// loggingFlags are the global flags kubectl's main() adds through
// k8s.io/component-base/logs (klog's -v and --vmodule, and
// --log-flush-frequency), outside the command tree NewKubectlCommand builds.
var loggingFlags = map[string]bool{"v": true, "vmodule": true, "log-flush-frequency": true}

// newKubectl builds kubectl's real command tree, plus the logging flags its
// main() would add (with the same names, shorthand and value syntax).
func newKubectl() *cobra.Command {
	root := kubectl.NewKubectlCommand(kubectl.KubectlOptions{
		Arguments: []string{"kubectl"},
		IOStreams: genericiooptions.NewTestIOStreamsDiscard(),
	})
	pf := root.PersistentFlags()
	pf.Int32P("v", "v", 0, "log level (klog Level)")
	pf.String("vmodule", "", "per-file log levels")
	pf.Duration("log-flush-frequency", 5*time.Second, "log flush interval")
	return root
}

// kindOf describes a kubectl flag the way policy.FlagInfo.Kind does.
func kindOf(f *pflag.Flag) string {
	switch t := f.Value.Type(); t {
	case "bool":
		return "bool"
	case "string":
		if f.NoOptDefVal != "" {
			return "opt=" + f.NoOptDefVal
		}
		return "string"
	case "int", "int32", "int64":
		return f.Value.Type()
	case "Level":
		return "int32"
	case "duration":
		return "duration"
	case "stringSlice":
		return "slice"
	case "stringArray":
		return "array"
	case "mapStringString":
		return "map"
	default:
		return "unknown type " + t
	}
}

// findCommand returns kubectl's command for a path such as "rollout history".
func findCommand(t *testing.T, root *cobra.Command, path string) *cobra.Command {
	t.Helper()
	c, rest, err := root.Find(strings.Fields(path))
	if err != nil || len(rest) != 0 || strings.TrimPrefix(c.CommandPath(), "kubectl ") != path {
		t.Fatalf("kubectl has no command %q (found %q, rest %q, err %v)", path, c.CommandPath(), rest, err)
	}
	return c
}

// TestFlagTableMatchesKubectl compares, for every command policy knows, its
// flag table with the flags kubectl's command really has: names, shorthands,
// whether they take a value, and value kinds.
func TestFlagTableMatchesKubectl(t *testing.T) {
	root := newKubectl()
	global := root.PersistentFlags()
	for _, path := range policy.KnownCommands() {
		c := findCommand(t, root, path)
		c.InheritedFlags() // merges the root's persistent flags into c.Flags()
		local := c.LocalNonPersistentFlags()
		want := map[string]policy.FlagInfo{}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			want[f.Name] = policy.FlagInfo{
				Name: f.Name, Shorthand: f.Shorthand, Kind: kindOf(f), TakesValue: f.NoOptDefVal == "",
				NoOptDefVal: f.NoOptDefVal, Hidden: f.Hidden,
				Global: global.Lookup(f.Name) != nil && local.Lookup(f.Name) == nil,
			}
		})
		got, ok := policy.KnownFlags(path)
		if !ok {
			t.Errorf("policy has no flags for %q", path)
			continue
		}
		for _, g := range got {
			w, ok := want[g.Name]
			if !ok {
				t.Errorf("%s: policy knows --%s, kubectl does not", path, g.Name)
				continue
			}
			if g != w {
				t.Errorf("%s --%s:\npolicy  %+v\nkubectl %+v", path, g.Name, g, w)
			}
			delete(want, g.Name)
		}
		for name := range want {
			t.Errorf("%s: kubectl has --%s, policy's table does not", path, name)
		}
	}
}

// TestEveryKubectlCommandIsClassified checks that every kubectl command is
// either known to policy or refused with a reason (never "unknown"), and
// that policy knows no command kubectl lacks.
func TestEveryKubectlCommandIsClassified(t *testing.T) {
	root := newKubectl()
	known := map[string]bool{}
	for _, p := range policy.KnownCommands() {
		known[p] = true
		findCommand(t, root, p)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			path := strings.TrimPrefix(sub.CommandPath(), "kubectl ")
			parent := strings.TrimPrefix(c.CommandPath(), "kubectl")
			if parent != "" && !known[strings.TrimSpace(parent)] {
				continue // below a command refused as a whole (config, plugin, ...)
			}
			if !known[path] {
				_, err := policy.Parse("", strings.Fields(path))
				if err == nil || !strings.Contains(err.Error(), "is never allowed") {
					t.Errorf("kubectl command %q is neither known to policy nor refused with a reason (Parse: %v)", path, err)
				}
				continue
			}
			walk(sub)
		}
	}
	walk(root)
}

// compareParse parses argv with policy and with kubectl's cobra/pflag and
// reports any difference in how they understand it. When policy refuses to
// parse, there is nothing to compare: being stricter is allowed.
func compareParse(t *testing.T, argv []string) {
	t.Helper()
	ours, err := policy.Parse("", argv)
	if err != nil {
		return
	}
	root := newKubectl()
	c, rest, err := root.Find(argv)
	if err != nil {
		t.Fatalf("%q: policy parsed it as %q, kubectl finds no command: %v", argv, ours.Argv(), err)
	}
	if got := strings.TrimPrefix(c.CommandPath(), "kubectl "); got != ours.Path() {
		t.Fatalf("%q: policy runs %q, kubectl runs %q", argv, ours.Path(), got)
	}
	c.InitDefaultHelpFlag() // cobra adds -h/--help when it executes a command
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("%q: policy parsed it as %q, kubectl's flag parsing fails: %v", argv, ours.Argv(), err)
	}
	fs := c.Flags()
	changed := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) {
		changed[f.Name] = true
		vals, ok := ours.Flags[f.Name]
		if !ok {
			t.Errorf("%q: kubectl sets --%s=%s, policy saw no such flag", argv, f.Name, f.Value.String())
			return
		}
		last := vals[len(vals)-1]
		switch f.Value.Type() {
		case "stringArray":
			got, _ := fs.GetStringArray(f.Name)
			if strings.Join(got, "\x00") != strings.Join(vals, "\x00") {
				t.Errorf("%q: --%s is %q to kubectl, %q to policy", argv, f.Name, got, vals)
			}
		case "stringSlice":
			got, _ := fs.GetStringSlice(f.Name)
			var ourVals []string
			for _, v := range vals {
				if v == "" {
					continue
				}
				rec, err := csv.NewReader(strings.NewReader(v)).Read()
				if err != nil {
					t.Errorf("%q: policy accepted --%s=%q, which is not a valid list", argv, f.Name, v)
					return
				}
				ourVals = append(ourVals, rec...)
			}
			if strings.Join(got, "\x00") != strings.Join(ourVals, "\x00") {
				t.Errorf("%q: --%s is %q to kubectl, %q to policy", argv, f.Name, got, ourVals)
			}
		case "mapStringString":
			// Only create clusterrole --aggregation-rule; presence is enough.
		case "int", "int32", "int64":
			want, err := strconv.ParseInt(last, 0, 64)
			if err != nil || strconv.FormatInt(want, 10) != f.Value.String() {
				t.Errorf("%q: --%s is %s to kubectl, %q to policy", argv, f.Name, f.Value.String(), last)
			}
		case "duration":
			want, err := time.ParseDuration(last)
			if err != nil || want.String() != f.Value.String() {
				t.Errorf("%q: --%s is %s to kubectl, %q to policy", argv, f.Name, f.Value.String(), last)
			}
		default: // string, bool
			if f.Value.String() != last {
				t.Errorf("%q: --%s is %q to kubectl, %q to policy", argv, f.Name, f.Value.String(), last)
			}
		}
	})
	for name := range ours.Flags {
		if !changed[name] {
			t.Errorf("%q: policy saw --%s=%q, kubectl did not", argv, name, ours.Flags[name])
		}
	}
	theirs := fs.Args()
	mine := append(append([]string(nil), ours.Positionals...), ours.ExecArgs...)
	if strings.Join(theirs, "\x00") != strings.Join(mine, "\x00") || len(theirs) != len(mine) {
		t.Errorf("%q: positionals are %q to kubectl, %q to policy", argv, theirs, mine)
	}
	if len(ours.ExecArgs) > 0 && c.ArgsLenAtDash() != len(ours.Positionals) {
		t.Errorf("%q: kubectl puts %d arguments before \"--\", policy %d", argv, c.ArgsLenAtDash(), len(ours.Positionals))
	}
}

// parseSeeds are argvs worth comparing; each is split on spaces.
var parseSeeds = []string{
	"get pods -n kube-system -o wide",
	"get -Aw=false pods,secrets a b",
	"get -nfirst -o=json --namespace second secret/x",
	"get pods -Anx",
	"get pods -n -A",
	"get pods -n=",
	"get pods --all_namespaces --show_labels",
	"get pods -L app,tier -L env --label-columns=x",
	"get pods --chunk-size=0x10 --request-timeout 5s",
	"get pods -- --server=x -w",
	"get pods -v 3",
	"get pods -v=4 --vmodule=x=2",
	"get pods --log-flush-frequency=1m",
	"get -oyaml pods -lapp=web",
	"get pods -Awo wide",
	"rollout -n prod history deploy/web --revision=3",
	"rollout -n history status deploy/x",
	"rollout status deploy/x -w=false --timeout 90s",
	"top po -A --sort-by memory",
	"top nodes --show-capacity",
	"exec -c app web-0 -- sh -c ls --kubeconfig=/x",
	"exec -i=false -qc app web-0 -- ls",
	"logs deploy/web app --tail 20 -p --since=1h30m",
	"logs -f=false -lapp=x --max-log-requests 10",
	"events -A --for pod/x --types Warning,Normal",
	"describe pods -l app=x --show-events=false",
	"explain deploy.spec -R --api-version apps/v1",
	"auth can-i get secrets -n x -q",
	"auth can-i --list --no-headers",
	"api-resources --verbs=get,list -o name --namespaced",
	"version --client -o json",
	"create secret generic s --from-literal=a=b --from-literal c=d --dry-run",
	"create secret generic s --from-literal=a=b,c=d --dry-run=client -o name",
	"create deploy web --image=nginx --image=redis -r 3 -- nginx -g x",
	"create rolebinding rb --clusterrole=view --user=alice --user bob",
	"create cm c --from-literal=x=y --append-hash",
	"create clusterrole r --verb=get,list --resource=pods --aggregation-rule=a=b",
	"create service clusterip s --tcp=80:8080",
	"create svc nodeport s --node-port 30000 --tcp 80:80",
	"delete pods x --grace-period=0 --force --cascade",
	"delete pods -l app=x --cascade=orphan --wait=false",
	"scale deploy/web --replicas 3 --current-replicas=2",
	"label pods a b env=prod tier- --overwrite",
	"annotate deploy web note=x --overwrite=true",
	"taint no n1 gpu=true:NoSchedule",
	"drain n1 n2 --ignore-daemonsets --timeout=2m",
	"patch deploy web -p {} --type=merge",
	"set image deploy/web app=nginx:1 --all",
	"set env deploy/web -e A=B -e C=D --containers=app",
	"set sa deploy/web builder",
	"set subject rolebinding rb --user=u --group=g",
	"run tmp --image=busybox --restart=Never --env A=B -- sleep 5",
	"autoscale deploy web --min=2 --max=5",
	"expose deploy web --port=80 --target-port=8080",
	"cordon n1 --dry-run=server",
}

func TestParseMatchesKubectl(t *testing.T) {
	for _, s := range parseSeeds {
		argv := strings.Fields(s)
		if _, err := policy.Parse("", argv); err != nil {
			t.Errorf("policy cannot parse seed %q: %v", s, err)
			continue
		}
		compareParse(t, argv)
	}
}

// FuzzParseMatchesKubectl checks, for any argv policy can parse, that kubectl
// understands it the same way: same command, same flag values, same
// positionals. Run it with: go test -fuzz FuzzParseMatchesKubectl.
func FuzzParseMatchesKubectl(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv := strings.Split(line, " ")
		// kubectl matches commands case-sensitively; policy does not.
		if len(argv) == 0 || argv[0] != strings.ToLower(argv[0]) || argv[0] == "kubectl" {
			return
		}
		compareParse(t, argv)
	})
}
