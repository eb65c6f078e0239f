package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	componentversion "k8s.io/component-base/version"
	kubectlversion "k8s.io/kubectl/pkg/cmd/version"
	"sigs.k8s.io/yaml"
)

// kubectlModule is the module whose release the in-process kubectl is.
const kubectlModule = "k8s.io/kubectl"

// fallbackLibraryVersion is used when the binary carries no module build
// information (it matches the k8s.io/kubectl version pinned in go.mod).
const fallbackLibraryVersion = "v0.37.2"

// fallbackKustomizeVersion is what kubectl itself prints when it cannot read
// kustomize's module version from its build information.
const fallbackKustomizeVersion = "v5.8.1"

var (
	libVersionOnce sync.Once
	libVersion     apimachineryversion.Info
)

// libraryVersion is the "client version" of the in-process kubectl. A binary
// stamped through k8s.io/component-base/version (as kubectl's release builds
// are) reports that stamp; otherwise the k8s.io/kubectl module version
// v0.X.Y is reported as v1.X.Y, the kubectl release it was cut from.
func libraryVersion() apimachineryversion.Info {
	libVersionOnce.Do(func() {
		libVersion = componentversion.Get()
		if !strings.HasPrefix(libVersion.GitVersion, "v0.0.0") && libVersion.GitVersion != "" {
			return
		}
		mod := fallbackLibraryVersion
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, d := range bi.Deps {
				if d.Path == kubectlModule && strings.HasPrefix(d.Version, "v0.") {
					mod = d.Version
				}
			}
		}
		v, err := utilversion.ParseSemantic(mod)
		if err != nil {
			return
		}
		libVersion.GitVersion = fmt.Sprintf("v1.%d.%d", v.Minor(), v.Patch())
		libVersion.Major = "1"
		libVersion.Minor = fmt.Sprint(v.Minor())
		libVersion.GitTreeState = ""
		libVersion.GitCommit = ""
		libVersion.BuildDate = ""
	})
	return libVersion
}

func kustomizeVersion() string {
	if v, ok := kubectlversion.GetKustomizeModVersion(); ok {
		return v
	}
	return fallbackKustomizeVersion
}

// newVersion implements `kubectl version`. kubectl's own implementation
// reports the client version from link-time stamps that an embedding binary
// does not carry (and would then warn about a 0.0 vs 1.x skew), so this
// prints the same text and structures with libraryVersion as the client.
func (e *runEnv) newVersion() *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{Use: "version", Short: "Print the client and server version information"}
	cmd.Flags().BoolVar(&clientOnly, "client", clientOnly, "If true, shows client version only (no server required).")
	cmd.Flags().StringVarP(&output, "output", "o", output, "One of 'yaml' or 'json'.")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 0 {
			return fmt.Errorf("extra arguments: %v", args)
		}
		if output != "" && output != "yaml" && output != "json" {
			return errors.New(`--output must be 'yaml' or 'json'`)
		}
		client := libraryVersion()
		info := kubectlversion.Version{ClientVersion: &client, KustomizeVersion: kustomizeVersion()}
		var serverErr error
		if !clientOnly {
			info.ServerVersion, serverErr = e.r.serverVersion(e.ctx)
		}
		out := e.streams.Out
		switch output {
		case "":
			fmt.Fprintf(out, "Client Version: %s\n", info.ClientVersion.GitVersion)
			fmt.Fprintf(out, "Kustomize Version: %s\n", info.KustomizeVersion)
			if info.ServerVersion != nil {
				fmt.Fprintf(out, "Server Version: %s\n", info.ServerVersion.GitVersion)
			}
		case "yaml":
			b, err := yaml.Marshal(&info)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, string(b))
		case "json":
			b, err := json.MarshalIndent(&info, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(out, string(b))
		}
		if info.ServerVersion != nil {
			if msg := versionSkewWarning(client, *info.ServerVersion); msg != "" {
				if e.global.warningsAsErrors {
					return errors.New(msg)
				}
				fmt.Fprintf(e.streams.ErrOut, "Warning: %s\n", msg)
			}
		}
		return serverErr
	}
	return cmd
}

// versionSkewWarning returns kubectl's warning when client and server are
// more than one minor version apart (or differ in major version).
func versionSkewWarning(client, server apimachineryversion.Info) string {
	c, err1 := utilversion.ParseSemantic(client.GitVersion)
	s, err2 := utilversion.ParseSemantic(server.GitVersion)
	if err1 != nil || err2 != nil {
		return ""
	}
	const supportedMinorSkew = 1
	if c.Major() != s.Major() || math.Abs(float64(c.Minor())-float64(s.Minor())) > supportedMinorSkew {
		return fmt.Sprintf("version difference between client (%d.%d) and server (%d.%d) exceeds the supported minor version skew of +/-%d",
			c.Major(), c.Minor(), s.Major(), s.Minor(), supportedMinorSkew)
	}
	return ""
}
