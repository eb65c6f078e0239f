package k8stest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubently/kubently/internal/testpki"
)

// LogLine is one line of a container's log as the container runtime recorded it.
type LogLine struct {
	// Time is when the runtime recorded the line; sinceSeconds/sinceTime filter on it and
	// timestamps=true prints it. The zero Time means "when SetLogs or AppendLogs was called".
	Time time.Time
	// Text is the line without its trailing newline.
	Text string
}

// timeFormatOut is the kubelet's timestamp format for timestamps=true (fixed-width RFC 3339).
const timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"

// Kubelet is a stand-in for the kubelet's log endpoint. The apiserver proxies pods/log of a
// pod bound to a Node created by ControlPlane.Node to this server, which answers from the
// lines set with SetLogs, with the kubelet's semantics for the log options.
type Kubelet struct {
	client kubernetes.Interface // admin client: pod status for containers without logs
	srv    *http.Server
	port   int
	closed chan struct{}

	mu    sync.Mutex
	logs  map[logKey]*logStream
	execs map[execKey]ExecFunc
}

type logKey struct {
	namespace, pod, container string
	previous                  bool
}

// logStream is the log of one container instance; changed is closed and replaced on every
// change so followers wake up.
type logStream struct {
	lines   []LogLine
	changed chan struct{}
}

// startKubelet serves the kubelet stand-in over TLS on a free loopback port.
func startKubelet(cert *testpki.Serving, client kubernetes.Interface) (*Kubelet, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &Kubelet{
		client: client,
		port:   l.Addr().(*net.TCPAddr).Port,
		closed: make(chan struct{}),
		logs:   map[logKey]*logStream{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.serveLogs)
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", k.serveExec)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	k.srv = &http.Server{Handler: mux, TLSConfig: cert.ServerTLSConfig(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.srv.ServeTLS(l, "", "") }()
	return k, nil
}

// Port is the TCP port of the stand-in on 127.0.0.1; Nodes advertise it as their kubelet port.
func (k *Kubelet) Port() int { return k.port }

func (k *Kubelet) close() {
	close(k.closed)
	_ = k.srv.Close()
}

// SetLogs replaces the log of a container: the current instance, or with previous=true the
// previous (terminated) instance that `kubectl logs --previous` reads.
func (k *Kubelet) SetLogs(namespace, pod, container string, previous bool, lines []LogLine) {
	k.update(logKey{namespace, pod, container, previous}, func(s *logStream) {
		s.lines = stampLines(lines)
	})
}

// AppendLogs adds lines to the current instance of a container's log; `kubectl logs -f`
// readers receive them as they arrive.
func (k *Kubelet) AppendLogs(namespace, pod, container string, lines ...LogLine) {
	k.update(logKey{namespace, pod, container, false}, func(s *logStream) {
		s.lines = append(s.lines, stampLines(lines)...)
	})
}

func stampLines(lines []LogLine) []LogLine {
	now := time.Now()
	out := make([]LogLine, len(lines))
	for i, l := range lines {
		if l.Time.IsZero() {
			l.Time = now
		}
		out[i] = l
	}
	return out
}

func (k *Kubelet) update(key logKey, change func(*logStream)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.logs[key]
	if s == nil {
		s = &logStream{changed: make(chan struct{})}
		k.logs[key] = s
	}
	change(s)
	close(s.changed)
	s.changed = make(chan struct{})
}

// read returns the lines from index from on, the index after them and a channel closed at
// the next change. ok is false when the log was never set.
func (k *Kubelet) read(key logKey, from int) (lines []LogLine, next int, changed <-chan struct{}, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.logs[key]
	if s == nil {
		return nil, 0, nil, false
	}
	if from < len(s.lines) {
		lines = append([]LogLine(nil), s.lines[from:]...)
	}
	return lines, len(s.lines), s.changed, true
}

// logOptions are the kubelet's containerLogs query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	tailLines                    int64 // -1: all
	since                        time.Time
	limitBytes                   int64
}

