package k8stest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// ExecFunc answers an exec into a container: what the command prints on
// stdout and stderr, and its exit code.
type ExecFunc func(cmd []string) (stdout, stderr string, exitCode int)

type execKey struct{ namespace, pod, container string }

// SetExec makes exec into the container run fn, the way the kubelet runs a
// command in a container; without it an exec fails like one into a
// container that has no such program.
func (k *Kubelet) SetExec(namespace, pod, container string, fn ExecFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.execs == nil {
		k.execs = map[execKey]ExecFunc{}
	}
	k.execs[execKey{namespace, pod, container}] = fn
}

// serveExec speaks the kubelet's exec streaming protocol (the API server
// proxies pods/exec here) with the same server code the kubelet uses.
func (k *Kubelet) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := execKey{r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")}
	k.mu.Lock()
	fn := k.execs[key]
	k.mu.Unlock()
	remotecommand.ServeExec(w, r, execRunner{key: key, fn: fn}, key.namespace+"/"+key.pod, "", key.container,
		r.URL.Query()["command"], opts, time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
}

type execRunner struct {
	key execKey
	fn  ExecFunc
}

// exitError is a command's non-zero exit, as the kubelet reports it.
type exitError struct{ code int }

func (e exitError) Error() string   { return fmt.Sprintf("command terminated with exit code %d", e.code) }
func (e exitError) String() string  { return e.Error() }
func (e exitError) Exited() bool    { return true }
func (e exitError) ExitStatus() int { return e.code }

func (x execRunner) ExecInContainer(ctx context.Context, name, uid, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	if x.fn == nil {
		if errw != nil {
			fmt.Fprintf(errw, "exec: %q: executable file not found in $PATH\n", cmd[0])
		}
		return exitError{code: 127}
	}
	stdout, stderr, code := x.fn(cmd)
	if out != nil {
		io.WriteString(out, stdout)
	}
	if errw != nil {
		io.WriteString(errw, stderr)
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}
