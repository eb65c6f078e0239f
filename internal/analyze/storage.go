package analyze

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// pvcPendingGrace is how long a claim of an existing class may wait for its provisioner
// before it is reported (without a failure Event).
const pvcPendingGrace = 2 * time.Minute

// defaultClassAnnotations mark the default StorageClass (the beta one is still honoured).
var defaultClassAnnotations = []string{"storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"}

func isDefaultClass(sc *storagev1.StorageClass) bool {
	for _, a := range defaultClassAnnotations {
		if sc.Annotations[a] == "true" {
			return true
		}
	}
	return false
}

// classSummary lists the StorageClasses: "standard (default, provisioner x), fast".
func (s *snapshot) classSummary() (summary, suggestion string) {
	names := sortedKeys(s.classes)
	if len(names) == 0 {
		return "none", ""
	}
	parts := make([]string, 0, len(names))
	for _, n := range names {
		sc := s.classes[n]
		desc := n + " (provisioner " + sc.Provisioner
		if isDefaultClass(sc) {
			desc = n + " (default, provisioner " + sc.Provisioner
			suggestion = n
		}
		parts = append(parts, desc+")")
	}
	if suggestion == "" {
		suggestion = names[0]
	}
	return strings.Join(parts, ", "), suggestion
}

// analyzePVCs reports claims that are not bound, with the pods waiting for them.
func (t *triage) analyzePVCs(ctx context.Context) {
	s := t.s
	users := map[nsName][]*corev1.Pod{}
	for _, p := range s.pods {
		if !s.inScope(p.Labels) || podTerminal(p) {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				k := nsName{p.Namespace, v.PersistentVolumeClaim.ClaimName}
				users[k] = append(users[k], p)
			}
		}
	}
	for _, pvc := range s.pvcList {
		k := nsName{pvc.Namespace, pvc.Name}
		if !s.inScope(pvc.Labels) && len(users[k]) == 0 {
			continue
		}
		switch pvc.Status.Phase {
		case corev1.ClaimBound:
			continue
		case corev1.ClaimLost:
			t.addPVC(pvc, users[k], Finding{
				Severity:  SeverityCritical,
				Symptom:   fmt.Sprintf("PersistentVolumeClaim %s is Lost", pvc.Name),
				Evidence:  []string{"bound volume: " + orDefault(pvc.Spec.VolumeName, "none")},
				RootCause: fmt.Sprintf("the PersistentVolume %s the claim was bound to no longer exists; its data may be gone", orDefault(pvc.Spec.VolumeName, "(unknown)")),
				Fix:       fmt.Sprintf("restore the PersistentVolume %s (from backup) or delete and recreate claim %s so a new volume is provisioned", pvc.Spec.VolumeName, pvc.Name),
			})
		default:
			t.pendingPVC(ctx, pvc, users[k])
		}
	}
}

// addPVC records a finding about a claim and remembers it for the pods that use it.
func (t *triage) addPVC(pvc *corev1.PersistentVolumeClaim, users []*corev1.Pod, f Finding) {
	f.Analyzer = AnalyzerPVC
	f.Namespace = pvc.Namespace
	f.Resource = resourceName("PersistentVolumeClaim", pvc.Name)
	owners := map[string]bool{}
	for _, p := range users {
		owners[t.s.podOwner(p)] = true
	}
	if len(owners) > 0 {
		f.Symptom += fmt.Sprintf("; %s cannot start while it is unbound", strings.Join(sortedKeys(owners), ", "))
	}
	nf := t.add("", f, "")
	t.pvcFindings[nsName{pvc.Namespace, pvc.Name}] = nf
	for o := range owners {
		t.cover(pvc.Namespace, o)
	}
}

