package analyze

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Thresholds for "stuck" states. Pods younger than this are given time unless an Event
// already says what is wrong.
const (
	stuckCreatingAfter = 3 * time.Minute
	stuckInitAfter     = 2 * time.Minute
	stuckDeletingAfter = 5 * time.Minute
	recentRestart      = time.Hour
)

// podCtx bundles what every pod analyzer needs.
type podCtx struct {
	pod   *corev1.Pod
	owner string // top owner, "deployment/web" (or "pod/x")
}

func (pc podCtx) ns() string { return pc.pod.Namespace }

// ownerPhrase names the owner in fixes: "deployment/web" or "the pod spec of pod/x".
func (pc podCtx) ownerPhrase() string {
	if strings.HasPrefix(pc.owner, "pod/") {
		return "the pod spec (" + pc.owner + "; recreate the pod)"
	}
	return pc.owner
}

// addPod records a pod-level finding, grouped by owner, analyzer and container so that the
// replicas of one Deployment give one finding.
func (t *triage) addPod(pc podCtx, container string, f Finding) *finding {
	f.Namespace = pc.ns()
	f.Resource = pc.owner
	group := strings.Join([]string{pc.ns(), pc.owner, f.Analyzer, container}, "|")
	nf := t.add(group, f, pc.pod.Name)
	t.podIssue[nsName{pc.ns(), pc.pod.Name}] = nf
	t.cover(pc.ns(), "pod/"+pc.pod.Name, pc.owner)
	for _, ref := range pc.pod.OwnerReferences {
		t.cover(pc.ns(), resourceName(ref.Kind, ref.Name))
		if ref.Kind == "ReplicaSet" {
			if rs := t.s.replicaSets[nsName{pc.ns(), ref.Name}]; rs != nil {
				for _, r2 := range rs.OwnerReferences {
					t.cover(pc.ns(), resourceName(r2.Kind, r2.Name))
				}
			}
		}
	}
	return nf
}

// analyzePod diagnoses one pod.
func (t *triage) analyzePod(ctx context.Context, p *corev1.Pod) {
	s := t.s
	if p.Status.Phase == corev1.PodSucceeded {
		return
	}
	if n := s.nodes[p.Spec.NodeName]; n != nil && !nodeReady(n) {
		return // the node finding explains it
	}
	pc := podCtx{pod: p, owner: s.podOwner(p)}
	switch {
	case p.DeletionTimestamp != nil:
		t.stuckTerminating(pc)
		return
	case p.Status.Phase == corev1.PodFailed:
		t.failedPod(ctx, pc)
		return
	case p.Spec.NodeName == "":
		t.unschedulable(ctx, pc)
		return
	}

	statuses := map[string]*corev1.ContainerStatus{}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			statuses[list[i].Name] = &list[i]
		}
	}
	// Init containers run in order; while one has not completed, the others and the app
	// containers wait, so only it is analyzed.
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		st := statuses[c.Name]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if st == nil {
			continue
		}
		if sidecar {
			if t.containerProblem(ctx, pc, c, st, false) {
				return
			}
			continue
		}
		if st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
			continue
		}
		t.containerProblem(ctx, pc, c, st, true)
		return
	}
	found := false
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		if st := statuses[c.Name]; st != nil {
			found = t.containerProblem(ctx, pc, c, st, false) || found
		}
	}
	if !found && len(p.Status.ContainerStatuses) == 0 && p.Status.Phase == corev1.PodPending {
		t.stuckCreating(ctx, pc, nil)
	}
}

