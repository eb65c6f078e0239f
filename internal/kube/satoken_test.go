package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDescribeServiceAccountTokenSecretHidesTheToken: stock kubectl describe
// prints the token of a kubernetes.io/service-account-token Secret in clear
// (it shows only sizes for other types). The policy allows describe secret,
// so the executor's redaction must keep that token inside the cluster.
func TestDescribeServiceAccountTokenSecretHidesTheToken(t *testing.T) {
	needCluster(t)
	ns := cp.NewNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const token = "eyJhbGciOiJSUzI1NiJ9.sa-token-that-must-not-leave.c2lnbmF0dXJl"
	_, err := cp.AdminClient().CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "builder-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "builder"}},
		Type:       corev1.SecretTypeServiceAccountToken,
		Data:       map[string][]byte{"token": []byte(token), "namespace": []byte(ns), "ca.crt": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The kubectl binary (with the same read-only identity) prints the token.
	out, _, err := cp.Kubectl(ctx, saKubeconfig, "describe", "secret", "builder-token", "-n", ns)
	if err != nil || !strings.Contains(out, token) {
		t.Fatalf("premise: kubectl describe shows the token (%v):\n%s", err, out)
	}
	r, err := NewRunner(Options{Config: saConfig, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(ctx, []string{"describe", "secret", "builder-token", "-n", ns})
	if res.ExitCode != 0 || !strings.Contains(res.Output, "kubernetes.io/service-account-token") {
		t.Fatalf("describe: %+v", res)
	}
	if strings.Contains(res.Output, "sa-token-that-must-not-leave") || !strings.Contains(res.Output, "token:      "+strings.Repeat("*", len(token))) {
		t.Fatalf("the token left the cluster, or is not shown masked:\n%s", res.Output)
	}
}
