package policy

import "testing"

func TestCanonicalResource(t *testing.T) {
	cases := map[string]string{
		"pods": "pods", "pod": "pods", "po": "pods", "Pod": "pods", "PODS": "pods", "pods.": "pods", "pods.v1.": "pods",
		"pods.metrics.k8s.io": "pods", "svc": "services", "deploy": "deployments", "deployments.apps": "deployments",
		"deployment.v1.apps": "deployments", "Deployment.v1.apps": "deployments", "cm": "configmaps", "ns": "namespaces",
		"no": "nodes", "ds": "daemonsets", "sts": "statefulsets", "rs": "replicasets", "ing": "ingresses", "pvc": "persistentvolumeclaims",
		"pv": "persistentvolumes", "sa": "serviceaccounts", "ep": "endpoints", "ev": "events", "events.events.k8s.io": "events",
		"hpa": "horizontalpodautoscalers", "cj": "cronjobs", "crd": "customresourcedefinitions", "crds": "customresourcedefinitions",
		"netpol": "networkpolicies", "pdb": "poddisruptionbudgets", "sc": "storageclasses", "quota": "resourcequotas", "limits": "limitranges",
		"rc": "replicationcontrollers", "csr": "certificatesigningrequests", "pc": "priorityclasses", "all": "all",
		// every spelling of secrets
		"secret": "secrets", "secrets": "secrets", "Secret": "secrets", "SECRETS": "secrets", "secrets.v1": "secrets",
		"secrets.v1.": "secrets", "secret.v1.": "secrets", "Secret.v1.": "secrets", "secrets.": "secrets", "secrets.example.com": "secrets",
		// other types keep their full name
		"certificates.cert-manager.io": "certificates.cert-manager.io", "Widgets.Example.COM": "widgets.example.com",
		"pods.example.com": "pods.example.com", "pods.v1": "pods.v1",
	}
	for in, want := range cases {
		got, err := CanonicalResource(in)
		if err != nil || got != want {
			t.Errorf("CanonicalResource(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "pods ", " pods", "pod/x", "a,b", "-pods", ".pods", "ſecrets", "secrets\u200b", "pods\x00"} {
		if got, err := CanonicalResource(in); err == nil {
			t.Errorf("CanonicalResource(%q) = %q, want an error", in, got)
		}
	}
}

func TestClusterScoped(t *testing.T) {
	for r, want := range map[string]bool{
		"nodes": true, "namespaces": true, "persistentvolumes": true, "clusterroles": true, "storageclasses": true,
		"pods": false, "secrets": false, "deployments": false, "widgets.example.com": false, "all": false,
	} {
		if got := clusterScoped(r); got != want {
			t.Errorf("clusterScoped(%q) = %v, want %v", r, got, want)
		}
	}
}
