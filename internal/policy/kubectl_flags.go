package policy

// kubectlFlags is the flag table of kubectl v1.37 (k8s.io/kubectl v0.37.2) for
// every command this package understands, keyed by command path ("global" holds
// the flags every command inherits from the root command). It was produced by
// walking kubectl's own cobra command tree. The tests in
// internal/policy/kubectlcompat (a separate module, so that this package and
// the main module stay free of kubectl's command packages) compare it with
// that tree and fuzz the parser against kubectl's: run them after any kubectl
// upgrade with "cd internal/policy/kubectlcompat && go test ./...".
//
// Each line is "long[,short] kind [hidden]", where kind says how pflag consumes
// the flag's value:
//
//	bool      optional value, "true" when given alone; value must parse as a bool
//	opt=X     optional string value, X when given alone (--dry-run, --cascade, --validate)
//	string    takes a value (--flag=v, --flag v, -fv, -f v, -f=v); last occurrence wins
//	int       takes an integer value (int64, int32: of that size); last occurrence wins
//	int64
//	int32
//	duration  takes a Go duration value; last occurrence wins
//	slice     takes a value; every occurrence is kept (pflag stringSlice, comma separated)
//	array     takes a value; every occurrence is kept (pflag stringArray)
//	map       takes a value; every occurrence is kept (pflag mapStringString)
//
// "hidden" marks deprecated flags kubectl still accepts but no longer documents.
var kubectlFlags = map[string]string{
	"global": `
		as string
		as-group array
		as-uid string
		as-user-extra array
		cache-dir string
		certificate-authority string
		client-certificate string
		client-key string
		cluster string
		context string
		disable-compression bool
		insecure-skip-tls-verify bool
		kubeconfig string
		kuberc string
		log-flush-frequency duration
		match-server-version bool
		namespace,n string
		password string
		profile string
		profile-output string
		proxy-url string
		request-timeout string
		server,s string
		tls-server-name string
		token string
		user string
		username string
		v,v int32
		vmodule string
		warnings-as-errors bool
`,
	"annotate": `
		all bool
		all-namespaces,A bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		field-selector string
		filename,f slice
		kustomize,k string
		list bool
		local bool
		output,o string
		overwrite bool
		record bool hidden
		recursive,R bool
		resource-version string
		selector,l string
		show-managed-fields bool
		template string
`,
	"api-resources": `
		api-group string
		cached bool
		categories slice
		namespaced bool
		no-headers bool
		output,o string
		show-managed-fields bool
		sort-by string
		verbs slice
`,
	"api-versions": `
`,
	"auth": `
`,
	"auth can-i": `
		all-namespaces,A bool
		list bool
		no-headers bool
		quiet,q bool
		subresource string
`,
	"autoscale": `
		allow-missing-template-keys bool
		cpu string
		cpu-percent int32 hidden
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		kustomize,k string
		max int32
		memory string
		min int32
		name string
		output,o string
		record bool hidden
		recursive,R bool
		save-config bool
		show-managed-fields bool
		template string
`,
	"cluster-info": `
`,
	"cordon": `
		dry-run opt=unchanged
		selector,l string
`,
	"create": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		edit bool
		field-manager string
		filename,f slice
		kustomize,k string
		output,o string
		raw string
		record bool hidden
		recursive,R bool
		save-config bool
		selector,l string
		show-managed-fields bool
		template string
		validate opt=strict
		windows-line-endings bool
`,
	"create clusterrole": `
		aggregation-rule map
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		non-resource-url slice
		output,o string
		resource slice
		resource-name array
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
		verb slice
`,
	"create clusterrolebinding": `
		allow-missing-template-keys bool
		clusterrole string
		dry-run opt=unchanged
		field-manager string
		group array
		output,o string
		save-config bool
		serviceaccount array
		show-managed-fields bool
		template string
		user array
		validate opt=strict
`,
	"create configmap": `
		allow-missing-template-keys bool
		append-hash bool
		dry-run opt=unchanged
		field-manager string
		from-env-file slice
		from-file slice
		from-literal array
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create cronjob": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		image string
		output,o string
		restart string
		save-config bool
		schedule string
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create deployment": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		image slice
		output,o string
		port int32
		replicas,r int32
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create ingress": `
		allow-missing-template-keys bool
		annotation array
		class string
		default-backend string
		dry-run opt=unchanged
		field-manager string
		output,o string
		rule array
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create job": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		from string
		image string
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create namespace": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create poddisruptionbudget": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		max-unavailable string
		min-available string
		output,o string
		save-config bool
		selector string
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create priorityclass": `
		allow-missing-template-keys bool
		description string
		dry-run opt=unchanged
		field-manager string
		global-default bool
		output,o string
		preemption-policy string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
		value int32
`,
	"create quota": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		hard string
		output,o string
		save-config bool
		scopes string
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create role": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		output,o string
		resource slice
		resource-name array
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
		verb slice
`,
	"create rolebinding": `
		allow-missing-template-keys bool
		clusterrole string
		dry-run opt=unchanged
		field-manager string
		group array
		output,o string
		role string
		save-config bool
		serviceaccount array
		show-managed-fields bool
		template string
		user array
		validate opt=strict
`,
	"create secret": `
`,
	"create secret docker-registry": `
		allow-missing-template-keys bool
		append-hash bool
		docker-email string
		docker-password string
		docker-server string
		docker-username string
		dry-run opt=unchanged
		field-manager string
		from-file slice
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create secret generic": `
		allow-missing-template-keys bool
		append-hash bool
		dry-run opt=unchanged
		field-manager string
		from-env-file slice
		from-file slice
		from-literal array
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		type string
		validate opt=strict
`,
	"create secret tls": `
		allow-missing-template-keys bool
		append-hash bool
		cert string
		dry-run opt=unchanged
		field-manager string
		key string
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"create service": `
`,
	"create service clusterip": `
		allow-missing-template-keys bool
		clusterip string
		dry-run opt=unchanged
		field-manager string
		output,o string
		save-config bool
		show-managed-fields bool
		tcp slice
		template string
		validate opt=strict
`,
	"create service externalname": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		external-name string
		field-manager string
		output,o string
		save-config bool
		show-managed-fields bool
		tcp slice
		template string
		validate opt=strict
`,
	"create service loadbalancer": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		output,o string
		save-config bool
		show-managed-fields bool
		tcp slice
		template string
		validate opt=strict
`,
	"create service nodeport": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		node-port int
		output,o string
		save-config bool
		show-managed-fields bool
		tcp slice
		template string
		validate opt=strict
`,
	"create serviceaccount": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		output,o string
		save-config bool
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"delete": `
		all bool
		all-namespaces,A bool
		cascade opt=background
		dry-run opt=unchanged
		field-selector string
		filename,f slice
		force bool
		grace-period int
		ignore-not-found bool
		interactive,i bool
		kustomize,k string
		now bool
		output,o string
		raw string
		recursive,R bool
		selector,l string
		timeout duration
		wait bool
`,
	"describe": `
		all-namespaces,A bool
		chunk-size int64
		filename,f slice
		kustomize,k string
		recursive,R bool
		selector,l string
		show-events bool
`,
	"drain": `
		chunk-size int64
		delete-emptydir-data bool
		disable-eviction bool
		dry-run opt=unchanged
		force bool
		grace-period int
		ignore-daemonsets bool
		pod-selector string
		selector,l string
		skip-wait-for-delete-timeout int
		timeout duration
`,
	"events": `
		all-namespaces,A bool
		allow-missing-template-keys bool
		chunk-size int64
		for string
		no-headers bool
		output,o string
		show-managed-fields bool
		template string
		types slice
		watch,w bool
`,
	"exec": `
		container,c string
		filename,f slice
		pod-running-timeout duration
		quiet,q bool
		stdin,i bool
		tty,t bool
`,
	"explain": `
		api-version string
		max-depth int
		output,o string
		recursive,R bool
`,
	"expose": `
		allow-missing-template-keys bool
		cluster-ip string
		dry-run opt=unchanged
		external-ip string
		field-manager string
		filename,f slice
		kustomize,k string
		labels,l string
		load-balancer-ip string
		name string
		output,o string
		override-type string
		overrides string
		port string
		protocol string
		record bool hidden
		recursive,R bool
		save-config bool
		selector string
		session-affinity string
		show-managed-fields bool
		target-port string
		template string
		type string
`,
	"get": `
		all-namespaces,A bool
		allow-missing-template-keys bool
		chunk-size int64
		field-selector string
		filename,f slice
		ignore-not-found bool
		kustomize,k string
		label-columns,L slice
		no-headers bool
		output,o string
		output-watch-events bool
		raw string
		recursive,R bool
		selector,l string
		server-print bool
		show-kind bool
		show-labels bool
		show-managed-fields bool
		sort-by string
		subresource string
		template string
		watch,w bool
		watch-only bool
`,
	"label": `
		all bool
		all-namespaces,A bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		field-selector string
		filename,f slice
		kustomize,k string
		list bool
		local bool
		output,o string
		overwrite bool
		record bool hidden
		recursive,R bool
		resource-version string
		selector,l string
		show-managed-fields bool
		template string
`,
	"logs": `
		all-containers bool
		all-pods bool
		container,c string
		follow,f bool
		ignore-errors bool
		insecure-skip-tls-verify-backend bool
		limit-bytes int64
		max-log-requests int
		pod-running-timeout duration
		prefix bool
		previous,p bool
		selector,l string
		since duration
		since-time string
		tail int64
		timestamps bool
`,
	"patch": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		kustomize,k string
		local bool
		output,o string
		patch,p string
		patch-file string
		record bool hidden
		recursive,R bool
		show-managed-fields bool
		subresource string
		template string
		type string
`,
	"rollout": `
`,
	"rollout history": `
		allow-missing-template-keys bool
		filename,f slice
		kustomize,k string
		output,o string
		recursive,R bool
		revision int64
		selector,l string
		show-managed-fields bool
		template string
`,
	"rollout pause": `
		allow-missing-template-keys bool
		field-manager string
		filename,f slice
		kustomize,k string
		output,o string
		recursive,R bool
		selector,l string
		show-managed-fields bool
		template string
`,
	"rollout restart": `
		allow-missing-template-keys bool
		field-manager string
		filename,f slice
		kustomize,k string
		output,o string
		recursive,R bool
		selector,l string
		show-managed-fields bool
		template string
`,
	"rollout resume": `
		allow-missing-template-keys bool
		field-manager string
		filename,f slice
		kustomize,k string
		output,o string
		recursive,R bool
		selector,l string
		show-managed-fields bool
		template string
`,
	"rollout status": `
		filename,f slice
		kustomize,k string
		recursive,R bool
		revision int64
		selector,l string
		timeout duration
		watch,w bool
`,
	"rollout undo": `
		allow-missing-template-keys bool
		dry-run opt=unchanged
		filename,f slice
		kustomize,k string
		output,o string
		recursive,R bool
		selector,l string
		show-managed-fields bool
		template string
		to-revision int64
`,
	"run": `
		allow-missing-template-keys bool
		annotations array
		attach bool
		cascade opt=background
		command bool
		detach-keys string
		dry-run opt=unchanged
		env array
		expose bool
		field-manager string
		filename,f slice hidden
		force bool
		grace-period int
		image string
		image-pull-policy string
		kustomize,k string
		labels,l string
		leave-stdin-open bool
		output,o string
		override-type string
		overrides string
		pod-running-timeout duration
		port string
		privileged bool
		quiet,q bool
		record bool hidden
		recursive,R bool
		restart string
		rm bool
		save-config bool
		show-managed-fields bool
		stdin,i bool
		template string
		timeout duration
		tty,t bool
		wait bool
`,
	"scale": `
		all bool
		allow-missing-template-keys bool
		current-replicas int
		dry-run opt=unchanged
		filename,f slice
		kustomize,k string
		output,o string
		record bool hidden
		recursive,R bool
		replicas int
		resource-version string
		selector,l string
		show-managed-fields bool
		template string
		timeout duration
`,
	"set": `
`,
	"set env": `
		all bool
		allow-missing-template-keys bool
		containers,c string
		dry-run opt=unchanged
		env,e array
		field-manager string
		filename,f slice
		from string
		keys slice
		kustomize,k string
		list bool
		local bool
		output,o string
		overwrite bool
		prefix string
		recursive,R bool
		resolve bool
		selector,l string
		show-managed-fields bool
		template string
`,
	"set image": `
		all bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		kustomize,k string
		local bool
		output,o string
		record bool hidden
		recursive,R bool
		selector,l string
		show-managed-fields bool
		template string
`,
	"set resources": `
		all bool
		allow-missing-template-keys bool
		containers,c string
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		kustomize,k string
		limits string
		local bool
		output,o string
		record bool hidden
		recursive,R bool
		requests string
		selector,l string
		show-managed-fields bool
		template string
`,
	"set selector": `
		all bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		local bool
		output,o string
		record bool hidden
		recursive,R bool
		resource-version string
		show-managed-fields bool
		template string
`,
	"set serviceaccount": `
		all bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		kustomize,k string
		local bool
		output,o string
		record bool hidden
		recursive,R bool
		show-managed-fields bool
		template string
`,
	"set subject": `
		all bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		filename,f slice
		group array
		kustomize,k string
		local bool
		output,o string
		recursive,R bool
		selector,l string
		serviceaccount array
		show-managed-fields bool
		template string
		user array
`,
	"taint": `
		all bool
		allow-missing-template-keys bool
		dry-run opt=unchanged
		field-manager string
		output,o string
		overwrite bool
		selector,l string
		show-managed-fields bool
		template string
		validate opt=strict
`,
	"top": `
`,
	"top node": `
		no-headers bool
		selector,l string
		show-capacity bool
		show-swap bool
		sort-by string
		use-protocol-buffers bool
`,
	"top pod": `
		all-namespaces,A bool
		containers bool
		field-selector string
		no-headers bool
		selector,l string
		show-swap bool
		sort-by string
		sum bool
		use-protocol-buffers bool
`,
	"uncordon": `
		dry-run opt=unchanged
		selector,l string
`,
	"version": `
		client bool
		output,o string
`,
}
