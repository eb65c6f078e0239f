package kube

import (
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/klog/v2"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// The kubectl libraries were written for a short-lived CLI process: on a fatal
// error they print to os.Stderr and call os.Exit (cmdutil.CheckErr, klog.Fatal).
// Inside the long-lived executor that would kill every other command in flight,
// so the process-wide hooks below turn both exits into panics that carry the
// message and exit code. Every command runs under a recover (see Runner.Run)
// that turns such a panic into a Result; a panic that escapes elsewhere still
// ends the process, exactly as the exit would have.

// fatalExit is the panic value raised instead of the os.Exit that
// cmdutil.CheckErr would perform; msg is the text kubectl would have printed.
type fatalExit struct {
	msg  string
	code int
}

// klogExit is the panic value raised instead of klog's os.Exit after a
// klog.Fatal call; the fatal message itself went to the klog sink.
type klogExit struct {
	code int
}

var processHooksOnce sync.Once

// installProcessHooks routes klog into logger (never onto stderr, so nothing
// klog writes can interleave with command output) and replaces the exits of
// cmdutil.CheckErr and klog.Fatal with panics. It runs once per process.
func installProcessHooks(logger *slog.Logger) {
	processHooksOnce.Do(func() {
		if logger == nil {
			logger = slog.Default()
		}
		klog.SetSlogLogger(logger.With("component", "kubectl-libs"))
		klog.OsExit = func(code int) { panic(klogExit{code: code}) }
		cmdutil.BehaviorOnFatal(func(msg string, code int) { panic(fatalExit{msg: msg, code: code}) })
	})
}

// panicResult converts a recovered panic value into kubectl-style stderr text
// and an exit code.
func panicResult(p any) (msg string, code int, internal bool) {
	switch v := p.(type) {
	case fatalExit:
		return v.msg, v.code, false
	case klogExit:
		return "error: the kubectl library aborted the command (klog.Fatal); the details are in the executor's log", v.code, false
	default:
		return fmt.Sprintf("error: internal error in kubently's in-process kubectl: %v", p), 1, true
	}
}