// pendingPVC diagnoses a claim that stays Pending.
func (t *triage) pendingPVC(ctx context.Context, pvc *corev1.PersistentVolumeClaim, users []*corev1.Pod) {
	s := t.s
	className, hasClass := "", pvc.Spec.StorageClassName != nil
	if hasClass {
		className = *pvc.Spec.StorageClassName
	}
	events := s.eventsOf("PersistentVolumeClaim", pvc.Namespace, pvc.Name)
	var warning *corev1.Event
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning {
			warning = e
		}
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	modes := make([]string, 0, len(pvc.Spec.AccessModes))
	for _, m := range pvc.Spec.AccessModes {
		modes = append(modes, string(m))
	}
	classes, suggestion := s.classSummary()
	ev := []string{
		fmt.Sprintf("PersistentVolumeClaim %s is Pending (created %s)", pvc.Name, s.ago(pvc.CreationTimestamp.Time)),
		fmt.Sprintf("storageClassName: %s, requests %s %s", classLabel(pvc), size.String(), strings.Join(modes, ",")),
	}
	if s.classesOK {
		ev = append(ev, "StorageClasses in the cluster: "+classes)
	}
	if warning != nil {
		ev = append(ev, s.describeEvent(warning))
	} else if len(events) > 0 {
		ev = append(ev, s.describeEvent(events[len(events)-1]))
	}
	f := Finding{
		Severity: SeverityCritical,
		Symptom:  fmt.Sprintf("PersistentVolumeClaim %s stays Pending", pvc.Name),
		Evidence: ev,
	}
	usedBy := ""
	if len(users) > 0 {
		usedBy = " and the pods using it stay Pending"
	}
	recreate := fmt.Sprintf("storageClassName cannot be changed on an existing claim, so delete PVC %s and recreate it", pvc.Name)
	switch {
	case hasClass && className != "" && s.classesOK && s.classes[className] == nil:
		f.RootCause = fmt.Sprintf("StorageClass %q requested by PersistentVolumeClaim %s does not exist, so no volume can be provisioned or bound%s", className, pvc.Name, usedBy)
		if suggestion != "" {
			alt := ""
			if near := similar(className, sortedKeys(s.classes)); len(near) > 0 {
				suggestion = near[0]
				alt = " (closest name)"
			}
			f.Fix = fmt.Sprintf("use an existing StorageClass such as %s%s: %s with storageClassName: %s (also in the manifest or volumeClaimTemplate that creates it), or create StorageClass %s if it should exist",
				suggestion, alt, recreate, suggestion, className)
		} else {
			f.Fix = fmt.Sprintf("the cluster has no StorageClass: create StorageClass %s for the cluster's storage driver (or a PersistentVolume to bind statically)", className)
		}
	case !hasClass && s.classesOK && !t.hasDefaultClass():
		f.RootCause = fmt.Sprintf("PersistentVolumeClaim %s names no StorageClass and the cluster has no default StorageClass, so nothing provisions a volume%s", pvc.Name, usedBy)
		f.Fix = fmt.Sprintf("set storageClassName of claim %s to one of the classes (%s) — %s — or mark a class as default (kubectl annotate storageclass <name> storageclass.kubernetes.io/is-default-class=true)", pvc.Name, classes, recreate)
	case hasClass && className == "":
		f.RootCause = fmt.Sprintf("PersistentVolumeClaim %s asks for static binding (storageClassName \"\") and no available PersistentVolume matches %s %s%s", pvc.Name, size.String(), strings.Join(modes, ","), usedBy)
		f.Fix = fmt.Sprintf("create a PersistentVolume with storageClassName \"\" of at least %s and access mode %s, or recreate the claim with a StorageClass (%s)", size.String(), strings.Join(modes, ","), classes)
		if pvs := s.persistentVolumes(ctx); pvs != nil {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%d PersistentVolumes exist", len(pvs)))
		}
	default:
		sc := s.classes[className]
		if !hasClass {
			for _, c := range s.classes {
				if isDefaultClass(c) {
					sc = c
				}
			}
		}
		if sc != nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer && warning == nil {
			return // binds when a pod using it is scheduled; the pod's own finding explains any delay
		}
		if warning == nil && s.now.Sub(pvc.CreationTimestamp.Time) < pvcPendingGrace {
			return
		}
		provisioner := "its provisioner"
		if sc != nil {
			provisioner = "provisioner " + sc.Provisioner
		}
		if warning != nil {
			f.RootCause = fmt.Sprintf("%s cannot provision a volume for claim %s: %s", provisioner, pvc.Name, truncate(warning.Message, 220))
			f.Fix = fmt.Sprintf("fix what the provisioning error says (driver, quota, parameters of StorageClass %s), then the claim binds by itself", orDefault(className, "(default)"))
		} else {
			f.Severity = SeverityWarning
			f.RootCause = fmt.Sprintf("%s has not provisioned a volume for claim %s in %s: the CSI driver or external provisioner may not be running", provisioner, pvc.Name, humanDuration(s.now.Sub(pvc.CreationTimestamp.Time)))
			f.Fix = "check the storage driver's controller pods (kubectl get pods -A | grep -i csi) and their logs"
		}
	}
	t.addPVC(pvc, users, f)
}

func classLabel(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName == nil {
		return "(unset: the default class)"
	}
	if *pvc.Spec.StorageClassName == "" {
		return `"" (static binding)`
	}
	return *pvc.Spec.StorageClassName
}

func (t *triage) hasDefaultClass() bool {
	for _, sc := range t.s.classes {
		if isDefaultClass(sc) {
			return true
		}
	}
	return false
}
