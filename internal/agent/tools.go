package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/llm"
)

// tool is one capability offered to the model (and used by the offline
// diagnosis). Every tool reaches clusters only through Kubectl, so it runs
// under the caller's identity, policy and audit.
type tool struct {
	name, description string
	schema            string
	run               func(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error)
}

// toolset is the agent's tools, in the order they are offered.
func toolset() []tool {
	return []tool{
		{
			name:        "triage",
			description: "Run Kubently's deterministic analyzers in a cluster (CrashLoopBackOff, image pulls, OOMKilled, config errors, unschedulable pods, probes, failed creates, services without endpoints, NotReady nodes, warning events). Returns findings with evidence, root cause and fix. Call this FIRST.",
			schema:      `{"type":"object","properties":{"cluster_id":{"type":"string","description":"Cluster to analyze (default: the conversation's cluster)"},"namespace":{"type":"string","description":"Limit to one namespace (default: all)"},"selector":{"type":"string","description":"Label selector to limit pods"}}}`,
			run:         runTriage,
		},
		{
			name:        "list_clusters",
			description: "List the clusters you may use, with their connection status and security mode.",
			schema:      `{"type":"object","properties":{}}`,
			run:         runListClusters,
		},
		{
			name:        "execute_kubectl",
			description: "Run one read-only kubectl command in a cluster, e.g. \"get pods -n shop -o wide\" or \"describe deployment/checkout -n shop\" or \"logs pod/web-1 -n shop --tail=50\". Do not include the word kubectl.",
			schema:      `{"type":"object","properties":{"cluster_id":{"type":"string"},"command":{"type":"string","description":"kubectl arguments, e.g. get pods -A"}},"required":["command"]}`,
			run:         runExecute,
		},
		{
			name:        "execute_kubectl_multi",
			description: "Run the same read-only kubectl command in several clusters in parallel (all clusters you may use when cluster_ids is empty). Each cluster's output or error is reported separately.",
			schema:      `{"type":"object","properties":{"cluster_ids":{"type":"array","items":{"type":"string"}},"command":{"type":"string"}},"required":["command"]}`,
			run:         runMulti,
		},
		{
			name:        "get_events_for_resource",
			description: "Events of a resource and of its owners (pod -> replicaset -> deployment, pod -> job).",
			schema:      `{"type":"object","properties":{"cluster_id":{"type":"string"},"namespace":{"type":"string"},"kind":{"type":"string","description":"e.g. pod, deployment"},"name":{"type":"string"}},"required":["namespace","kind","name"]}`,
			run:         runEventsFor,
		},
		{
			name:        "get_recent_changes",
			description: "Timeline of recent changes in a namespace: new ReplicaSet revisions (rollouts, with images), and events, newest last.",
			schema:      `{"type":"object","properties":{"cluster_id":{"type":"string"},"namespace":{"type":"string"},"since_minutes":{"type":"integer","description":"Look back this far (default 60)"}},"required":["namespace"]}`,
			run:         runRecentChanges,
		},
		{
			name:        "search_pod_logs",
			description: "Search the recent logs of the pods matching a label selector for a regular expression; the search runs inside the cluster and returns matching lines only.",
			schema:      `{"type":"object","properties":{"cluster_id":{"type":"string"},"namespace":{"type":"string"},"selector":{"type":"string"},"pattern":{"type":"string","description":"RE2 regular expression"},"tail":{"type":"integer","description":"Lines per container to search (default 500)"}},"required":["namespace","selector","pattern"]}`,
			run:         runSearchLogs,
		},
	}
}

func (t tool) spec() llm.Tool {
	return llm.Tool{Name: t.name, Description: t.description, Parameters: json.RawMessage(t.schema)}
}

func str(args map[string]any, key string) string {
	s, _ := args[key].(string)
	return strings.TrimSpace(s)
}