// containerProblem diagnoses one container and reports whether it found a problem.
func (t *triage) containerProblem(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus, init bool) bool {
	if w := st.State.Waiting; w != nil {
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable", "ImageInspectError", "SignatureValidationFailed":
			t.imagePull(ctx, pc, c, st)
			return true
		case "CreateContainerConfigError":
			t.configError(ctx, pc, c, st)
			return true
		case "CreateContainerError", "RunContainerError", "StartError", "ContainerCannotRun", "PreStartHookError", "PostStartHookError", "PreCreateHookError":
			t.startError(pc, c, st)
			return true
		case "ContainerCreating":
			return t.stuckCreating(ctx, pc, c)
		case "PodInitializing":
			return false
		}
	}
	term := st.State.Terminated
	last := st.LastTerminationState.Terminated
	crashing := (st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff") || (term != nil && term.ExitCode != 0)

	var oom *corev1.ContainerStateTerminated
	switch {
	case term != nil && term.Reason == "OOMKilled":
		oom = term
	case last != nil && last.Reason == "OOMKilled":
		oom = last
	}
	if oom != nil && (crashing || t.recent(oom.FinishedAt.Time, recentRestart)) {
		t.oomKilled(ctx, pc, c, st, oom, crashing)
		return true
	}
	// A probe restart shows as a kill (137/143, or 0 after a graceful stop); an instance that
	// exited by itself with another code crashed, whatever its probes said meanwhile.
	lt := lastTermination(st)
	killed := lt == nil || lt.ExitCode == 137 || lt.ExitCode == 143 || lt.ExitCode == 0
	if st.RestartCount > 0 && killed {
		for _, pr := range []struct {
			kind  string
			probe *corev1.Probe
		}{{"Liveness", c.LivenessProbe}, {"Startup", c.StartupProbe}} {
			if pr.probe != nil && len(t.probeFailures(pc, c.Name, pr.kind)) > 0 {
				t.restartingProbe(ctx, pc, c, st, pr.kind, pr.probe)
				return true
			}
		}
	}
	if crashing {
		if init {
			t.initFailure(ctx, pc, c, st)
		} else {
			t.crash(ctx, pc, c, st, SeverityCritical)
		}
		return true
	}
	if init && st.State.Running != nil {
		started := st.State.Running.StartedAt.Time
		if t.s.now.Sub(started) >= stuckInitAfter {
			t.initFailure(ctx, pc, c, st)
			return true
		}
		return false
	}
	if !init && st.State.Running != nil && !st.Ready && c.ReadinessProbe != nil {
		if t.readinessProbe(pc, c, st) {
			return true
		}
	}
	if !init && st.RestartCount >= 3 && last != nil && last.ExitCode != 0 && t.recent(last.FinishedAt.Time, recentRestart) {
		t.crash(ctx, pc, c, st, SeverityWarning)
		return true
	}
	return false
}

func (t *triage) recent(at time.Time, within time.Duration) bool {
	return !at.IsZero() && t.s.now.Sub(at) <= within
}

// stateSummary describes a container's state: "waiting (CrashLoopBackOff), 6 restarts".
func stateSummary(st *corev1.ContainerStatus) string {
	var s string
	switch {
	case st.State.Waiting != nil:
		s = "waiting (" + st.State.Waiting.Reason + ")"
	case st.State.Running != nil:
		s = "running"
		if !st.Ready {
			s += ", not ready"
		}
	case st.State.Terminated != nil:
		s = fmt.Sprintf("terminated (%s, exit code %d)", st.State.Terminated.Reason, st.State.Terminated.ExitCode)
	default:
		s = "no state"
	}
	return s + ", " + plural(int(st.RestartCount), "restart")
}

// describeTermination describes how a container instance ended.
func (t *triage) describeTermination(term *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exit code %d", term.ExitCode)
	if term.Reason != "" {
		s += " (" + term.Reason + ")"
	}
	if term.Signal != 0 {
		s += fmt.Sprintf(", signal %d", term.Signal)
	}
	if !term.StartedAt.IsZero() && !term.FinishedAt.IsZero() {
		s += " after running " + humanDuration(term.FinishedAt.Sub(term.StartedAt.Time))
	}
	if !term.FinishedAt.IsZero() {
		s += ", " + t.s.ago(term.FinishedAt.Time)
	}
	if m := strings.TrimSpace(term.Message); m != "" {
		s += ": " + m
	}
	return s
}

// lastTermination returns the most relevant terminated state: the current one if the
// container is terminated, else the previous instance's.
func lastTermination(st *corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if st.State.Terminated != nil {
		return st.State.Terminated
	}
	return st.LastTerminationState.Terminated
}

// containerLogs fetches the last log lines of a container (the previous instance first
// when it restarted), masked for credentials. It returns nil when logs are not wanted,
// the fetch budget is spent, or they cannot be read.
func (t *triage) containerLogs(ctx context.Context, pc podCtx, st *corev1.ContainerStatus) []string {
	if !t.s.opts.IncludeLogs || t.logFetches >= maxLogFetches {
		return nil
	}
	t.logFetches++
	previous := st.LastTerminationState.Terminated != nil && st.State.Terminated == nil
	lines, err := t.fetchLogs(ctx, pc, st.Name, previous)
	if (err != nil || len(lines) == 0) && previous {
		lines, _ = t.fetchLogs(ctx, pc, st.Name, false)
	}
	return lines
}

