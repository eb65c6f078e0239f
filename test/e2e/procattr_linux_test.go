package e2e

import "syscall"

// childProcAttr puts a child in its own process group and has the kernel
// SIGKILL it if the test binary dies, so no kubently process outlives a
// crashed or interrupted test run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
