package analyze

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// probeFailures returns the Events that report failures of one kind of probe ("Liveness",
// "Readiness", "Startup") of a container, oldest first: Unhealthy Events, and for liveness
// and startup probes the Killing Events that follow them.
func (t *triage) probeFailures(pc podCtx, container, kind string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range containerEvents(t.s.eventsOf("Pod", pc.ns(), pc.pod.Name, "Unhealthy", "Killing"), container) {
		switch e.Reason {
		case "Unhealthy":
			if strings.HasPrefix(e.Message, kind+" probe failed") || strings.HasPrefix(e.Message, kind+" probe errored") {
				out = append(out, e)
			}
		case "Killing":
			if kind != "Readiness" && strings.Contains(e.Message, "failed "+strings.ToLower(kind)+" probe") {
				out = append(out, e)
			}
		}
	}
	return out
}

// probeInfo describes a probe's action.
type probeInfo struct {
	desc     string // "HTTP GET /healthz on port 8080"
	action   string // "httpGet", "tcpSocket", "grpc", "exec"
	path     string
	port     int32  // resolved number; 0 when a named port is not declared or no port
	portName string // the probe's named port, if any
	hasPort  bool
}

func describeProbe(c *corev1.Container, p *corev1.Probe) probeInfo {
	var pi probeInfo
	switch {
	case p.HTTPGet != nil:
		pi.action, pi.path, pi.hasPort = "httpGet", p.HTTPGet.Path, true
		pi.port, pi.portName = resolvePort(c, p.HTTPGet.Port)
		scheme := ""
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "S"
		}
		pi.desc = fmt.Sprintf("HTTP%s GET %s on port %s", scheme, orDefault(p.HTTPGet.Path, "/"), p.HTTPGet.Port.String())
	case p.TCPSocket != nil:
		pi.action, pi.hasPort = "tcpSocket", true
		pi.port, pi.portName = resolvePort(c, p.TCPSocket.Port)
		pi.desc = "TCP connect to port " + p.TCPSocket.Port.String()
	case p.GRPC != nil:
		pi.action, pi.hasPort, pi.port = "grpc", true, p.GRPC.Port
		pi.desc = fmt.Sprintf("gRPC health check on port %d", p.GRPC.Port)
	case p.Exec != nil:
		pi.action = "exec"
		pi.desc = "command " + quote(truncate(strings.Join(p.Exec.Command, " "), 100))
	default:
		pi.desc = "probe"
	}
	return pi
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// probeSettings formats a probe's timing.
func probeSettings(p *corev1.Probe) string {
	period, timeout, failure := p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold
	if period == 0 {
		period = 10
	}
	if timeout == 0 {
		timeout = 1
	}
	if failure == 0 {
		failure = 3
	}
	return fmt.Sprintf("initialDelaySeconds=%d periodSeconds=%d timeoutSeconds=%d failureThreshold=%d", p.InitialDelaySeconds, period, timeout, failure)
}

// portMismatch explains why a probe's port cannot be the container's, or returns "".
func portMismatch(c *corev1.Container, pi probeInfo) string {
	switch {
	case !pi.hasPort:
		return ""
	case pi.portName != "" && pi.port == 0:
		return fmt.Sprintf("the probe uses the named port %q, which container %s does not declare (its ports: %s)", pi.portName, c.Name, containerPortList(c))
	case pi.port != 0 && len(c.Ports) > 0 && !declaresPort(c, pi.port):
		return fmt.Sprintf("the probe checks port %d, but container %s listens on %s", pi.port, c.Name, containerPortList(c))
	}
	return ""
}

var statusCodePattern = regexp.MustCompile(`statuscode: (\d{3})`)

// probeFailureKind classifies a probe failure message.
func probeFailureKind(msg string) (kind, detail string) {
	lower := strings.ToLower(msg)
	switch {
	case statusCodePattern.MatchString(msg):
		code := statusCodePattern.FindStringSubmatch(msg)[1]
		return "status", code
	case strings.Contains(lower, "connection refused"):
		return "refused", ""
	case strings.Contains(lower, "timeout") || strings.Contains(lower, "deadline exceeded") || strings.Contains(lower, "timed out"):
		return "timeout", ""
	case strings.Contains(lower, "exit code") || strings.Contains(lower, "command") && strings.Contains(lower, "exited"):
		return "exec", ""
	}
	return "other", ""
}

