package e2e

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/testkit"
)

// TestDeadExecutorBehindSilentConnectionIsDisconnected: an executor dies
// while its connection to the API is silent but open (a wedged proxy or load
// balancer). The API's keepalive writes still succeed into its socket buffer,
// so only the executor's heartbeats (on a connection of their own) can tell
// that it is gone. Expected: the cluster is disconnected within the presence
// TTL (40s) plus one keepalive (15s), and commands get 503 again.
func TestDeadExecutorBehindSilentConnectionIsDisconnected(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "ghost"
	proxy := testkit.StartProxy(t, r.api.addr)
	ex, _ := r.connect(t, cluster, proxy.URL())
	sess := r.user.createSession(t, cluster)
	r.mustWork(t, cluster, sess)

	proxy.Blackhole()
	if !ex.signal(syscall.SIGKILL, 30*time.Second) {
		t.Fatal("executor did not die")
	}
	deadline := time.Now().Add(40*time.Second + 15*time.Second + 10*time.Second)
	for {
		cl := r.admin.clusterStatus(t, cluster)
		if cl.Status == api.ClusterDisconnected {
			break
		}
		if time.Now().After(deadline) {
			got := r.user.execute(t, cluster, sess, 5, "version")
			t.Fatalf("65s after its only executor died, cluster %s is %s with %d live stream(s); a command is answered %s",
				cluster, cl.Status, cl.Executors, got)
		}
		time.Sleep(time.Second)
	}
	if got := r.user.execute(t, cluster, sess, 5, "version"); got.status != http.StatusServiceUnavailable {
		t.Fatalf("command to a cluster without executor: %s, want 503", got)
	}
}
