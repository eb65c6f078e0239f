//go:build !linux

package e2e

import "syscall"

// childProcAttr puts a child in its own process group. Without a
// parent-death signal, a killed test binary may leak its children.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
