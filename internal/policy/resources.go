package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// builtinResource is one resource type served by a stock kube-apiserver.
type builtinResource struct {
	plural     string
	singular   string
	short      []string
	group      string // API group; "" is the core group
	namespaced bool
	alsoGroups []string // further groups that serve a resource of the same name (metrics.k8s.io)
}

// builtinResources lists the resources of Kubernetes 1.37 that kubectl users
// name by plural, singular (the lower-cased kind), or short name.
var builtinResources = []builtinResource{
	{plural: "bindings", singular: "binding", namespaced: true},
	{plural: "componentstatuses", singular: "componentstatus", short: []string{"cs"}},
	{plural: "configmaps", singular: "configmap", short: []string{"cm"}, namespaced: true},
	{plural: "endpoints", singular: "endpoints", short: []string{"ep"}, namespaced: true},
	{plural: "events", singular: "event", short: []string{"ev"}, namespaced: true, alsoGroups: []string{"events.k8s.io"}},
	{plural: "limitranges", singular: "limitrange", short: []string{"limits"}, namespaced: true},
	{plural: "namespaces", singular: "namespace", short: []string{"ns"}},
	{plural: "nodes", singular: "node", short: []string{"no"}, alsoGroups: []string{"metrics.k8s.io"}},
	{plural: "persistentvolumeclaims", singular: "persistentvolumeclaim", short: []string{"pvc"}, namespaced: true},
	{plural: "persistentvolumes", singular: "persistentvolume", short: []string{"pv"}},
	{plural: "pods", singular: "pod", short: []string{"po"}, namespaced: true, alsoGroups: []string{"metrics.k8s.io"}},
	{plural: "podtemplates", singular: "podtemplate", namespaced: true},
	{plural: "replicationcontrollers", singular: "replicationcontroller", short: []string{"rc"}, namespaced: true},
	{plural: "resourcequotas", singular: "resourcequota", short: []string{"quota"}, namespaced: true},
	{plural: "secrets", singular: "secret", namespaced: true},
	{plural: "serviceaccounts", singular: "serviceaccount", short: []string{"sa"}, namespaced: true},
	{plural: "services", singular: "service", short: []string{"svc"}, namespaced: true},
	{plural: "mutatingwebhookconfigurations", singular: "mutatingwebhookconfiguration", group: "admissionregistration.k8s.io"},
	{plural: "validatingwebhookconfigurations", singular: "validatingwebhookconfiguration", group: "admissionregistration.k8s.io"},
	{plural: "validatingadmissionpolicies", singular: "validatingadmissionpolicy", group: "admissionregistration.k8s.io"},
	{plural: "validatingadmissionpolicybindings", singular: "validatingadmissionpolicybinding", group: "admissionregistration.k8s.io"},
	{plural: "mutatingadmissionpolicies", singular: "mutatingadmissionpolicy", group: "admissionregistration.k8s.io"},
	{plural: "mutatingadmissionpolicybindings", singular: "mutatingadmissionpolicybinding", group: "admissionregistration.k8s.io"},
	{plural: "customresourcedefinitions", singular: "customresourcedefinition", short: []string{"crd", "crds"}, group: "apiextensions.k8s.io"},
	{plural: "apiservices", singular: "apiservice", group: "apiregistration.k8s.io"},
	{plural: "controllerrevisions", singular: "controllerrevision", group: "apps", namespaced: true},
	{plural: "daemonsets", singular: "daemonset", short: []string{"ds"}, group: "apps", namespaced: true},
	{plural: "deployments", singular: "deployment", short: []string{"deploy"}, group: "apps", namespaced: true},
	{plural: "replicasets", singular: "replicaset", short: []string{"rs"}, group: "apps", namespaced: true},
	{plural: "statefulsets", singular: "statefulset", short: []string{"sts"}, group: "apps", namespaced: true},
	{plural: "selfsubjectreviews", singular: "selfsubjectreview", group: "authentication.k8s.io"},
	{plural: "tokenreviews", singular: "tokenreview", group: "authentication.k8s.io"},
	{plural: "localsubjectaccessreviews", singular: "localsubjectaccessreview", group: "authorization.k8s.io", namespaced: true},
	{plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", group: "authorization.k8s.io"},
	{plural: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview", group: "authorization.k8s.io"},
	{plural: "subjectaccessreviews", singular: "subjectaccessreview", group: "authorization.k8s.io"},
	{plural: "horizontalpodautoscalers", singular: "horizontalpodautoscaler", short: []string{"hpa"}, group: "autoscaling", namespaced: true},
	{plural: "cronjobs", singular: "cronjob", short: []string{"cj"}, group: "batch", namespaced: true},
	{plural: "jobs", singular: "job", group: "batch", namespaced: true},
	{plural: "certificatesigningrequests", singular: "certificatesigningrequest", short: []string{"csr"}, group: "certificates.k8s.io"},
	{plural: "clustertrustbundles", singular: "clustertrustbundle", group: "certificates.k8s.io"},
	{plural: "leases", singular: "lease", group: "coordination.k8s.io", namespaced: true},
	{plural: "leasecandidates", singular: "leasecandidate", group: "coordination.k8s.io", namespaced: true},
	{plural: "endpointslices", singular: "endpointslice", group: "discovery.k8s.io", namespaced: true},
	{plural: "flowschemas", singular: "flowschema", group: "flowcontrol.apiserver.k8s.io"},
	{plural: "prioritylevelconfigurations", singular: "prioritylevelconfiguration", group: "flowcontrol.apiserver.k8s.io"},
	{plural: "ingressclasses", singular: "ingressclass", group: "networking.k8s.io"},
	{plural: "ingresses", singular: "ingress", short: []string{"ing"}, group: "networking.k8s.io", namespaced: true},
	{plural: "networkpolicies", singular: "networkpolicy", short: []string{"netpol"}, group: "networking.k8s.io", namespaced: true},
	{plural: "ipaddresses", singular: "ipaddress", short: []string{"ip"}, group: "networking.k8s.io"},
	{plural: "servicecidrs", singular: "servicecidr", group: "networking.k8s.io"},
	{plural: "runtimeclasses", singular: "runtimeclass", group: "node.k8s.io"},
	{plural: "poddisruptionbudgets", singular: "poddisruptionbudget", short: []string{"pdb"}, group: "policy", namespaced: true},
	{plural: "clusterrolebindings", singular: "clusterrolebinding", group: "rbac.authorization.k8s.io"},
	{plural: "clusterroles", singular: "clusterrole", group: "rbac.authorization.k8s.io"},
	{plural: "rolebindings", singular: "rolebinding", group: "rbac.authorization.k8s.io", namespaced: true},
	{plural: "roles", singular: "role", group: "rbac.authorization.k8s.io", namespaced: true},
	{plural: "deviceclasses", singular: "deviceclass", group: "resource.k8s.io"},
	{plural: "resourceclaims", singular: "resourceclaim", group: "resource.k8s.io", namespaced: true},
	{plural: "resourceclaimtemplates", singular: "resourceclaimtemplate", group: "resource.k8s.io", namespaced: true},
	{plural: "resourceslices", singular: "resourceslice", group: "resource.k8s.io"},
	{plural: "priorityclasses", singular: "priorityclass", short: []string{"pc"}, group: "scheduling.k8s.io"},
	{plural: "csidrivers", singular: "csidriver", group: "storage.k8s.io"},
	{plural: "csinodes", singular: "csinode", group: "storage.k8s.io"},
	{plural: "csistoragecapacities", singular: "csistoragecapacity", group: "storage.k8s.io", namespaced: true},
	{plural: "storageclasses", singular: "storageclass", short: []string{"sc"}, group: "storage.k8s.io"},
	{plural: "volumeattachments", singular: "volumeattachment", group: "storage.k8s.io"},
	{plural: "volumeattributesclasses", singular: "volumeattributesclass", short: []string{"vac"}, group: "storage.k8s.io"},
	// alpha and beta resources of 1.37
	{plural: "podcertificaterequests", singular: "podcertificaterequest", group: "certificates.k8s.io", namespaced: true},
	{plural: "devicetaintrules", singular: "devicetaintrule", group: "resource.k8s.io"},
	{plural: "resourcepoolstatusrequests", singular: "resourcepoolstatusrequest", group: "resource.k8s.io"},
	{plural: "podgroups", singular: "podgroup", group: "scheduling.k8s.io", namespaced: true},
	{plural: "compositepodgroups", singular: "compositepodgroup", group: "scheduling.k8s.io", namespaced: true},
	{plural: "workloads", singular: "workload", group: "scheduling.k8s.io", namespaced: true},
	{plural: "evictionrequests", singular: "evictionrequest", group: "lifecycle.k8s.io", namespaced: true},
	{plural: "storageversionmigrations", singular: "storageversionmigration", group: "storagemigration.k8s.io"},
	{plural: "storageversions", singular: "storageversion", group: "internal.apiserver.k8s.io"},
}

// allCategory lists the resources kubectl's "all" category expands to. It
// does not include secrets (nor configmaps): "get all" never shows secrets.
var allCategory = []string{
	"pods", "services", "daemonsets", "deployments", "replicasets", "statefulsets",
	"replicationcontrollers", "horizontalpodautoscalers", "cronjobs", "jobs",
}

// resourceNames maps every spelling of a builtin resource (plural, singular,
// short name) to its entry.
var resourceNames = func() map[string]*builtinResource {
	m := map[string]*builtinResource{}
	for i := range builtinResources {
		r := &builtinResources[i]
		for _, n := range append([]string{r.plural, r.singular}, r.short...) {
			if prev, dup := m[n]; dup && prev != r {
				panic("policy: resource name " + n + " is ambiguous")
			}
			m[n] = r
		}
	}
	return m
}()

var (
	resourceTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	apiVersionRE   = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)
)

// SecretsResource is the canonical name of the Secret resource.
const SecretsResource = "secrets"

// CanonicalResource returns the canonical resource name of a resource type as
// a user typed it: builtin resources become their lower-case plural with any
// group or version suffix dropped ("po", "Pod", "pods.v1.", "deploy",
// "deployments.v1.apps" -> "pods", "deployments"); other types are returned
// lower-cased ("certificates.cert-manager.io"). Every spelling whose first
// segment is "secret" or "secrets" (in any case, with any group or version
// suffix) is "secrets", so that no spelling can slip past the secret checks.
// Types with characters kubectl never accepts in a type are an error.
func CanonicalResource(typed string) (string, error) {
	t := strings.ToLower(typed)
	if !resourceTypeRE.MatchString(t) {
		return "", fmt.Errorf("invalid resource type %q", typed)
	}
	first, rest, _ := strings.Cut(t, ".")
	if first == "secret" || first == "secrets" {
		return SecretsResource, nil
	}
	r := resourceNames[first]
	if r == nil {
		return t, nil
	}
	if rest == "" || r.inGroup(rest) {
		return r.plural, nil
	}
	return t, nil
}

// inGroup reports whether rest ("group" or "version.group", the part of a
// typed resource after its first dot) names a group that serves r.
func (r *builtinResource) inGroup(rest string) bool {
	for _, g := range append([]string{r.group}, r.alsoGroups...) {
		if rest == g {
			return true
		}
		if v, grp, ok := strings.Cut(rest, "."); ok && grp == g && apiVersionRE.MatchString(v) {
			return true
		}
	}
	return false
}

// clusterScoped reports whether canonical names a builtin resource that is
// not namespaced.
func clusterScoped(canonical string) bool {
	r := resourceNames[canonical]
	return r != nil && r.plural == canonical && !r.namespaced
}
