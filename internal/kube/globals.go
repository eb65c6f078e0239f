package kube

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	cliflag "k8s.io/component-base/cli/flag"
)

// wordSepNormalize makes --all_namespaces equal --all-namespaces, as kubectl does.
var wordSepNormalize = cliflag.WordSepNormalizeFunc

// globalFlags are kubectl's persistent (root) flags that make sense for an
// in-process run. Flags that would switch credentials, cluster or local files
// (--kubeconfig, --token, --as, --server, ...) are registered too, so they
// parse, and then refused: commands always run with the executor's own
// identity and configuration.
type globalFlags struct {
	namespace        string
	requestTimeout   string
	warningsAsErrors bool

	refusedStrings map[string]*string
	refusedBools   map[string]*bool
	refusedSlices  map[string]*[]string
}

// refusedGlobalStringFlags lists kubectl's string-valued global flags that
// the runner refuses (name -> shorthand).
var refusedGlobalStringFlags = map[string]string{
	"kubeconfig":            "",
	"cache-dir":             "",
	"certificate-authority": "",
	"client-certificate":    "",
	"client-key":            "",
	"token":                 "",
	"as":                    "",
	"as-uid":                "",
	"username":              "",
	"password":              "",
	"cluster":               "",
	"user":                  "",
	"context":               "",
	"server":                "s",
	"tls-server-name":       "",
	"profile":               "",
	"profile-output":        "",
	"kuberc":                "",
	"v":                     "v",
	"vmodule":               "",
}

var refusedGlobalBoolFlags = []string{"insecure-skip-tls-verify", "disable-compression", "match-server-version"}

var refusedGlobalSliceFlags = []string{"as-group", "as-user-extra"}

func (g *globalFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&g.namespace, "namespace", "n", "", "If present, the namespace scope for this CLI request")
	fs.StringVar(&g.requestTimeout, "request-timeout", "0", "The length of time to wait before giving up on a single server request.")
	fs.BoolVar(&g.warningsAsErrors, "warnings-as-errors", false, "Treat warnings received from the server as errors and exit with a non-zero exit code")
	g.refusedStrings = map[string]*string{}
	g.refusedBools = map[string]*bool{}
	g.refusedSlices = map[string]*[]string{}
	for name, short := range refusedGlobalStringFlags {
		v := new(string)
		fs.StringVarP(v, name, short, "", "not supported by kubently")
		g.refusedStrings[name] = v
		_ = fs.MarkHidden(name)
	}
	for _, name := range refusedGlobalBoolFlags {
		v := new(bool)
		fs.BoolVar(v, name, false, "not supported by kubently")
		g.refusedBools[name] = v
		_ = fs.MarkHidden(name)
	}
	for _, name := range refusedGlobalSliceFlags {
		v := new([]string)
		fs.StringArrayVar(v, name, nil, "not supported by kubently")
		g.refusedSlices[name] = v
		_ = fs.MarkHidden(name)
	}
}

// check refuses any credential/configuration flag the user set.
func (g *globalFlags) check(cmd *cobra.Command) error {
	var set []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		_, s := g.refusedStrings[f.Name]
		_, b := g.refusedBools[f.Name]
		_, l := g.refusedSlices[f.Name]
		if s || b || l {
			set = append(set, "--"+f.Name)
		}
	})
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	return fmt.Errorf("kubently: flag %s is not supported: commands run with the executor's own credentials, cluster and configuration", strings.Join(set, ", "))
}

// timeout parses --request-timeout with kubectl's own parser (a bare
// integer is seconds, otherwise a Go duration; "0" means no timeout).
func (g *globalFlags) timeout() (time.Duration, error) {
	if g.requestTimeout == "" {
		return 0, nil
	}
	return clientcmd.ParseTimeout(g.requestTimeout)
}

// localFileFlags read files (or URLs) on the executor's machine.
var localFileFlags = []string{"filename", "kustomize", "patch-file"}

// checkLocalFiles refuses flags and output formats that would make the
// executor read local files: the command's input must come from the cluster.
func checkLocalFiles(cmd *cobra.Command) error {
	for _, name := range localFileFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return fmt.Errorf("kubently: --%s is not supported: the executor does not read local files or URLs", name)
		}
	}
	if f := cmd.Flags().Lookup("output"); f != nil {
		format, _, _ := strings.Cut(f.Value.String(), "=")
		if strings.HasSuffix(format, "-file") || format == "templatefile" {
			return fmt.Errorf("kubently: output format %q is not supported: the executor does not read local files", format)
		}
	}
	return nil
}