func (t *triage) fetchLogs(ctx context.Context, pc podCtx, container string, previous bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, logFetchTimeout)
	defer cancel()
	tail, limit := int64(logTailLines), int64(64<<10)
	raw, err := t.s.c.CoreV1().Pods(pc.ns()).GetLogs(pc.pod.Name, &corev1.PodLogOptions{
		Container: container, Previous: previous, TailLines: &tail, LimitBytes: &limit,
	}).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, redactLine(l))
		}
	}
	return lines, nil
}

// logEvidence formats the last log lines as one evidence line.
func logEvidence(container string, lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	tail := lines[max(0, len(lines)-logEvidenceLines):]
	return fmt.Sprintf("last log lines of %s: %s", container, strings.Join(quoteAll(tail), " | "))
}

func quoteAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = quote(truncate(l, 160))
	}
	return out
}

// envDefinition reports how a container defines an environment variable: "" when it does
// not, otherwise a description ("value \"\"", "from Secret x key y", "possibly via envFrom
// ConfigMap z").
func envDefinition(c *corev1.Container, name string) (how string, empty bool) {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			return "value " + quote(e.Value), e.Value == ""
		case e.ValueFrom.SecretKeyRef != nil:
			return fmt.Sprintf("from Secret %s key %s", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key), false
		case e.ValueFrom.ConfigMapKeyRef != nil:
			return fmt.Sprintf("from ConfigMap %s key %s", e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key), false
		}
		return "from a field reference", false
	}
	return "", false
}

// envFromSources lists a container's envFrom sources.
func envFromSources(c *corev1.Container) []string {
	var out []string
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			out = append(out, "ConfigMap "+ef.ConfigMapRef.Name)
		case ef.SecretRef != nil:
			out = append(out, "Secret "+ef.SecretRef.Name)
		}
	}
	return out
}

