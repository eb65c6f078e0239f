//go:build unix && !linux

package k8stest

import "syscall"

// childProcAttr puts a child in its own process group so Stop can kill the group. Unlike on
// Linux there is no parent-death signal: a test binary killed with SIGKILL leaks its children.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
