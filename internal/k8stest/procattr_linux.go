package k8stest

import "syscall"

// childProcAttr puts a child in its own process group (so Stop can kill the group) and asks the
// kernel to SIGKILL it when the test binary dies, so a panicking or killed test binary leaves no
// etcd or kube-apiserver behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
