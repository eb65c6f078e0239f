// Package execext implements the executor's extension commands — work that
// is best done next to the cluster so that only a compact answer leaves it:
//
//	kubently triage [-n NS | -A] [-l SELECTOR]
//	kubently logsearch -n NS -l SELECTOR --pattern RE [--tail N]
//
// triage runs the deterministic analyzers of package analyze; logsearch
// greps the recent logs of the selected pods — and the previous container's
// logs when a container restarted, where a crash's last words are — and
// returns matching lines only.
// Both are read-only, use the executor's own (read-only) client, and are
// checked by the security policy like any kubectl command.
package execext

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubently/kubently/internal/analyze"
)

// Verb is the command type of every extension command.
const Verb = "kubently"

// Handles reports whether argv (verb first) is an extension command.
func Handles(argv []string) bool { return len(argv) > 0 && argv[0] == Verb }

// Result mirrors what a kubectl run reports.
type Result struct {
	Output   string
	Error    string
	ExitCode int
}

func fail(format string, args ...any) Result {
	return Result{Error: "error: " + fmt.Sprintf(format, args...), ExitCode: 1}
}

// Run executes an extension command with client.
func Run(ctx context.Context, client kubernetes.Interface, argv []string) Result {
	if len(argv) < 2 {
		return fail("kubently needs a subcommand: triage or logsearch")
	}
	switch argv[1] {
	case "triage":
		return triage(ctx, client, argv[2:])
	case "logsearch":
		return logsearch(ctx, client, argv[2:])
	}
	return fail("unknown kubently subcommand %q (supported: triage, logsearch)", argv[1])
}

func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func triage(ctx context.Context, client kubernetes.Interface, args []string) Result {
	fs := flags("triage")
	ns := fs.String("n", "", "namespace")
	fs.StringVar(ns, "namespace", "", "namespace")
	all := fs.Bool("A", false, "all namespaces")
	fs.BoolVar(all, "all-namespaces", false, "all namespaces")
	sel := fs.String("l", "", "label selector")
	fs.StringVar(sel, "selector", "", "label selector")
	if err := fs.Parse(args); err != nil {
		return fail("kubently triage: %v", err)
	}
	if *all {
		*ns = ""
	}
	findings, err := analyze.Triage(ctx, client, analyze.Options{Namespace: *ns, LabelSelector: *sel, IncludeLogs: true, MaxFindings: 50})
	if err != nil {
		return fail("kubently triage: %v", err)
	}
	return Result{Output: analyze.Render(findings)}
}

func logsearch(ctx context.Context, client kubernetes.Interface, args []string) Result {
	fs := flags("logsearch")
	ns := fs.String("n", "", "namespace")
	fs.StringVar(ns, "namespace", "", "namespace")
	sel := fs.String("l", "", "label selector")
	fs.StringVar(sel, "selector", "", "label selector")
	pattern := fs.String("pattern", "", "RE2 pattern")
	tail := fs.Int64("tail", 500, "lines per container")
	if err := fs.Parse(args); err != nil {
		return fail("kubently logsearch: %v", err)
	}
	if *ns == "" || *sel == "" || *pattern == "" {
		return fail("kubently logsearch needs -n NAMESPACE, -l SELECTOR and --pattern REGEX")
	}
	if *tail < 1 || *tail > 10000 {
		return fail("--tail must be between 1 and 10000")
	}
	re, err := regexp.Compile(*pattern)
	if err != nil {
		return fail("invalid --pattern: %v", err)
	}
	pods, err := client.CoreV1().Pods(*ns).List(ctx, metav1.ListOptions{LabelSelector: *sel})
	if err != nil {
		return fail("%v", err)
	}
	if len(pods.Items) == 0 {
		return Result{Output: fmt.Sprintf("No pods in namespace %s match %s.\n", *ns, *sel)}
	}
	type hit struct{ source, text string }
	var mu sync.Mutex
	var hits []hit
	var problems []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	restarted := func(p corev1.Pod, container string) bool {
		for _, st := range p.Status.ContainerStatuses {
			if st.Name == container {
				return st.RestartCount > 0
			}
		}
		return false
	}
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			for _, previous := range []bool{false, true} {
				if previous && !restarted(p, c.Name) {
					continue
				}
				source := p.Name + "/" + c.Name
				if previous {
					source += " (previous)"
				}
				wg.Add(1)
				go func(pod, container, source string, previous bool) {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					lines, err := podLog(ctx, client, *ns, pod, container, *tail, previous)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						problems = append(problems, fmt.Sprintf("%s: %v", source, err))
						return
					}
					for _, l := range lines {
						if re.MatchString(l) {
							hits = append(hits, hit{source, l})
						}
					}
				}(p.Name, c.Name, source, previous)
			}
		}
	}
	wg.Wait()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].source < hits[j].source })
	sort.Strings(problems)
	var b strings.Builder
	fmt.Fprintf(&b, "%d matching lines for /%s/ in %d pods (last %d lines per container)\n", len(hits), *pattern, len(pods.Items), *tail)
	for _, h := range hits {
		fmt.Fprintf(&b, "%s: %s\n", h.source, h.text)
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "could not read %s\n", p)
	}
	return Result{Output: b.String()}
}

func podLog(ctx context.Context, client kubernetes.Interface, ns, pod, container string, tail int64, previous bool) ([]string, error) {
	rc, err := client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &tail, Previous: previous}).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 8<<20))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}