func num(args map[string]any, key string, def int) int {
	switch v := args[key].(type) {
	case float64:
		return int(v)
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// clusterFor picks the cluster of a tool call: the argument, else the
// conversation's cluster, else the only cluster the caller can use.
func (a *Agent) clusterFor(ctx context.Context, inv *Investigation, args map[string]any) (string, error) {
	if c := str(args, "cluster_id"); c != "" {
		return c, nil
	}
	if inv.Req.ClusterID != "" {
		return inv.Req.ClusterID, nil
	}
	cs, err := a.kubectl.Clusters(ctx, inv.Req.Principal)
	if err != nil {
		return "", err
	}
	if len(cs) == 1 {
		return cs[0].ClusterID, nil
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.ClusterID
	}
	return "", fmt.Errorf("several clusters are available (%s): pass cluster_id", strings.Join(names, ", "))
}

// render formats a command result for the model.
func render(res api.Result) string {
	switch res.Status {
	case api.StatusCompleted:
		out := res.Output
		if w := strings.TrimSpace(res.Warnings); w != "" {
			out += "\n" + w
		}
		if strings.TrimSpace(out) == "" {
			return "(no output)"
		}
		return out
	case api.StatusTimeout:
		return "the command timed out" + errText(res)
	default:
		code := ""
		if res.ExitCode != nil {
			code = fmt.Sprintf(" (exit code %d)", *res.ExitCode)
		}
		out := "the command failed" + code + errText(res)
		if strings.TrimSpace(res.Output) != "" {
			out += "\n" + res.Output
		}
		return out
	}
}

func errText(res api.Result) string {
	if res.Error != nil && *res.Error != "" {
		return ": " + *res.Error
	}
	return ""
}

func runExecute(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	c, err := a.clusterFor(ctx, inv, args)
	if err != nil {
		return "", err
	}
	argv, err := splitCommand(str(args, "command"))
	if err != nil {
		return "", err
	}
	res, err := a.kubectl.Run(ctx, inv, c, argv)
	if err != nil {
		return "", err
	}
	return render(res), nil
}

func runListClusters(ctx context.Context, a *Agent, inv *Investigation, _ map[string]any) (string, error) {
	cs, err := a.kubectl.Clusters(ctx, inv.Req.Principal)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "You have no clusters.", nil
	}
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s: %s", c.ClusterID, c.Status)
		if c.SecurityMode != "" {
			fmt.Fprintf(&b, ", mode %s", c.SecurityMode)
		}
		if c.KubernetesVersion != "" {
			fmt.Fprintf(&b, ", kubernetes %s", c.KubernetesVersion)
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func runMulti(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	argv, err := splitCommand(str(args, "command"))
	if err != nil {
		return "", err
	}
	var ids []string
	if raw, ok := args["cluster_ids"].([]any); ok {
		for _, v := range raw {
			if s, ok := v.(string); ok && s != "" {
				ids = append(ids, s)
			}
		}
	}
	if len(ids) == 0 {
		cs, err := a.kubectl.Clusters(ctx, inv.Req.Principal)
		if err != nil {
			return "", err
		}
		for _, c := range cs {
			ids = append(ids, c.ClusterID)
		}
	}
	// Each cluster gets an equal share of the output budget and its own failure.
	share := a.cfg.ToolOutputBytes / max(len(ids), 1)
	outs := make([]string, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.kubectl.Run(ctx, inv, id, argv)
			text := ""
			if err != nil {
				text = "error: " + describeError(err)
			} else {
				text = render(res)
			}
			outs[i] = fmt.Sprintf("=== cluster %s\n%s", id, capText(text, share, "narrow the command for this cluster"))
		}()
	}
	wg.Wait()
	return strings.Join(outs, "\n"), nil
}

func runTriage(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	c, err := a.clusterFor(ctx, inv, args)
	if err != nil {
		return "", err
	}
	res, err := a.kubectl.Run(ctx, inv, c, triageArgv(str(args, "namespace"), str(args, "selector")))
	if err != nil {
		return "", err
	}
	return render(res), nil
}

// triageArgv is the executor extension command that runs the analyzers.
func triageArgv(namespace, selector string) []string {
	argv := []string{"kubently", "triage"}
	if namespace != "" {
		argv = append(argv, "-n", namespace)
	} else {
		argv = append(argv, "-A")
	}
	if selector != "" {
		argv = append(argv, "-l", selector)
	}
	return argv
}

func runSearchLogs(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	c, err := a.clusterFor(ctx, inv, args)
	if err != nil {
		return "", err
	}
	argv := []string{"kubently", "logsearch", "-n", str(args, "namespace"), "-l", str(args, "selector"), "--pattern", str(args, "pattern"), "--tail", strconv.Itoa(num(args, "tail", 500))}
	res, err := a.kubectl.Run(ctx, inv, c, argv)
	if err != nil {
		return "", err
	}
	return render(res), nil
}

// ownerRef is the part of metadata.ownerReferences the chain walk needs.
type objectMeta struct {
	Metadata struct {
		Name            string `json:"name"`
		OwnerReferences []struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Kind string `json:"kind"`
}

func runEventsFor(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	c, err := a.clusterFor(ctx, inv, args)
	if err != nil {
		return "", err
	}
	ns, kind, name := str(args, "namespace"), strings.ToLower(str(args, "kind")), str(args, "name")
	var b strings.Builder
	seen := map[string]bool{}
	for depth := 0; depth < 4 && name != "" && !seen[kind+"/"+name]; depth++ {
		seen[kind+"/"+name] = true
		ref := kind + "/" + name
		res, err := a.kubectl.Run(ctx, inv, c, []string{"events", "-n", ns, "--for", ref})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "=== events for %s\n%s\n", ref, render(res))
		obj, err := a.kubectl.Run(ctx, inv, c, []string{"get", ref, "-n", ns, "-o", "json"})
		if err != nil || obj.Status != api.StatusCompleted {
			break
		}
		var m objectMeta
		if json.Unmarshal([]byte(obj.Output), &m) != nil || len(m.Metadata.OwnerReferences) == 0 {
			break
		}
		kind, name = strings.ToLower(m.Metadata.OwnerReferences[0].Kind), m.Metadata.OwnerReferences[0].Name
		fmt.Fprintf(&b, "(owned by %s/%s)\n", kind, name)
	}
	return b.String(), nil
}

type listJSON struct {
	Items []struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name              string            `json:"name"`
			CreationTimestamp time.Time         `json:"creationTimestamp"`
			Annotations       map[string]string `json:"annotations"`
			OwnerReferences   []struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"ownerReferences"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name  string `json:"name"`
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
		// Event fields.
		Type           string    `json:"type"`
		Reason         string    `json:"reason"`
		Message        string    `json:"message"`
		LastTimestamp  time.Time `json:"lastTimestamp"`
		EventTime      time.Time `json:"eventTime"`
		InvolvedObject struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"involvedObject"`
	} `json:"items"`
}

func runRecentChanges(ctx context.Context, a *Agent, inv *Investigation, args map[string]any) (string, error) {
	c, err := a.clusterFor(ctx, inv, args)
	if err != nil {
		return "", err
	}
	ns := str(args, "namespace")
	since := time.Now().Add(-time.Duration(num(args, "since_minutes", 60)) * time.Minute)
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	rs, err := a.kubectl.Run(ctx, inv, c, []string{"get", "replicasets", "-n", ns, "-o", "json"})
	if err != nil {
		return "", err
	}
	var l listJSON
	if rs.Status == api.StatusCompleted && json.Unmarshal([]byte(rs.Output), &l) == nil {
		for _, it := range l.Items {
			if it.Metadata.CreationTimestamp.Before(since) {
				continue
			}
			owner := ""
			if len(it.Metadata.OwnerReferences) > 0 {
				owner = " of " + strings.ToLower(it.Metadata.OwnerReferences[0].Kind) + "/" + it.Metadata.OwnerReferences[0].Name
			}
			var images []string
			for _, ct := range it.Spec.Template.Spec.Containers {
				images = append(images, ct.Name+"="+ct.Image)
			}
			lines = append(lines, line{it.Metadata.CreationTimestamp, fmt.Sprintf("new replicaset/%s%s (revision %s) images: %s", it.Metadata.Name, owner, it.Metadata.Annotations["deployment.kubernetes.io/revision"], strings.Join(images, ", "))})
		}
	}
	ev, err := a.kubectl.Run(ctx, inv, c, []string{"get", "events", "-n", ns, "-o", "json"})
	if err != nil {
		return "", err
	}
	l = listJSON{}
	if ev.Status == api.StatusCompleted && json.Unmarshal([]byte(ev.Output), &l) == nil {
		for _, it := range l.Items {
			at := it.LastTimestamp
			if at.IsZero() {
				at = it.EventTime
			}
			if at.Before(since) {
				continue
			}
			lines = append(lines, line{at, fmt.Sprintf("%s %s %s/%s: %s", it.Type, it.Reason, strings.ToLower(it.InvolvedObject.Kind), it.InvolvedObject.Name, it.Message)})
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("No changes or events in namespace %s since %s.", ns, since.UTC().Format(time.RFC3339)), nil
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b strings.Builder
	for _, ln := range lines {
		fmt.Fprintf(&b, "%s  %s\n", ln.at.UTC().Format(time.RFC3339), ln.text)
	}
	return b.String(), nil
}

// capText keeps text within limit bytes and says how to narrow the query.
func capText(s string, limit int, hint string) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	cut := s[:limit]
	if i := strings.LastIndexByte(cut, '\n'); i > limit/2 {
		cut = cut[:i+1]
	}
	return cut + fmt.Sprintf("\n[output truncated at %d of %d bytes: %s]\n", len(cut), len(s), hint)
}