// crash diagnoses a container that exits (CrashLoopBackOff, or failed).
func (t *triage) crash(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus, severity string) {
	term := lastTermination(st)
	ev := []string{fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st))}
	code := int32(-1)
	if term != nil {
		code = term.ExitCode
		ev = append(ev, "last termination: "+t.describeTermination(term))
	}
	if backoff := containerEvents(t.s.eventsOf("Pod", pc.ns(), pc.pod.Name, "BackOff"), c.Name); len(backoff) > 0 {
		ev = append(ev, t.s.describeEvent(backoff[len(backoff)-1]))
	}
	lines := t.containerLogs(ctx, pc, st)
	if le := logEvidence(c.Name, lines); le != "" {
		ev = append(ev, le)
	}
	symptom := fmt.Sprintf("container %s keeps crashing and is restarted (CrashLoopBackOff, %s)", c.Name, plural(int(st.RestartCount), "restart"))
	if st.State.Waiting == nil || st.State.Waiting.Reason != "CrashLoopBackOff" {
		symptom = fmt.Sprintf("container %s exits with an error and has restarted %s", c.Name, plural(int(st.RestartCount), "time"))
	}
	if pc.pod.Status.Phase == corev1.PodFailed {
		symptom = fmt.Sprintf("pod %s failed: container %s exited with code %d", pc.pod.Name, c.Name, code)
	}
	f := Finding{Severity: severity, Analyzer: AnalyzerCrashLoop, Symptom: symptom}

	if name, line := missingEnvVar(lines); name != "" {
		how, empty := envDefinition(c, name)
		sources := envFromSources(c)
		switch {
		case how == "" && len(sources) == 0:
			f.RootCause = fmt.Sprintf("the application exits at start because environment variable %s is not set: the log says %s, and container %s of %s defines no %s (it has no env entry and no envFrom)",
				name, quote(truncate(line, 160)), c.Name, pc.owner, name)
		case how == "":
			f.RootCause = fmt.Sprintf("the application exits at start because environment variable %s is not set: the log says %s; container %s of %s has no env entry for %s and its envFrom sources (%s) do not provide it",
				name, quote(truncate(line, 160)), c.Name, pc.owner, name, strings.Join(sources, ", "))
		case empty:
			f.RootCause = fmt.Sprintf("the application exits at start because environment variable %s is empty: the log says %s and container %s of %s sets %s to an empty value",
				name, quote(truncate(line, 160)), c.Name, pc.owner, name)
		default:
			f.RootCause = fmt.Sprintf("the application exits at start complaining about environment variable %s (%s), which container %s sets %s: the value is missing or invalid at runtime",
				name, quote(truncate(line, 160)), c.Name, how)
		}
		f.Fix = fmt.Sprintf("set environment variable %s in %s (spec.template.spec.containers[%s].env), e.g. kubectl set env %s -c %s %s=<value> -n %s",
			name, pc.ownerPhrase(), c.Name, pc.owner, c.Name, name, pc.ns())
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	for _, dep := range logDependencies(lines) {
		if rc, fix, ok := t.dependencyCause(ctx, pc, c, dep, "container "+c.Name+" cannot reach"); ok {
			f.RootCause, f.Fix = rc, fix
			t.addPod(pc, c.Name, withEvidence(f, ev))
			return
		}
	}
	if term != nil && (code == 126 || code == 127 || strings.Contains(term.Message, "executable file not found") || strings.Contains(term.Message, "no such file or directory")) {
		f.RootCause = fmt.Sprintf("the command of container %s cannot be run: exit code %d (%s)", c.Name, code, exitCodeMeaning(code))
		f.Fix = fmt.Sprintf("fix command/args of container %s in %s so they name an executable that exists in image %s", c.Name, pc.ownerPhrase(), c.Image)
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	switch {
	case term == nil:
		f.RootCause = fmt.Sprintf("container %s keeps exiting; no termination details are recorded", c.Name)
	case len(lines) > 0:
		f.RootCause = fmt.Sprintf("the application in container %s exits with code %d (%s); its last log line is %s", c.Name, code, exitCodeMeaning(code), quote(truncate(lines[len(lines)-1], 200)))
	default:
		f.RootCause = fmt.Sprintf("the application in container %s exits with code %d (%s) after running %s", c.Name, code, exitCodeMeaning(code), humanDuration(term.FinishedAt.Sub(term.StartedAt.Time)))
	}
	f.Fix = fmt.Sprintf("read why it exits (kubectl logs %s -c %s --previous -n %s), then fix the application or its configuration in %s", pc.pod.Name, c.Name, pc.ns(), pc.ownerPhrase())
	if len(lines) == 0 && !t.s.opts.IncludeLogs {
		f.Fix += "; run the triage with logs included to see the error"
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// withEvidence sets a finding's evidence.
func withEvidence(f Finding, ev []string) Finding {
	f.Evidence = append(f.Evidence, ev...)
	return f
}

// dependencyCause checks a host a container needs. ok is true when the host is an
// in-cluster Service that is missing, has no ready endpoints, or lacks the port.
func (t *triage) dependencyCause(ctx context.Context, pc podCtx, c *corev1.Container, dep dependency, what string) (rootCause, fix string, ok bool) {
	ns, name, inCluster := serviceOfHost(dep.host, pc.ns())
	if !inCluster {
		return "", "", false
	}
	svc, known := t.s.service(ctx, ns, name)
	if !known {
		return "", "", false
	}
	target := dep.host
	if dep.port != 0 {
		target = fmt.Sprintf("%s:%d", dep.host, dep.port)
	}
	portText := ""
	if dep.port != 0 {
		portText = fmt.Sprintf(" (port %d)", dep.port)
	}
	if svc == nil {
		rootCause = fmt.Sprintf("%s %s (%s): Service %s does not exist in namespace %s, so the dependency it waits for is missing", what, target, quote(truncate(dep.how, 120)), name, ns)
		fix = fmt.Sprintf("deploy the missing dependency: create Service %s%s in namespace %s together with the workload behind it (e.g. the %s database/deployment), or correct the host %s that container %s of %s uses",
			name, portText, ns, name, dep.host, c.Name, pc.owner)
		return rootCause, fix, true
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && len(svc.Spec.Selector) > 0 {
		if ready, _, known := t.s.readyEndpoints(ctx, svc); known && ready == 0 {
			rootCause = fmt.Sprintf("%s %s (%s): Service %s/%s exists but has no ready endpoints, so nothing answers", what, target, quote(truncate(dep.how, 120)), ns, name)
			fix = fmt.Sprintf("make the pods behind service/%s in namespace %s run and become ready (selector %s), then %s of %s will proceed", name, ns, formatLabels(svc.Spec.Selector), c.Name, pc.owner)
			return rootCause, fix, true
		}
	}
	if dep.port != 0 && svc.Spec.Type != corev1.ServiceTypeExternalName {
		var ports []string
		match := false
		for _, sp := range svc.Spec.Ports {
			ports = append(ports, fmt.Sprint(sp.Port))
			if int(sp.Port) == dep.port {
				match = true
			}
		}
		if !match && len(ports) > 0 {
			rootCause = fmt.Sprintf("%s %s, but Service %s/%s does not expose port %d (its ports: %s)", what, target, ns, name, dep.port, strings.Join(ports, ", "))
			fix = fmt.Sprintf("use one of the ports of service/%s (%s) in container %s of %s, or add port %d to the Service", name, strings.Join(ports, ", "), c.Name, pc.owner, dep.port)
			return rootCause, fix, true
		}
	}
	return "", "", false
}

// initFailure diagnoses an init container that fails or does not finish.
func (t *triage) initFailure(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus) {
	ev := []string{fmt.Sprintf("pod %s is %s: init container %s is %s", pc.pod.Name, podStatusText(pc.pod), c.Name, stateSummary(st))}
	if term := lastTermination(st); term != nil {
		ev = append(ev, "last termination: "+t.describeTermination(term))
	}
	if r := st.State.Running; r != nil {
		ev = append(ev, fmt.Sprintf("running since %s without completing", t.s.ago(r.StartedAt.Time)))
	}
	cmd := strings.TrimSpace(strings.Join(append(slices.Clone(c.Command), c.Args...), " "))
	if cmd != "" {
		ev = append(ev, "command: "+truncate(cmd, 200))
	}
	lines := t.containerLogs(ctx, pc, st)
	if le := logEvidence(c.Name, lines); le != "" {
		ev = append(ev, le)
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerInitContainer,
		Symptom: fmt.Sprintf("pod %s cannot start: init container %s never completes (%s)", pc.pod.Name, c.Name, stateSummary(st)),
	}
	deps := append(waitDependencies(cmd), logDependencies(lines)...)
	for _, dep := range deps {
		if rc, fix, ok := t.dependencyCause(ctx, pc, c, dep, "init container "+c.Name+" waits for"); ok {
			f.RootCause, f.Fix = rc, fix
			t.addPod(pc, c.Name, withEvidence(f, ev))
			return
		}
	}
	if len(deps) > 0 {
		d := deps[0]
		f.RootCause = fmt.Sprintf("init container %s waits for %s (%s), which does not answer", c.Name, d.host, quote(truncate(d.how, 120)))
		f.Fix = fmt.Sprintf("make %s reachable from namespace %s (check that it runs and listens, and NetworkPolicies), or fix the host/port in init container %s of %s", d.host, pc.ns(), c.Name, pc.owner)
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	if name, line := missingEnvVar(lines); name != "" {
		f.RootCause = fmt.Sprintf("init container %s fails because environment variable %s is not set (log: %s)", c.Name, name, quote(truncate(line, 160)))
		f.Fix = fmt.Sprintf("set %s in the env of init container %s in %s", name, c.Name, pc.ownerPhrase())
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	if term := lastTermination(st); term != nil && term.ExitCode != 0 {
		f.RootCause = fmt.Sprintf("init container %s exits with code %d (%s)", c.Name, term.ExitCode, exitCodeMeaning(term.ExitCode))
		if len(lines) > 0 {
			f.RootCause += "; its last log line is " + quote(truncate(lines[len(lines)-1], 200))
		}
	} else {
		f.RootCause = fmt.Sprintf("init container %s has been running for a long time without completing", c.Name)
	}
	f.Fix = fmt.Sprintf("read its log (kubectl logs %s -c %s -n %s) and fix what it waits for or its command in %s", pc.pod.Name, c.Name, pc.ns(), pc.ownerPhrase())
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// podStatusText is a short kubectl-like status for a pod.
func podStatusText(p *corev1.Pod) string {
	total := 0
	done := 0
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			continue
		}
		total++
	}
	for _, st := range p.Status.InitContainerStatuses {
		if st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
			done++
		}
	}
	if total > 0 && done < total {
		return fmt.Sprintf("Init:%d/%d", done, total)
	}
	return string(p.Status.Phase)
}

// oomKilled diagnoses a container killed for exceeding its memory limit.
func (t *triage) oomKilled(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus, oom *corev1.ContainerStateTerminated, crashing bool) {
	limit, hasLimit := c.Resources.Limits[corev1.ResourceMemory]
	request, hasRequest := c.Resources.Requests[corev1.ResourceMemory]
	ev := []string{
		fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st)),
		"last termination: " + t.describeTermination(oom),
	}
	limits := "memory limit: none"
	if hasLimit {
		limits = "memory limit: " + limit.String()
	}
	if hasRequest {
		limits += ", request: " + request.String()
	}
	ev = append(ev, limits, "image: "+c.Image)
	severity := SeverityCritical
	if !crashing {
		severity = SeverityWarning
	}
	f := Finding{
		Severity: severity, Analyzer: AnalyzerOOMKilled,
		Symptom: fmt.Sprintf("container %s is OOMKilled (exit code 137) and restarted (%s)", c.Name, plural(int(st.RestartCount), "restart")),
	}
	jvmText := strings.Join(append(append(slices.Clone(c.Command), c.Args...), envValues(c, "JAVA_OPTS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")...), " ")
	heap, heapBytes := jvmHeap(jvmText)
	jvm := heap != "" || isJVM(c)
	if heap != "" {
		ev = append(ev, "JVM heap setting: "+heap)
	}
	if !hasLimit {
		f.RootCause = fmt.Sprintf("container %s has no memory limit, so it was killed by the node's out-of-memory killer: the node ran out of memory", c.Name)
		f.Fix = fmt.Sprintf("set resources.requests.memory and resources.limits.memory of container %s in %s to what it really uses, so the scheduler places it on a node with room", c.Name, pc.ownerPhrase())
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	suggest := suggestedLimit(limit.Value(), heapBytes)
	f.RootCause = fmt.Sprintf("the memory limit of container %s (%s) is too low for the workload: it uses more and the kernel OOM-kills it (exit code 137, reason OOMKilled)", c.Name, limit.String())
	switch {
	case heapBytes > 0 && heapBytes >= limit.Value():
		f.RootCause += fmt.Sprintf("; the JVM heap alone is allowed to grow to %s (%s), above the %s limit", heap, resource.NewQuantity(heapBytes, resource.BinarySI).String(), limit.String())
	case jvm:
		f.RootCause += "; a JVM needs its heap plus metaspace, thread stacks and buffers, which does not fit in " + limit.String()
	}
	f.Fix = fmt.Sprintf("raise resources.limits.memory of container %s in %s (e.g. from %s to %s; set requests.memory to match)",
		c.Name, pc.ownerPhrase(), limit.String(), resource.NewQuantity(suggest, resource.BinarySI).String())
	if jvm {
		f.Fix += ", and keep the JVM heap below the limit (e.g. -XX:MaxRAMPercentage=75 instead of a fixed -Xmx)"
	}
	f.Fix += fmt.Sprintf("; kubectl set resources %s -c %s --limits=memory=%s -n %s", pc.owner, c.Name, resource.NewQuantity(suggest, resource.BinarySI).String(), pc.ns())
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// suggestedLimit proposes a memory limit: twice the current one, and room for a JVM heap
// plus overhead, rounded up to 64Mi.
func suggestedLimit(limit, heap int64) int64 {
	s := 2 * limit
	if heap > 0 {
		s = max(s, heap+256<<20)
	}
	const step = 64 << 20
	return (s + step - 1) / step * step
}

// envValues returns the literal values of the named env vars of a container.
func envValues(c *corev1.Container, names ...string) []string {
	var out []string
	for _, e := range c.Env {
		if slices.Contains(names, e.Name) && e.Value != "" {
			out = append(out, e.Value)
		}
	}
	return out
}

// isJVM guesses whether a container runs a JVM.
func isJVM(c *corev1.Container) bool {
	text := strings.ToLower(c.Image + " " + strings.Join(c.Command, " ") + " " + strings.Join(c.Args, " "))
	for _, s := range []string{"java", "jdk", "jre", "temurin", "corretto", "zulu", "semeru", "graalvm", "spring", ".jar", "kotlin", "scala", "jvm"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return len(envValues(c, "JAVA_OPTS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")) > 0
}

// stuckTerminating reports a pod whose deletion does not finish.
func (t *triage) stuckTerminating(pc podCtx) {
	p := pc.pod
	grace := time.Duration(0)
	if p.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
	}
	deadline := p.DeletionTimestamp.Time // the apiserver sets it to request time + grace
	if t.s.now.Sub(deadline) < stuckDeletingAfter {
		return
	}
	ev := []string{fmt.Sprintf("pod %s deletion requested; grace period %s ended %s", p.Name, humanDuration(grace), t.s.ago(deadline))}
	if len(p.Finalizers) > 0 {
		ev = append(ev, "finalizers: "+strings.Join(p.Finalizers, ", "))
	}
	f := Finding{
		Severity: SeverityWarning, Analyzer: AnalyzerPodFailed,
		Symptom: fmt.Sprintf("pod %s is stuck Terminating", p.Name),
	}
	if len(p.Finalizers) > 0 {
		f.RootCause = fmt.Sprintf("finalizers %s have not been removed by the controllers that own them", strings.Join(p.Finalizers, ", "))
		f.Fix = "make the controller that owns the finalizers run; as a last resort remove them: kubectl patch pod " + p.Name + " -n " + p.Namespace + ` --type merge -p '{"metadata":{"finalizers":null}}'`
	} else {
		f.RootCause = fmt.Sprintf("the kubelet on node %s has not confirmed that the containers stopped", p.Spec.NodeName)
		f.Fix = fmt.Sprintf("check the kubelet on node %s; if the node is gone, kubectl delete pod %s -n %s --force --grace-period=0", p.Spec.NodeName, p.Name, p.Namespace)
	}
	t.addPod(pc, "", withEvidence(f, ev))
}

// failedPod diagnoses a pod in phase Failed.
func (t *triage) failedPod(ctx context.Context, pc podCtx) {
	p := pc.pod
	if p.Status.Reason == "Evicted" {
		f := Finding{
			Severity: SeverityWarning, Analyzer: AnalyzerPodFailed,
			Symptom:   fmt.Sprintf("pod %s was evicted from node %s", p.Name, p.Spec.NodeName),
			Evidence:  []string{"status: Failed (Evicted): " + p.Status.Message},
			RootCause: "the kubelet evicted the pod to reclaim node resources: " + truncate(p.Status.Message, 200),
			Fix:       fmt.Sprintf("set memory/ephemeral-storage requests and limits of %s to its real usage so it is placed on nodes with room; delete evicted pods with kubectl delete pod --field-selector=status.phase=Failed -n %s", pc.ownerPhrase(), p.Namespace),
		}
		t.addPod(pc, "", f)
		return
	}
	// A Job that eventually succeeded does not need its failed attempts diagnosed.
	if ref := controllerRef(p.OwnerReferences); ref != nil && ref.Kind == "Job" {
		if j := t.s.jobs[nsName{p.Namespace, ref.Name}]; j != nil && j.Status.Succeeded > 0 && j.Status.Failed == 0 {
			return
		}
	}
	for i := range p.Status.InitContainerStatuses {
		st := &p.Status.InitContainerStatuses[i]
		if st.State.Terminated != nil && st.State.Terminated.ExitCode != 0 {
			if c, _ := findContainer(p, st.Name); c != nil {
				t.initFailure(ctx, pc, c, st)
				return
			}
		}
	}
	for i := range p.Status.ContainerStatuses {
		st := &p.Status.ContainerStatuses[i]
		if st.State.Terminated != nil && st.State.Terminated.ExitCode != 0 {
			c, _ := findContainer(p, st.Name)
			if c == nil {
				continue
			}
			if st.State.Terminated.Reason == "OOMKilled" {
				t.oomKilled(ctx, pc, c, st, st.State.Terminated, true)
			} else {
				t.crash(ctx, pc, c, st, SeverityCritical)
			}
			return
		}
	}
	if p.Status.Reason != "" || p.Status.Message != "" {
		t.addPod(pc, "", Finding{
			Severity: SeverityWarning, Analyzer: AnalyzerPodFailed,
			Symptom:   fmt.Sprintf("pod %s failed (%s)", p.Name, p.Status.Reason),
			Evidence:  []string{"status message: " + p.Status.Message},
			RootCause: truncate(p.Status.Message, 240),
			Fix:       fmt.Sprintf("address the reason above in %s", pc.ownerPhrase()),
		})
	}
}