// failureText strips the "Liveness probe failed: " prefix of an Unhealthy message.
func failureText(msg string) string {
	if i := strings.Index(msg, ": "); i >= 0 && strings.Contains(msg[:i], "probe") {
		return strings.TrimSpace(msg[i+2:])
	}
	return strings.TrimSpace(msg)
}

// suggestedPort proposes the port a probe should use: the container's only port, or a
// list to choose from.
func suggestedPort(c *corev1.Container) string {
	if len(c.Ports) == 1 {
		p := c.Ports[0]
		if p.Name != "" {
			return fmt.Sprintf("%d (or the named port %q)", p.ContainerPort, p.Name)
		}
		return fmt.Sprint(p.ContainerPort)
	}
	return "one of the container's ports (" + containerPortList(c) + ")"
}

// restartingProbe diagnoses a container restarted by a failing liveness or startup probe.
func (t *triage) restartingProbe(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus, kind string, probe *corev1.Probe) {
	s := t.s
	events := t.probeFailures(pc, c.Name, kind)
	var unhealthy, killing *corev1.Event
	for _, e := range events {
		if e.Reason == "Unhealthy" {
			unhealthy = e
		} else {
			killing = e
		}
	}
	pi := describeProbe(c, probe)
	field := strings.ToLower(kind) + "Probe"
	ev := []string{
		fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st)),
		fmt.Sprintf("%s: %s, %s", field, pi.desc, probeSettings(probe)),
	}
	failure := ""
	if unhealthy != nil {
		ev = append(ev, s.describeEvent(unhealthy))
		failure = failureText(unhealthy.Message)
	}
	if killing != nil {
		ev = append(ev, s.describeEvent(killing))
	}
	uptime := ""
	if term := st.LastTerminationState.Terminated; term != nil {
		ev = append(ev, "last termination: "+t.describeTermination(term))
		if !term.StartedAt.IsZero() && !term.FinishedAt.IsZero() {
			uptime = humanDuration(term.FinishedAt.Sub(term.StartedAt.Time))
		}
	}
	if le := logEvidence(c.Name, t.containerLogs(ctx, pc, st)); le != "" {
		ev = append(ev, le)
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerProbe,
		Symptom: fmt.Sprintf("container %s is restarted repeatedly because its %s probe fails (%s)", c.Name, strings.ToLower(kind), plural(int(st.RestartCount), "restart")),
	}
	restarts := fmt.Sprintf("so the kubelet kills and restarts the container (%s", plural(int(st.RestartCount), "restart"))
	if uptime != "" {
		restarts += "; the last instance ran " + uptime + " before it was killed"
	}
	restarts += ")"
	fk, detail := probeFailureKind(failure)
	mismatch := portMismatch(c, pi)
	switch {
	case mismatch != "" && (fk == "refused" || fk == "timeout" || failure == ""):
		f.RootCause = fmt.Sprintf("the %s probe of container %s targets the wrong port: %s; nothing answers there, %s", strings.ToLower(kind), c.Name, mismatch, restarts)
		f.Fix = fmt.Sprintf("set %s.%s.port of container %s in %s to %s", field, pi.action, c.Name, pc.ownerPhrase(), suggestedPort(c))
	case fk == "status":
		f.RootCause = fmt.Sprintf("the %s probe of container %s (%s) fails because the endpoint returns HTTP %s (%s), %s", strings.ToLower(kind), c.Name, pi.desc, detail, quote(truncate(failure, 120)), restarts)
		f.Fix = fmt.Sprintf("fix the application's %s endpoint so it answers 2xx while the process is healthy (the container log shows why it starts failing); if %s checks dependencies or is too strict, point %s of container %s in %s at a lightweight endpoint or raise failureThreshold/periodSeconds",
			orDefault(pi.path, "/"), orDefault(pi.path, "/"), field, c.Name, pc.ownerPhrase())
	case fk == "timeout":
		f.RootCause = fmt.Sprintf("the %s probe of container %s (%s) times out after timeoutSeconds=%d, %s", strings.ToLower(kind), c.Name, pi.desc, max(probe.TimeoutSeconds, 1), restarts)
		f.Fix = fmt.Sprintf("find why the application answers slowly (CPU throttling: check the CPU limit; blocking health handler), or raise timeoutSeconds/failureThreshold of %s of container %s in %s", field, c.Name, pc.ownerPhrase())
	case fk == "refused":
		f.RootCause = fmt.Sprintf("nothing listens on the port of the %s probe of container %s (%s): connection refused, %s", strings.ToLower(kind), c.Name, pi.desc, restarts)
		f.Fix = fmt.Sprintf("make the probe use the port the application listens on, or (if the application starts slowly) add a startupProbe or raise initialDelaySeconds of %s of container %s in %s", field, c.Name, pc.ownerPhrase())
	case kind == "Startup":
		f.RootCause = fmt.Sprintf("the startup probe of container %s (%s) does not succeed within failureThreshold x periodSeconds, %s", c.Name, pi.desc, restarts)
		f.Fix = fmt.Sprintf("raise startupProbe.failureThreshold of container %s in %s to cover the real start time, or fix what delays startup", c.Name, pc.ownerPhrase())
	default:
		f.RootCause = fmt.Sprintf("the %s probe of container %s (%s) fails: %s, %s", strings.ToLower(kind), c.Name, pi.desc, quote(truncate(failure, 160)), restarts)
		f.Fix = fmt.Sprintf("fix the check or the application so that %s succeeds, in %s", field, pc.ownerPhrase())
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// readinessProbe diagnoses a running container that is not ready because its readiness
// probe fails. It reports whether it found the cause.
func (t *triage) readinessProbe(pc podCtx, c *corev1.Container, st *corev1.ContainerStatus) bool {
	s := t.s
	events := t.probeFailures(pc, c.Name, "Readiness")
	pi := describeProbe(c, c.ReadinessProbe)
	mismatch := portMismatch(c, pi)
	if len(events) == 0 && mismatch == "" {
		return false
	}
	ev := []string{
		fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st)),
		fmt.Sprintf("readinessProbe: %s, %s", pi.desc, probeSettings(c.ReadinessProbe)),
		"container ports: " + containerPortList(c),
	}
	failure := ""
	if len(events) > 0 {
		last := events[len(events)-1]
		ev = append(ev, s.describeEvent(last))
		failure = failureText(last.Message)
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerProbe,
		Symptom: fmt.Sprintf("container %s runs but never becomes Ready: its readiness probe fails, so the pod gets no Service traffic", c.Name),
	}
	fk, detail := probeFailureKind(failure)
	switch {
	case mismatch != "":
		f.RootCause = fmt.Sprintf("readiness probe port mismatch: %s; nothing answers on the probed port", mismatch)
		if failure != "" {
			f.RootCause += " (" + quote(truncate(failure, 140)) + ")"
		}
		f.RootCause += ", so the pod stays NotReady and is left out of the Service endpoints"
		f.Fix = fmt.Sprintf("set readinessProbe.%s.port of container %s in %s to %s", pi.action, c.Name, pc.ownerPhrase(), suggestedPort(c))
	case fk == "status":
		f.RootCause = fmt.Sprintf("the readiness probe of container %s (%s) gets HTTP %s from the application, so the pod stays NotReady", c.Name, pi.desc, detail)
		f.Fix = fmt.Sprintf("make %s return 2xx once the application can serve (check its log for the failing dependency), or fix readinessProbe.httpGet.path of container %s in %s", orDefault(pi.path, "/"), c.Name, pc.ownerPhrase())
	case fk == "refused":
		f.RootCause = fmt.Sprintf("nothing listens on the port of the readiness probe of container %s (%s): connection refused, so the pod stays NotReady", c.Name, pi.desc)
		f.Fix = fmt.Sprintf("point readinessProbe of container %s in %s at the port the application listens on (declare it in ports), or fix the application's listen address (it must listen on 0.0.0.0, not 127.0.0.1)", c.Name, pc.ownerPhrase())
	case fk == "timeout":
		f.RootCause = fmt.Sprintf("the readiness probe of container %s (%s) times out, so the pod stays NotReady", c.Name, pi.desc)
		f.Fix = fmt.Sprintf("find why the application answers slowly, or raise readinessProbe.timeoutSeconds of container %s in %s", c.Name, pc.ownerPhrase())
	default:
		f.RootCause = fmt.Sprintf("the readiness probe of container %s (%s) fails: %s", c.Name, pi.desc, quote(truncate(failure, 160)))
		f.Fix = fmt.Sprintf("fix the check or the application so that readinessProbe succeeds, in %s", pc.ownerPhrase())
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
	return true
}
