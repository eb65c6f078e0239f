package k8stest

// PIDs returns the process ids of etcd and kube-apiserver, for lifecycle tests.
func (cp *ControlPlane) PIDs() []int {
	return []int{cp.etcd.cmd.Process.Pid, cp.apiserver.cmd.Process.Pid}
}

// Dir returns the control plane's temp dir, for lifecycle tests.
func (cp *ControlPlane) Dir() string { return cp.dir }
