package analyze

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// imagePull diagnoses ErrImagePull / ImagePullBackOff / InvalidImageName.
func (t *triage) imagePull(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus) {
	s := t.s
	w := st.State.Waiting
	ev := []string{fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st))}
	texts := []string{w.Message}
	if w.Message != "" {
		ev = append(ev, "waiting message: "+w.Message)
	}
	var pullMsg string
	for _, e := range containerEvents(s.eventsOf("Pod", pc.ns(), pc.pod.Name, "Failed", "ErrImagePull", "InspectFailed"), c.Name) {
		texts = append(texts, e.Message)
		if !strings.HasPrefix(e.Message, "Error: ") {
			pullMsg = e.Message
			ev = append(ev, s.describeEvent(e))
		}
	}
	if pullMsg == "" {
		pullMsg = w.Message
	}
	image := c.Image
	repo, tag, digest := splitImage(image)
	ev = append(ev, "image: "+image)
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerImagePull,
		Symptom: fmt.Sprintf("image %s of container %s cannot be pulled (%s)", image, c.Name, w.Reason),
	}
	setImage := fmt.Sprintf("kubectl set image %s %s=%s:<tag> -n %s", pc.owner, c.Name, repo, pc.ns())
	switch classifyPullError(strings.Join(texts, "\n")) {
	case pullNotFound:
		if digest != "" {
			f.RootCause = fmt.Sprintf("digest %s does not exist in repository %s (the registry answers: %s)", digest, repo, pullReason(pullMsg))
		} else {
			f.RootCause = fmt.Sprintf("image tag %q does not exist in repository %s: the registry answers %s, so %s can never be pulled", tag, repo, pullReason(pullMsg), image)
		}
		f.Fix = fmt.Sprintf("use an existing tag of %s for container %s in %s (%s)", repo, c.Name, pc.ownerPhrase(), setImage)
		if tags := t.runningTags(repo, tag); len(tags) > 0 {
			f.Fix += "; tags of " + repo + " running in the cluster: " + strings.Join(tags, ", ")
		}
	case pullRepoOrAuth:
		f.RootCause = fmt.Sprintf("repository %s does not exist, or it is private and the pod has no credentials for it (the registry answers: %s)", repo, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("check the image name %s for typos; if the repository is private, create a docker-registry Secret and add it to imagePullSecrets of %s", image, pc.ownerPhrase())
		t.pullSecretHint(ctx, &f, pc)
	case pullAuth:
		f.RootCause = fmt.Sprintf("the registry refuses to serve %s without valid credentials (%s)", image, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("create a docker-registry Secret with credentials for the registry (kubectl create secret docker-registry regcred --docker-server=... -n %s) and reference it in imagePullSecrets of %s (or of its ServiceAccount)", pc.ns(), pc.ownerPhrase())
		t.pullSecretHint(ctx, &f, pc)
	case pullNetwork:
		f.RootCause = fmt.Sprintf("the node cannot reach the registry of %s (%s)", image, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("check DNS, proxy and firewall egress from node %s to the registry, or mirror the image to a reachable registry and update %s", pc.pod.Spec.NodeName, pc.ownerPhrase())
	case pullRateLimit:
		f.RootCause = fmt.Sprintf("the registry rate-limits pulls of %s (%s)", image, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("authenticate pulls (imagePullSecrets with a registry account) or mirror %s to your own registry and update %s", image, pc.ownerPhrase())
	case pullInvalid:
		f.RootCause = fmt.Sprintf("the image reference %q is not valid (%s)", image, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("fix the image of container %s in %s to a valid reference like registry/repository:tag", c.Name, pc.ownerPhrase())
	default:
		f.RootCause = fmt.Sprintf("the image %s cannot be pulled: %s", image, pullReason(pullMsg))
		f.Fix = fmt.Sprintf("check that %s exists and is reachable from node %s, then update %s", image, pc.pod.Spec.NodeName, pc.ownerPhrase())
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// pullReason extracts the registry's answer from a kubelet pull message.
func pullReason(msg string) string {
	msg = strings.TrimSpace(msg)
	for _, marker := range []string{"desc = ", "Error response from daemon: "} {
		if i := strings.LastIndex(msg, marker); i >= 0 {
			msg = msg[i+len(marker):]
		}
	}
	if msg == "" {
		return "no details"
	}
	return quote(truncate(msg, 200))
}

// pullSecretHint adds what is known about the pod's imagePullSecrets.
func (t *triage) pullSecretHint(ctx context.Context, f *Finding, pc podCtx) {
	if len(pc.pod.Spec.ImagePullSecrets) == 0 {
		f.Evidence = append(f.Evidence, "the pod has no imagePullSecrets")
		return
	}
	var names []string
	for _, ref := range pc.pod.Spec.ImagePullSecrets {
		names = append(names, ref.Name)
	}
	f.Evidence = append(f.Evidence, "imagePullSecrets: "+strings.Join(names, ", "))
	// Existence of the referenced Secrets is checked without reading their values.
	for _, n := range names {
		if o := t.s.secret(ctx, pc.ns(), n); o.known && !o.exists {
			f.RootCause = fmt.Sprintf("imagePullSecret %s referenced by the pod does not exist in namespace %s, so the pull of the private image is unauthenticated", n, pc.ns())
			f.Fix = fmt.Sprintf("create Secret %s (kubectl create secret docker-registry %s --docker-server=... -n %s) or fix imagePullSecrets of %s", n, n, pc.ns(), pc.ownerPhrase())
			return
		}
	}
}

// runningTags lists other tags of a repository that running containers in the snapshot use.
func (t *triage) runningTags(repo, exclude string) []string {
	seen := map[string]bool{}
	for _, p := range t.s.pods {
		for _, st := range p.Status.ContainerStatuses {
			if st.State.Running == nil {
				continue
			}
			r, tag, _ := splitImage(st.Image)
			if tag != "" && tag != exclude && (r == repo || strings.HasSuffix(r, "/"+repo) || strings.HasSuffix(repo, "/"+r)) {
				seen[tag] = true
			}
		}
	}
	tags := make([]string, 0, len(seen))
	for tag := range seen {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	return tags
}

var (
	missingKeyPattern    = regexp.MustCompile(`couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)`)
	missingObjectPattern = regexp.MustCompile(`(?i)(secret|configmap)s? "([^"]+)" not found`)
)

// envRef is a reference from a container's environment to a ConfigMap or Secret.
type envRef struct {
	env      string // variable name; "" for envFrom
	kind     string // "Secret" or "ConfigMap"
	name     string
	key      string // "" for envFrom
	optional bool
}

func (r envRef) describe() string {
	if r.env == "" {
		return fmt.Sprintf("envFrom %s %s", r.kind, r.name)
	}
	ref := "secretKeyRef"
	if r.kind == "ConfigMap" {
		ref = "configMapKeyRef"
	}
	return fmt.Sprintf("env %s (%s %s key %s)", r.env, ref, r.name, r.key)
}

// envRefs lists a container's references to ConfigMaps and Secrets.
func envRefs(c *corev1.Container) []envRef {
	var out []envRef
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			out = append(out, envRef{e.Name, "Secret", r.Name, r.Key, r.Optional != nil && *r.Optional})
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			out = append(out, envRef{e.Name, "ConfigMap", r.Name, r.Key, r.Optional != nil && *r.Optional})
		}
	}
	for _, ef := range c.EnvFrom {
		if r := ef.SecretRef; r != nil {
			out = append(out, envRef{"", "Secret", r.Name, "", r.Optional != nil && *r.Optional})
		}
		if r := ef.ConfigMapRef; r != nil {
			out = append(out, envRef{"", "ConfigMap", r.Name, "", r.Optional != nil && *r.Optional})
		}
	}
	return out
}

// lookupKeyed returns what is known about a ConfigMap or Secret.
func (t *triage) lookupKeyed(ctx context.Context, kind, ns, name string) *keyedObject {
	if kind == "Secret" {
		return t.s.secret(ctx, ns, name)
	}
	return t.s.configMap(ctx, ns, name)
}

// brokenRef is a verified problem with a reference to a ConfigMap or Secret.
type brokenRef struct {
	ref         envRef
	missingObj  bool
	missingKey  bool
	keys        []string
	keysKnown   bool // keys could be read
	fromMessage bool
}

// checkEnvRefs verifies a container's non-optional ConfigMap/Secret references.
func (t *triage) checkEnvRefs(ctx context.Context, ns string, c *corev1.Container) []brokenRef {
	var out []brokenRef
	for _, r := range envRefs(c) {
		if r.optional {
			continue
		}
		o := t.lookupKeyed(ctx, r.kind, ns, r.name)
		switch {
		case !o.known:
		case !o.exists:
			out = append(out, brokenRef{ref: r, missingObj: true})
		case r.key != "" && !containsString(o.keys, r.key):
			out = append(out, brokenRef{ref: r, missingKey: true, keys: o.keys, keysKnown: true})
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// configError diagnoses CreateContainerConfigError: a missing ConfigMap, Secret or key,
// or a security context the image cannot satisfy.
func (t *triage) configError(ctx context.Context, pc podCtx, c *corev1.Container, st *corev1.ContainerStatus) {
	w := st.State.Waiting
	ev := []string{fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st))}
	if w.Message != "" {
		ev = append(ev, "waiting message: "+w.Message)
	}
	if fails := containerEvents(t.s.eventsOf("Pod", pc.ns(), pc.pod.Name, "Failed"), c.Name); len(fails) > 0 {
		ev = append(ev, t.s.describeEvent(fails[len(fails)-1]))
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerConfig,
		Symptom: fmt.Sprintf("container %s cannot be created (CreateContainerConfigError)", c.Name),
	}
	broken := t.checkEnvRefs(ctx, pc.ns(), c)
	// Prefer what the kubelet said, confirmed by reading the object.
	if m := missingKeyPattern.FindStringSubmatch(w.Message); m != nil {
		key, kind, name := m[1], m[2], m[4]
		b := brokenRef{ref: envRef{kind: kind, name: name, key: key}, missingKey: true, fromMessage: true}
		for _, r := range envRefs(c) {
			if r.kind == kind && r.name == name && r.key == key {
				b.ref = r
			}
		}
		if o := t.lookupKeyed(ctx, kind, m[3], name); o.known && o.exists {
			b.keys, b.keysKnown = o.keys, true
		}
		broken = append([]brokenRef{b}, broken...)
	} else if m := missingObjectPattern.FindStringSubmatch(w.Message); m != nil {
		kind := "Secret"
		if strings.EqualFold(m[1], "configmap") {
			kind = "ConfigMap"
		}
		b := brokenRef{ref: envRef{kind: kind, name: m[2]}, missingObj: true, fromMessage: true}
		for _, r := range envRefs(c) {
			if r.kind == kind && r.name == m[2] {
				b.ref = r
				break
			}
		}
		broken = append([]brokenRef{b}, broken...)
	}
	if len(broken) > 0 {
		b := broken[0]
		r := b.ref
		used := ""
		if r.env != "" || r.key == "" && r.name != "" {
			used = fmt.Sprintf(", which container %s uses as %s", c.Name, r.describe())
		}
		if b.missingKey {
			keys := "it has no keys"
			switch {
			case !b.keysKnown:
				keys = "its keys could not be read"
			case len(b.keys) > 0:
				keys = "it has only " + strings.Join(b.keys, ", ")
			}
			f.RootCause = fmt.Sprintf("%s %s has no key %q (%s)%s, so the kubelet cannot build the container's environment", r.kind, r.name, r.key, keys, used)
			patch := "stringData"
			if r.kind == "ConfigMap" {
				patch = "data"
			}
			f.Fix = fmt.Sprintf("add key %s to %s %s in namespace %s (kubectl patch %s %s -n %s --type merge -p '{\"%s\":{\"%s\":\"<value>\"}}'), or change the key reference in %s to an existing key",
				r.key, r.kind, r.name, pc.ns(), strings.ToLower(r.kind), r.name, pc.ns(), patch, r.key, pc.ownerPhrase())
		} else {
			f.RootCause = fmt.Sprintf("%s %s does not exist in namespace %s%s, so the kubelet cannot build the container's environment", r.kind, r.name, pc.ns(), used)
			create := fmt.Sprintf("kubectl create secret generic %s -n %s --from-literal=<key>=<value>", r.name, pc.ns())
			if r.kind == "ConfigMap" {
				create = fmt.Sprintf("kubectl create configmap %s -n %s --from-literal=<key>=<value>", r.name, pc.ns())
			}
			f.Fix = fmt.Sprintf("create %s %s (%s) or fix the reference in %s", r.kind, r.name, create, pc.ownerPhrase())
			if r.kind == "ConfigMap" {
				if alt := similar(r.name, t.s.configMapNames(ctx, pc.ns())); len(alt) > 0 {
					f.Fix += "; existing ConfigMaps with similar names: " + strings.Join(alt, ", ")
				}
			}
		}
		for _, other := range broken[1:] {
			if other.ref != b.ref {
				f.Evidence = append(f.Evidence, "also broken: "+other.ref.describe())
			}
		}
		t.addPod(pc, c.Name, withEvidence(f, ev))
		return
	}
	msg := strings.ToLower(w.Message)
	switch {
	case strings.Contains(msg, "runasnonroot") && strings.Contains(msg, "root"):
		f.RootCause = fmt.Sprintf("the pod requires runAsNonRoot but image %s runs as root (or as a non-numeric user): %s", c.Image, w.Message)
		f.Fix = fmt.Sprintf("set securityContext.runAsUser to a non-zero UID for container %s in %s, or use an image that runs as a numeric non-root user", c.Name, pc.ownerPhrase())
	default:
		f.RootCause = "the kubelet cannot create the container from its configuration: " + truncate(w.Message, 240)
		f.Fix = fmt.Sprintf("fix the configuration of container %s in %s as the message says", c.Name, pc.ownerPhrase())
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

// startError diagnoses CreateContainerError / RunContainerError / StartError.
func (t *triage) startError(pc podCtx, c *corev1.Container, st *corev1.ContainerStatus) {
	msg := st.State.Waiting.Message
	if term := st.LastTerminationState.Terminated; msg == "" && term != nil {
		msg = term.Message
	}
	ev := []string{fmt.Sprintf("pod %s container %s: %s", pc.pod.Name, c.Name, stateSummary(st))}
	if msg != "" {
		ev = append(ev, "message: "+msg)
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerConfig,
		Symptom: fmt.Sprintf("container %s cannot be started (%s)", c.Name, st.State.Waiting.Reason),
	}
	lower := strings.ToLower(msg)
	cmd := strings.TrimSpace(strings.Join(append(append([]string{}, c.Command...), c.Args...), " "))
	switch {
	case strings.Contains(lower, "executable file not found") || strings.Contains(lower, "no such file or directory") && strings.Contains(lower, "exec"):
		f.RootCause = fmt.Sprintf("the command of container %s (%s) does not exist in image %s: %s", c.Name, quote(truncate(cmd, 100)), c.Image, truncate(msg, 200))
		f.Fix = fmt.Sprintf("fix command/args of container %s in %s to an executable present in the image (or fix the image)", c.Name, pc.ownerPhrase())
	case strings.Contains(lower, "permission denied"):
		f.RootCause = fmt.Sprintf("the command of container %s is not executable or a mounted path is not accessible: %s", c.Name, truncate(msg, 200))
		f.Fix = fmt.Sprintf("make the entrypoint executable in the image or fix securityContext / volume permissions in %s", pc.ownerPhrase())
	case strings.Contains(lower, "exec format error"):
		f.RootCause = fmt.Sprintf("image %s is built for another CPU architecture than node %s", c.Image, pc.pod.Spec.NodeName)
		f.Fix = "use a multi-arch image or one built for the node's architecture, or schedule onto matching nodes (nodeSelector kubernetes.io/arch)"
	default:
		f.RootCause = "the container runtime cannot start the container: " + truncate(msg, 240)
		f.Fix = fmt.Sprintf("fix container %s in %s as the runtime message says", c.Name, pc.ownerPhrase())
	}
	t.addPod(pc, c.Name, withEvidence(f, ev))
}

var (
	mountVolumePattern = regexp.MustCompile(`for volume "([^"]+)"`)
	pvcNotFoundPattern = regexp.MustCompile(`persistentvolumeclaim "([^"]+)" not found`)
)

// stuckCreating diagnoses a pod stuck in ContainerCreating: volumes that cannot be
// mounted, or a sandbox that cannot be created. c may be nil (no container statuses yet).
func (t *triage) stuckCreating(ctx context.Context, pc podCtx, c *corev1.Container) bool {
	s := t.s
	p := pc.pod
	events := s.eventsOf("Pod", p.Namespace, p.Name, "FailedMount", "FailedAttachVolume", "FailedMapVolume", "FailedCreatePodSandBox", "FailedCreatePodContainer")
	since := p.CreationTimestamp.Time
	if cond := podCondition(p, corev1.PodScheduled); cond != nil && cond.Status == corev1.ConditionTrue && !cond.LastTransitionTime.IsZero() {
		since = cond.LastTransitionTime.Time
	}
	if len(events) == 0 && s.now.Sub(since) < stuckCreatingAfter {
		return false
	}
	ev := []string{fmt.Sprintf("pod %s is Pending in ContainerCreating since it was scheduled to %s %s", p.Name, p.Spec.NodeName, s.ago(since))}
	for i := len(events) - 1; i >= 0 && i >= len(events)-3; i-- {
		ev = append(ev, s.describeEvent(events[i]))
	}
	f := Finding{
		Severity: SeverityCritical, Analyzer: AnalyzerFailedMount,
		Symptom: fmt.Sprintf("pod %s is stuck in ContainerCreating", p.Name),
	}
	// Verify the volumes ourselves: a missing ConfigMap/Secret/PVC is certain.
	for _, v := range p.Spec.Volumes {
		kind, name, optional := volumeSource(v)
		if kind == "" {
			continue
		}
		var exists, known bool
		switch kind {
		case "ConfigMap", "Secret":
			o := t.lookupKeyed(ctx, kind, p.Namespace, name)
			exists, known = o.exists, o.known
		case "PersistentVolumeClaim":
			_, exists = s.pvcs[nsName{p.Namespace, name}]
			known = true
		}
		if !known || exists || optional {
			continue
		}
		users := volumeUsers(p, v.Name)
		f.RootCause = fmt.Sprintf("%s %s, mounted as volume %s%s, does not exist in namespace %s, so the kubelet cannot mount it and the containers never start",
			kind, name, v.Name, users, p.Namespace)
		switch kind {
		case "ConfigMap":
			f.Fix = fmt.Sprintf("create ConfigMap %s in namespace %s (kubectl create configmap %s -n %s --from-file=...) or fix the ConfigMap name of volume %s in %s",
				name, p.Namespace, name, p.Namespace, v.Name, pc.ownerPhrase())
			if alt := similar(name, s.configMapNames(ctx, p.Namespace)); len(alt) > 0 {
				f.Fix += "; existing ConfigMaps with similar names: " + strings.Join(alt, ", ")
			}
		case "Secret":
			f.Fix = fmt.Sprintf("create Secret %s in namespace %s or fix the secretName of volume %s in %s", name, p.Namespace, v.Name, pc.ownerPhrase())
		default:
			f.Fix = fmt.Sprintf("create PersistentVolumeClaim %s in namespace %s or fix claimName of volume %s in %s", name, p.Namespace, v.Name, pc.ownerPhrase())
		}
		t.addPod(pc, "", withEvidence(f, ev))
		return true
	}
	if len(events) == 0 {
		f.RootCause = fmt.Sprintf("the pod has been in ContainerCreating for %s without an Event explaining why (image pull in progress, slow volume attach, or a kubelet problem on %s)", humanDuration(s.now.Sub(since)), p.Spec.NodeName)
		f.Fix = fmt.Sprintf("check kubectl describe pod %s -n %s and the kubelet on node %s", p.Name, p.Namespace, p.Spec.NodeName)
		t.addPod(pc, "", withEvidence(f, ev))
		return true
	}
	last := events[len(events)-1]
	msg := last.Message
	switch {
	case last.Reason == "FailedCreatePodSandBox":
		f.RootCause = "the pod sandbox (network namespace) cannot be created on node " + p.Spec.NodeName + ": " + truncate(msg, 220)
		f.Fix = "fix the CNI plugin / container runtime on node " + p.Spec.NodeName + " (check the CNI pods in kube-system and the kubelet log)"
	case missingObjectPattern.MatchString(msg) || pvcNotFoundPattern.MatchString(msg):
		vol := ""
		if m := mountVolumePattern.FindStringSubmatch(msg); m != nil {
			vol = " (volume " + m[1] + ")"
		}
		f.RootCause = "a volume source does not exist" + vol + ": " + truncate(msg, 220)
		f.Fix = fmt.Sprintf("create the missing object or fix the volume in %s", pc.ownerPhrase())
	default:
		f.RootCause = "a volume cannot be attached or mounted: " + truncate(msg, 240)
		f.Fix = fmt.Sprintf("fix the volume as the message says (storage driver, PV access mode, node attachment) or the volume definition in %s", pc.ownerPhrase())
	}
	t.addPod(pc, "", withEvidence(f, ev))
	return true
}

// volumeSource returns what a volume refers to: ConfigMap, Secret or PersistentVolumeClaim.
func volumeSource(v corev1.Volume) (kind, name string, optional bool) {
	switch {
	case v.ConfigMap != nil:
		return "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional
	case v.Secret != nil:
		return "Secret", v.Secret.SecretName, v.Secret.Optional != nil && *v.Secret.Optional
	case v.PersistentVolumeClaim != nil:
		return "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, false
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if src.ConfigMap != nil && (src.ConfigMap.Optional == nil || !*src.ConfigMap.Optional) {
				return "ConfigMap", src.ConfigMap.Name, false
			}
			if src.Secret != nil && (src.Secret.Optional == nil || !*src.Secret.Optional) {
				return "Secret", src.Secret.Name, false
			}
		}
	}
	return "", "", false
}

// volumeUsers describes which containers mount a volume: " by container web at /etc/app".
func volumeUsers(p *corev1.Pod, volume string) string {
	var parts []string
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			for _, m := range c.VolumeMounts {
				if m.Name == volume {
					parts = append(parts, fmt.Sprintf("container %s at %s", c.Name, m.MountPath))
				}
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " by " + strings.Join(parts, ", ")
}