func parseLogOptions(r *http.Request) (logOptions, error) {
	q := r.URL.Query()
	o := logOptions{tailLines: -1, limitBytes: math.MaxInt64}
	var err error
	boolParam := func(name string) bool {
		v := q.Get(name)
		if v == "" || err != nil {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("invalid %s %q", name, v)
		}
		return b
	}
	intParam := func(name string, min int64) (int64, bool) {
		v := q.Get(name)
		if v == "" || err != nil {
			return 0, false
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < min {
			err = fmt.Errorf("invalid %s %q", name, v)
			return 0, false
		}
		return n, true
	}
	o.follow = boolParam("follow")
	o.previous = boolParam("previous")
	o.timestamps = boolParam("timestamps")
	tail := q.Get("tailLines")
	if legacy := q.Get("tail"); legacy != "" && legacy != "all" {
		tail = legacy
	}
	if tail != "" {
		q.Set("tailLines", tail)
		if n, ok := intParam("tailLines", 0); ok {
			o.tailLines = n
		}
	}
	if n, ok := intParam("limitBytes", 1); ok {
		o.limitBytes = n
	}
	// As in the kubelet: sinceSeconds counts back from now, a later sinceTime wins.
	if n, ok := intParam("sinceSeconds", 1); ok {
		o.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" && err == nil {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			err = fmt.Errorf("invalid sinceTime %q", v)
		} else if t.After(o.since) {
			o.since = t
		}
	}
	return o, err
}

func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	key := logKey{r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), false}
	opts, err := parseLogOptions(r)
	if err != nil {
		writeKubeletError(w, http.StatusBadRequest, err.Error())
		return
	}
	key.previous = opts.previous
	lines, next, changed, ok := k.read(key, 0)
	if !ok {
		// Never set: answer what the kubelet answers for the container's state.
		if code, msg := k.containerLogState(r.Context(), key); code != http.StatusOK {
			writeKubeletError(w, code, msg)
			return
		}
		if opts.follow && !opts.previous {
			k.update(key, func(*logStream) {}) // the running container's empty log, for -f to wait on
			lines, next, changed, _ = k.read(key, 0)
		}
	}

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	lw := &logWriter{w: w, opts: opts, remain: opts.limitBytes}
	// Like the kubelet: tailLines picks the starting line, then the since filter applies.
	if opts.tailLines >= 0 && opts.tailLines < int64(len(lines)) {
		lines = lines[int64(len(lines))-opts.tailLines:]
	}
	if lw.write(lines) != nil || !opts.follow || opts.previous {
		return
	}
	_ = rc.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-k.closed:
			return
		case <-changed:
		}
		lines, next, changed, _ = k.read(key, next)
		if lw.write(lines) != nil {
			return
		}
		_ = rc.Flush()
	}
}

// logWriter writes log lines with the kubelet's since, timestamps and limitBytes handling.
type logWriter struct {
	w      io.Writer
	opts   logOptions
	remain int64
}

var errLimitReached = errors.New("limitBytes reached")

func (lw *logWriter) write(lines []LogLine) error {
	for _, l := range lines {
		if l.Time.Before(lw.opts.since) {
			continue
		}
		b := []byte(l.Text + "\n")
		if lw.opts.timestamps {
			b = append([]byte(l.Time.UTC().Format(timeFormatOut)+" "), b...)
		}
		if int64(len(b)) > lw.remain {
			b = b[:lw.remain]
		}
		n, err := lw.w.Write(b)
		lw.remain -= int64(n)
		if err != nil {
			return err
		}
		if lw.remain <= 0 {
			return errLimitReached
		}
	}
	return nil
}

// containerLogState mirrors the kubelet's checks for a container whose log was never set:
// the pod and container must exist, --previous needs a terminated previous instance, and a
// container that is not running yet has no log. A running container has an empty log.
func (k *Kubelet) containerLogState(ctx context.Context, key logKey) (int, string) {
	pod, err := k.client.CoreV1().Pods(key.namespace).Get(ctx, key.pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return http.StatusNotFound, fmt.Sprintf("pod %q does not exist", key.pod)
	}
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	var status *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == key.container {
				status = &list[i]
			}
		}
	}
	c, p := key.container, key.pod
	switch {
	case status == nil:
		return http.StatusBadRequest, fmt.Sprintf("container %q in pod %q is not available", c, p)
	case key.previous:
		if t := status.LastTerminationState.Terminated; t == nil || t.ContainerID == "" {
			return http.StatusBadRequest, fmt.Sprintf("previous terminated container %q in pod %q not found", c, p)
		}
	case status.State.Running != nil:
	case status.State.Terminated != nil || status.LastTerminationState.Terminated != nil:
	case status.State.Waiting != nil:
		return http.StatusBadRequest, fmt.Sprintf("container %q in pod %q is waiting to start: %s", c, p, status.State.Waiting.Reason)
	default:
		return http.StatusBadRequest, fmt.Sprintf("container %q in pod %q is waiting to start - no logs yet", c, p)
	}
	return http.StatusOK, ""
}

// writeKubeletError answers like the kubelet: the message as plain text with a status code;
// the apiserver turns it into a Status that kubectl prints.
func writeKubeletError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}
