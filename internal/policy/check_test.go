package policy

import (
	"errors"
	"strings"
	"testing"
)

// checkCase is one Check call: the command is given as its verb (commandType)
// and the remaining args, the way the API receives it.
type checkCase struct {
	mode Mode
	cmd  string   // whole command line, split on spaces: first word is the verb
	args []string // when set, the verb is the first word of cmd and these are the args
	want string   // "" when the command must be allowed; otherwise a substring of the reason
}

func (tc checkCase) split() (string, []string) {
	words := strings.Fields(tc.cmd)
	if tc.args != nil {
		return words[0], tc.args
	}
	if len(words) == 0 {
		return "", nil
	}
	return words[0], words[1:]
}

const (
	credReason   = "it overrides the executor's credentials or target"
	fileReason   = "it reads files on the executor"
	streamReason = "unbounded stream"
	stdinReason  = "interactive input is not supported"
	secretReason = "reading secret values is not allowed"
)

var allowedCases = []checkCase{
	// readOnly: get in all its forms
	{mode: ReadOnly, cmd: "get pods"},
	{mode: ReadOnly, cmd: "get po -n kube-system"},
	{mode: ReadOnly, cmd: "get pods -A"},
	{mode: ReadOnly, cmd: "get pod/x -o yaml"},
	{mode: ReadOnly, cmd: "get pods,services -o wide"},
	{mode: ReadOnly, cmd: "get secrets"},
	{mode: ReadOnly, cmd: "get secret -o wide"},
	{mode: ReadOnly, cmd: "get secrets -o name"},
	{mode: ReadOnly, cmd: "get secret/x -oname"},
	{mode: ReadOnly, cmd: "get Secret mysecret --show-labels"},
	{mode: ReadOnly, cmd: "get secrets --sort-by=.metadata.creationTimestamp"},
	{mode: ReadOnly, cmd: "get secrets --sort-by={.type} -L app"},
	{mode: ReadOnly, cmd: "get all -o yaml"},
	{mode: ReadOnly, cmd: "get events --field-selector type=Warning"},
	{mode: ReadOnly, cmd: "get deploy -l app=web -o jsonpath={.items[*].metadata.name}"},
	{mode: ReadOnly, cmd: "get pods --watch=false"},
	{mode: ReadOnly, cmd: "get pods -w=false"},
	{mode: ReadOnly, cmd: "get pods -Aw=false"},
	{mode: ReadOnly, cmd: "get nodes -o custom-columns=NAME:.metadata.name"},
	{mode: ReadOnly, cmd: "get pods -- --server=x"},
	{mode: ReadOnly, cmd: "get cm,ds,sts,rs,ing,pvc,pv,sa,ep,ev,hpa,cj,crd,ns,no,svc,deploy,po"},
	{mode: ReadOnly, cmd: "get pods --all_namespaces"},
	{mode: ReadOnly, cmd: "get pods -n=kube-system"},
	{mode: ReadOnly, cmd: "get pods -nkube-system"},
	{mode: ReadOnly, cmd: "get pods --namespace kube-system --request-timeout=10s"},
	{mode: ReadOnly, cmd: "get deploy cluster-autoscaler -n kube-system -o yaml"},
	{mode: ReadOnly, cmd: "get pods secret-reader -o yaml"},
	{mode: ReadOnly, cmd: "get configmaps secrets -o yaml"}, // a ConfigMap named "secrets"
	{mode: ReadOnly, cmd: "get deployments.v1.apps web -o json"},
	{mode: ReadOnly, cmd: "get pods -v=4 --warnings-as-errors"},
	{mode: ReadOnly, cmd: "get pods --output-watch-events"},
	{mode: ReadOnly, cmd: "get certificates.cert-manager.io -A -o yaml"},
	// other read-only verbs
	{mode: ReadOnly, cmd: "describe secret x"},
	{mode: ReadOnly, cmd: "describe pods -n default --show-events=false"},
	{mode: ReadOnly, cmd: "explain pods.spec.containers"},
	{mode: ReadOnly, cmd: "explain secrets --recursive"},
	{mode: ReadOnly, cmd: "explain deploy -R --api-version=apps/v1"},
	{mode: ReadOnly, cmd: "version"},
	{mode: ReadOnly, cmd: "version -o json"},
	{mode: ReadOnly, cmd: "cluster-info"},
	{mode: ReadOnly, cmd: "logs mypod"},
	{mode: ReadOnly, cmd: "logs mypod -c app --tail=100"},
	{mode: ReadOnly, cmd: "logs deploy/web --since=1h --timestamps"},
	{mode: ReadOnly, cmd: "logs mypod --follow=false"},
	{mode: ReadOnly, cmd: "logs -p mypod app"},
	{mode: ReadOnly, cmd: "logs -l app=web --all-containers --prefix"},
	{mode: ReadOnly, cmd: "events -n default"},
	{mode: ReadOnly, cmd: "events -A --for pod/x -o yaml --types=Warning"},
	{mode: ReadOnly, cmd: "top pod -A"},
	{mode: ReadOnly, cmd: "top pods --containers --sort-by=cpu"},
	{mode: ReadOnly, cmd: "top no"},
	{mode: ReadOnly, cmd: "api-resources --namespaced=true -o wide"},
	{mode: ReadOnly, cmd: "api-versions"},
	{mode: ReadOnly, cmd: "rollout history deploy/web"},
	{mode: ReadOnly, cmd: "rollout status deploy/web --timeout=60s"},
	{mode: ReadOnly, cmd: "rollout status deploy/web -w"},
	{mode: ReadOnly, cmd: "rollout -n prod status deploy/web"},
	{mode: ReadOnly, cmd: "auth can-i list secrets -n x"},
	{mode: ReadOnly, cmd: "auth can-i --list"},
	// extendedReadOnly adds exec
	{mode: ExtendedReadOnly, cmd: "exec mypod -- ls /"},
	{mode: ExtendedReadOnly, cmd: "exec mypod -c app -- cat /etc/hostname"},
	{mode: ExtendedReadOnly, cmd: "exec deploy/web -- env"},
	{mode: ExtendedReadOnly, cmd: "exec -i=false mypod -- ls"},
	{mode: ExtendedReadOnly, cmd: "exec mypod", args: []string{"mypod", "--", "sh", "-c", "ls -la /tmp"}},
	{mode: ExtendedReadOnly, cmd: "exec mypod -- echo --kubeconfig=/x"}, // an argument of the program
	{mode: ExtendedReadOnly, cmd: "get pods -A"},
	// fullAccess adds mutations
	{mode: FullAccess, cmd: "delete pod x"},
	{mode: FullAccess, cmd: "delete pods -l app=x --grace-period=0 --force"},
	{mode: FullAccess, cmd: "delete secret x"},
	{mode: FullAccess, cmd: "label secret x --list"},
	{mode: FullAccess, cmd: "annotate pods x --list"},
	{mode: FullAccess, cmd: "scale deploy/web --replicas=3"},
	{mode: FullAccess, cmd: "rollout restart deploy/web"},
	{mode: FullAccess, cmd: "rollout undo deploy/web --to-revision=2"},
	{mode: FullAccess, cmd: "label pods x env=prod"},
	{mode: FullAccess, cmd: "annotate deploy web note=x --overwrite"},
	{mode: FullAccess, cmd: "cordon node1"},
	{mode: FullAccess, cmd: "uncordon node1"},
	{mode: FullAccess, cmd: "drain node1 --ignore-daemonsets --delete-emptydir-data"},
	{mode: FullAccess, cmd: "patch deploy", args: []string{"deploy", "web", "-p", `{"spec":{"replicas":2}}`}},
	{mode: FullAccess, cmd: "set image deploy/web app=nginx:1.27"},
	{mode: FullAccess, cmd: "taint nodes node1 dedicated=gpu:NoSchedule"},
	{mode: FullAccess, cmd: "create configmap cfg --from-literal=a=b"},
	{mode: FullAccess, cmd: "create secret generic s --from-literal=password=x"},
	{mode: FullAccess, cmd: "create deployment", args: []string{"deployment", "web", "--image=nginx", "--", "nginx", "-g", "daemon off;"}},
	{mode: FullAccess, cmd: "create rolebinding rb --clusterrole=view --user=alice"}, // --user names a subject here
	{mode: FullAccess, cmd: "set subject rolebinding rb --user=bob"},
	{mode: FullAccess, cmd: "create ns test --dry-run=client -o yaml"},
	{mode: FullAccess, cmd: "create job j --from=cronjob/c"},
	{mode: FullAccess, cmd: "run tmp --image=busybox --restart=Never -- sleep 10"},
	{mode: FullAccess, cmd: "exec mypod -- ls"},
	{mode: FullAccess, cmd: "get pods"},
}

var refusedCases = []checkCase{
	// writes in readOnly
	{mode: ReadOnly, cmd: "delete pod x", want: `verb "delete" is not allowed in readOnly mode`},
	{mode: ReadOnly, cmd: "scale deploy/x --replicas=0", want: "it needs fullAccess mode"},
	{mode: ReadOnly, cmd: "rollout restart deploy/x", want: `command "rollout restart" is not allowed in readOnly mode`},
	{mode: ReadOnly, cmd: "rollout undo deploy/x", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "label pods x a=b", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "annotate pods x a=b", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "patch deploy x -p {}", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "create ns x", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "cordon node1", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "drain node1", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "taint nodes n k=v:NoSchedule", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "set image deploy/x a=b", want: "not allowed in readOnly mode"},
	{mode: ReadOnly, cmd: "run x --image=y", want: "not allowed in readOnly mode"},
	{mode: ExtendedReadOnly, cmd: "rollout restart deploy/x", want: "not allowed in extendedReadOnly mode"},
	{mode: ExtendedReadOnly, cmd: "delete pod x", want: "it needs fullAccess mode"},
	// exec outside extendedReadOnly, and interactive exec
	{mode: ReadOnly, cmd: "exec mypod -- ls", want: `verb "exec" is not allowed in readOnly mode (it needs extendedReadOnly mode`},
	{mode: ExtendedReadOnly, cmd: "exec -it mypod -- sh", want: stdinReason},
	{mode: ExtendedReadOnly, cmd: "exec -ti mypod -- sh", want: stdinReason},
	{mode: ExtendedReadOnly, cmd: "exec -i mypod -- sh", want: "flag -i/--stdin is not allowed"},
	{mode: ExtendedReadOnly, cmd: "exec -t mypod -- sh", want: "flag -t/--tty is not allowed"},
	{mode: ExtendedReadOnly, cmd: "exec --stdin mypod -- sh", want: stdinReason},
	{mode: ExtendedReadOnly, cmd: "exec --tty=true mypod -- sh", want: stdinReason},
	{mode: FullAccess, cmd: "exec -it mypod -- sh", want: stdinReason},
	{mode: ExtendedReadOnly, cmd: "exec mypod", want: `exec needs a command after "--"`},
	{mode: ExtendedReadOnly, cmd: "exec mypod ls", want: "exec takes exactly one pod"},
	{mode: ExtendedReadOnly, cmd: "exec -- ls", want: "exec needs exactly one pod"},
	{mode: ExtendedReadOnly, cmd: "exec mypod -f pod.yaml -- ls", want: fileReason},
	// credential and target overrides, in every spelling
	{mode: ReadOnly, cmd: "get pods --kubeconfig=/x", want: "flag --kubeconfig is not allowed: " + credReason},
	{mode: ReadOnly, cmd: "get pods --kubeconfig /x", want: "flag --kubeconfig is not allowed"},
	{mode: ReadOnly, cmd: "get pods -s=http://x", want: "flag -s/--server is not allowed: " + credReason},
	{mode: ReadOnly, cmd: "get pods -shttp://x", want: "flag -s/--server is not allowed"},
	{mode: ReadOnly, cmd: "get pods -s http://x", want: "flag -s/--server is not allowed"},
	{mode: ReadOnly, cmd: "get -Ashttp://x pods", want: "flag -s/--server is not allowed"},
	{mode: ReadOnly, cmd: "get pods --server=https://evil", want: "flag -s/--server is not allowed"},
	{mode: ReadOnly, cmd: "get pods --token=abc", want: "flag --token is not allowed"},
	{mode: ReadOnly, cmd: "get pods --as=system:admin", want: "flag --as is not allowed"},
	{mode: ReadOnly, cmd: "get pods --as-group=system:masters", want: "flag --as-group is not allowed"},
	{mode: ReadOnly, cmd: "get pods --as-uid=1", want: "flag --as-uid is not allowed"},
	{mode: ReadOnly, cmd: "get pods --as-user-extra=a=b", want: "flag --as-user-extra is not allowed"},
	{mode: ReadOnly, cmd: "get pods --context=prod", want: "flag --context is not allowed"},
	{mode: ReadOnly, cmd: "get pods --cluster=prod", want: "flag --cluster is not allowed"},
	{mode: ReadOnly, cmd: "get pods --user=admin", want: "flag --user is not allowed"},
	{mode: ReadOnly, cmd: "get pods --username=a", want: "flag --username is not allowed"},
	{mode: ReadOnly, cmd: "get pods --password=b", want: "flag --password is not allowed"},
	{mode: ReadOnly, cmd: "get pods --client-certificate=/c", want: "flag --client-certificate is not allowed"},
	{mode: ReadOnly, cmd: "get pods --client-key=/k", want: "flag --client-key is not allowed"},
	{mode: ReadOnly, cmd: "get pods --certificate-authority=/ca", want: "flag --certificate-authority is not allowed"},
	{mode: ReadOnly, cmd: "get pods --insecure-skip-tls-verify", want: "flag --insecure-skip-tls-verify is not allowed"},
	{mode: ReadOnly, cmd: "get pods --insecure_skip_tls_verify=false", want: "flag --insecure-skip-tls-verify is not allowed"},
	{mode: ReadOnly, cmd: "get pods --tls-server-name=x", want: "flag --tls-server-name is not allowed"},
	{mode: ReadOnly, cmd: "get pods --cache-dir=/tmp", want: "flag --cache-dir is not allowed"},
	{mode: ReadOnly, cmd: "get pods --proxy-url=http://x", want: "flag --proxy-url is not allowed"},
	{mode: ReadOnly, cmd: "get pods --kuberc=/x", want: "flag --kuberc is not allowed"},
	{mode: FullAccess, cmd: "delete pod x --kubeconfig=/x", want: "flag --kubeconfig is not allowed"},
	{mode: FullAccess, cmd: "create rolebinding rb --clusterrole=view --as=admin", want: "flag --as is not allowed"},
	{mode: ExtendedReadOnly, cmd: "exec mypod --as=admin -- ls", want: "flag --as is not allowed"},
	{mode: ReadOnly, cmd: "logs mypod --insecure-skip-tls-verify-backend", want: "disables TLS verification"},
	// raw API paths
	{mode: ReadOnly, cmd: "get --raw /api/v1/namespaces/default/secrets", want: "flag --raw is not allowed"},
	{mode: ReadOnly, cmd: "get --raw=/api/v1/secrets", want: "flag --raw is not allowed"},
	// file and stdin inputs
	{mode: ReadOnly, cmd: "get -f pod.yaml", want: "flag -f/--filename is not allowed: " + fileReason},
	{mode: ReadOnly, cmd: "get -k dir", want: "flag -k/--kustomize is not allowed"},
	{mode: ReadOnly, cmd: "describe -f x", want: "flag -f/--filename is not allowed"},
	{mode: ReadOnly, cmd: "get pods -R", want: "flag -R/--recursive is not allowed"},
	{mode: FullAccess, cmd: "delete -f x", want: "flag -f/--filename is not allowed"},
	{mode: FullAccess, cmd: "create configmap c --from-file=/var/run/secrets/kubernetes.io/serviceaccount/token", want: "flag --from-file is not allowed"},
	{mode: FullAccess, cmd: "create secret generic s --from-env-file=/x", want: "flag --from-env-file is not allowed"},
	{mode: FullAccess, cmd: "patch deploy x --patch-file=/x", want: "flag --patch-file is not allowed"},
	{mode: FullAccess, cmd: "create secret tls t --cert=/c --key=/k", want: fileReason},
	{mode: FullAccess, cmd: "set env deploy/x -", want: `from stdin ("-") is not supported`},
	{mode: FullAccess, cmd: "delete pods x -i", want: stdinReason},
	// unbounded streams, including short-flag combinations hiding -w
	{mode: ReadOnly, cmd: "get pods -w", want: "flag -w/--watch is not allowed: it starts an " + streamReason},
	{mode: ReadOnly, cmd: "get pods --watch", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "get pods -Aw", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "get pods -wA", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "get pods -Aw=true", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "get pods --watch-only", want: "flag --watch-only is not allowed"},
	{mode: ReadOnly, cmd: "get pods --watch=true", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "logs -f mypod", want: "flag -f/--follow is not allowed"},
	{mode: ReadOnly, cmd: "logs mypod --follow", want: "flag -f/--follow is not allowed"},
	{mode: ReadOnly, cmd: "logs mypod --follow=true", want: "use --tail or --since"},
	{mode: ReadOnly, cmd: "logs -pf mypod", want: "flag -f/--follow is not allowed"},
	{mode: ReadOnly, cmd: "events --watch", want: "flag -w/--watch is not allowed"},
	{mode: ReadOnly, cmd: "events -Aw", want: "flag -w/--watch is not allowed"},
	// secret values in every spelling
	{mode: ReadOnly, cmd: "get secret/x -o=yaml", want: secretReason + `: output format "yaml" on secrets`},
	{mode: ReadOnly, cmd: "get secret x -oyaml", want: `output format "yaml" on secrets`},
	{mode: ReadOnly, cmd: "get secrets --output=jsonpath={.data}", want: `output format "jsonpath" on secrets`},
	{mode: ReadOnly, cmd: "get secrets -o go-template={{.data}}", want: `output format "go-template" on secrets`},
	{mode: ReadOnly, cmd: "get secrets --output custom-columns=DATA:.data", want: `output format "custom-columns" on secrets`},
	{mode: ReadOnly, cmd: "get secrets.v1. -o json", want: secretReason},
	{mode: ReadOnly, cmd: "get secrets.v1 -o json", want: secretReason},
	{mode: ReadOnly, cmd: "get pods,secrets -o yaml", want: secretReason},
	{mode: ReadOnly, cmd: "get all,secrets -o json", want: secretReason},
	{mode: ReadOnly, cmd: "get SECRETS -o yaml", want: secretReason},
	{mode: ReadOnly, cmd: "get Secret.v1. x -o json", want: secretReason},
	{mode: ReadOnly, cmd: "get secrets/x -o jsonpath-as-json={.data}", want: secretReason},
	{mode: ReadOnly, cmd: "get secret/a secret/b -o yaml", want: secretReason},
	{mode: ReadOnly, cmd: "get pod/a secret/b -o yaml", want: secretReason},
	{mode: ReadOnly, cmd: "get secret/a,secret/b -o yaml", want: "may not have more than one slash"},
	{mode: ReadOnly, cmd: "get secrets --template={{.data}}", want: secretReason + ": --template on secrets"},
	{mode: ReadOnly, cmd: "get secrets --sort-by=.data.password", want: "--sort-by"},
	{mode: ReadOnly, cmd: "get secrets -o kyaml", want: `output format "kyaml" on secrets`},
	{mode: ReadOnly, cmd: "get secrets -o Yaml", want: secretReason},
	{mode: ReadOnly, cmd: "get -o yaml -- secrets", want: secretReason},
	{mode: ReadOnly, cmd: "get secrets.example.com -o yaml", want: secretReason},
	{mode: FullAccess, cmd: "label secret x a=b -o yaml", want: secretReason},
	{mode: FullAccess, cmd: "create secret generic s --from-literal=a=b -o yaml", want: secretReason},
	{mode: FullAccess, cmd: "set env deploy/x --list --resolve", want: "it prints the secret values"},
	{mode: FullAccess, cmd: "annotate secret x --list", want: secretReason + ": annotate --list on secrets"},
	// templates read from files on the executor
	{mode: ReadOnly, cmd: "get pods -o jsonpath-file=/var/run/secrets/kubernetes.io/serviceaccount/token", want: `output format "jsonpath-file" is not allowed`},
	{mode: ReadOnly, cmd: "get pods -o go-template-file --template=/token", want: "reads a template file on the executor"},
	{mode: ReadOnly, cmd: "get pods -o custom-columns-file=/x", want: "reads a template file"},
	{mode: ReadOnly, cmd: "get pods -o templatefile=/x", want: "reads a template file"},
	// commands refused in every mode
	{mode: FullAccess, cmd: "proxy", want: `verb "proxy" is never allowed`},
	{mode: FullAccess, cmd: "port-forward pod/x 8080", want: `verb "port-forward" is never allowed`},
	{mode: FullAccess, cmd: "attach mypod", want: "never allowed"},
	{mode: FullAccess, cmd: "cp mypod:/etc/passwd /tmp/x", want: "never allowed"},
	{mode: FullAccess, cmd: "debug mypod", want: "never allowed"},
	{mode: FullAccess, cmd: "edit deploy x", want: "never allowed"},
	{mode: FullAccess, cmd: "config view", want: `verb "config" is never allowed`},
	{mode: FullAccess, cmd: "plugin list", want: "never allowed"},
	{mode: FullAccess, cmd: "apply -f x", want: "never allowed"},
	{mode: FullAccess, cmd: "wait --for=condition=ready pod/x", want: "never allowed"},
	{mode: ReadOnly, cmd: "cluster-info dump", want: `command "cluster-info dump" is never allowed`},
	{mode: ReadOnly, cmd: "cluster-info -n x dump", want: `command "cluster-info dump" is never allowed`},
	{mode: ReadOnly, cmd: "auth reconcile -f x", want: `command "auth reconcile" is never allowed`},
	{mode: ReadOnly, cmd: "auth whoami", want: "never allowed"},
	{mode: FullAccess, cmd: "create token default", want: "mints ServiceAccount tokens"},
	// unknown verbs, subcommands and flags
	{mode: ReadOnly, cmd: "get pods --foo", want: `unknown flag --foo for "get"`},
	{mode: ReadOnly, cmd: "get pods -x", want: `unknown flag -x for "get"`},
	{mode: ReadOnly, cmd: "get pods -Ax", want: `unknown flag -x in -Ax for "get"`},
	{mode: ReadOnly, cmd: "get pods --Kubeconfig=/x", want: "unknown flag --Kubeconfig"},
	{mode: ReadOnly, cmd: "api-resources --foo", want: `unknown flag --foo for "api-resources"`},
	{mode: ReadOnly, cmd: "logs mypod -A", want: `unknown flag -A for "logs"`},
	{mode: ReadOnly, cmd: "frobnicate", want: `unknown verb "frobnicate"`},
	{mode: ReadOnly, cmd: "rollout", want: `"rollout" needs a subcommand`},
	{mode: ReadOnly, cmd: "rollout frob deploy/x", want: `unknown subcommand "frob" for "rollout"`},
	{mode: ReadOnly, cmd: "top", want: `"top" needs a subcommand`},
	{mode: ReadOnly, cmd: "get pods -v=9", want: "verbosity above 5"},
	{mode: ReadOnly, cmd: "get pods --vmodule=*=9", want: "flag --vmodule is not allowed"},
	{mode: ReadOnly, cmd: "get pods --profile=cpu", want: "flag --profile is not allowed"},
	{mode: ReadOnly, cmd: "get pods -h", want: "flag -h/--help is not allowed"},
	{mode: ReadOnly, cmd: "get pods ---kubeconfig=x", want: "bad flag syntax"},
	{mode: ReadOnly, cmd: "get pods -n", want: "flag -n/--namespace needs a value"},
	{mode: ReadOnly, cmd: "get pods --watch=maybe", want: `invalid value "maybe" for flag -w/--watch`},
	{mode: ReadOnly, cmd: "get pods --chunk-size=lots", want: "must be an integer"},
	{mode: ReadOnly, cmd: "version extra", want: `"version" takes no arguments`},
	{mode: ReadOnly, cmd: "get pods$x", want: "invalid resource type"},
	// interactive and attached run / delete
	{mode: FullAccess, cmd: "run x --image=y -it", want: stdinReason},
	{mode: FullAccess, cmd: "run x --image=y --attach", want: "flag --attach is not allowed"},
	{mode: FullAccess, cmd: "run x --image=y --rm", want: "attached session"},
}

func TestCheck(t *testing.T) {
	if len(allowedCases)+len(refusedCases) < 100 || len(refusedCases) < 80 {
		t.Fatalf("the table must keep at least 100 cases and 80 refusals (have %d allowed, %d refused)", len(allowedCases), len(refusedCases))
	}
	run := func(t *testing.T, tc checkCase) {
		ct, args := tc.split()
		c, err := Policy{Mode: tc.mode}.Check(ct, args)
		if tc.want == "" {
			if err != nil {
				t.Fatalf("%s: Check(%q, %q) refused: %v", tc.mode, ct, args, err)
			}
			if c == nil || c.Verb == "" {
				t.Fatalf("%s: Check(%q, %q) allowed without a command", tc.mode, ct, args)
			}
			return
		}
		if err == nil {
			t.Fatalf("%s: Check(%q, %q) allowed %q, want refusal containing %q", tc.mode, ct, args, c.Argv(), tc.want)
		}
		var d *Denial
		if !errors.As(err, &d) {
			t.Fatalf("%s: Check(%q, %q) error %T is not a *Denial: %v", tc.mode, ct, args, err, err)
		}
		if !strings.Contains(d.Reason, tc.want) {
			t.Fatalf("%s: Check(%q, %q) reason %q does not contain %q", tc.mode, ct, args, d.Reason, tc.want)
		}
		if d.Mode != tc.mode {
			t.Errorf("Denial.Mode = %q, want %q", d.Mode, tc.mode)
		}
		if !strings.HasPrefix(err.Error(), "command denied: ") {
			t.Errorf("Error() = %q, want the prefix %q", err.Error(), "command denied: ")
		}
	}
	for _, tc := range allowedCases {
		t.Run("allow/"+string(tc.mode)+"/"+tc.cmd, func(t *testing.T) { run(t, tc) })
	}
	for _, tc := range refusedCases {
		t.Run("deny/"+string(tc.mode)+"/"+tc.cmd, func(t *testing.T) { run(t, tc) })
	}
}

// TestCheckModesAreNested checks that every command a mode allows is also
// allowed by the wider modes, and that refusals that hold in every mode do.
func TestCheckModesAreNested(t *testing.T) {
	wider := map[Mode][]Mode{ReadOnly: {ExtendedReadOnly, FullAccess}, ExtendedReadOnly: {FullAccess}}
	for _, tc := range allowedCases {
		ct, args := tc.split()
		for _, m := range wider[tc.mode] {
			if _, err := (Policy{Mode: m}).Check(ct, args); err != nil {
				t.Errorf("%q allowed in %s but refused in %s: %v", tc.cmd, tc.mode, m, err)
			}
		}
	}
	for _, tc := range refusedCases {
		if tc.mode != FullAccess || strings.Contains(tc.want, "mode") {
			continue
		}
		ct, args := tc.split()
		for _, m := range []Mode{ReadOnly, ExtendedReadOnly} {
			if c, err := (Policy{Mode: m}).Check(ct, args); err == nil {
				t.Errorf("%q refused in fullAccess but allowed in %s as %q", tc.cmd, m, c.Argv())
			}
		}
	}
}

func TestCheckCommandTypeForms(t *testing.T) {
	p := Policy{}
	cases := []struct {
		ct   string
		args []string
		path string
		want string
	}{
		{ct: "", args: []string{"get", "pods"}, path: "get"},
		{ct: "", args: []string{"kubectl", "get", "pods"}, path: "get"},
		{ct: "kubectl", args: []string{"get", "pods"}, path: "get"},
		{ct: "GET", args: []string{"pods"}, path: "get"},
		{ct: "rollout history", args: []string{"deploy/web"}, path: "rollout history"},
		{ct: "rollout", args: []string{"history", "deploy/web"}, path: "rollout history"},
		{ct: "top", args: []string{"pods"}, path: "top pod"},
		{ct: "top", args: []string{"PODS"}, want: `unknown subcommand "PODS" for "top"`},
		{ct: "", args: []string{"--kubeconfig=/x", "get", "pods"}, want: "the kubectl verb must come first"},
		{ct: "", args: nil, want: "no kubectl command given"},
		{ct: "", args: []string{"kubectl"}, want: "no kubectl command given"},
	}
	for _, tc := range cases {
		c, err := p.Check(tc.ct, tc.args)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check(%q, %q) = %v, want error containing %q", tc.ct, tc.args, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("Check(%q, %q): %v", tc.ct, tc.args, err)
			continue
		}
		if c.Path() != tc.path {
			t.Errorf("Check(%q, %q) path = %q, want %q", tc.ct, tc.args, c.Path(), tc.path)
		}
	}
}

func TestInvalidPolicyRefusesEverything(t *testing.T) {
	for _, p := range []Policy{
		{Mode: "godMode"},
		{Deny: []Rule{{Verbs: []string{"destroy"}}}},
		{Allow: []Rule{{Resources: []string{"pods!"}}}},
		{Allow: []Rule{{Namespaces: []string{""}}}},
	} {
		_, err := p.Check("get", []string{"pods"})
		if !IsDenial(err) || !strings.Contains(err.Error(), "invalid security policy") {
			t.Errorf("%+v: Check = %v, want an invalid-policy denial", p, err)
		}
		if got := p.AllowedVerbs(); got != nil {
			t.Errorf("%+v: AllowedVerbs = %q, want none", p, got)
		}
	}
}

func TestExtensionCommands(t *testing.T) {
	p := Policy{Mode: ReadOnly}
	for _, argv := range [][]string{
		{"triage", "-A"}, {"triage", "-n", "shop", "-l", "app=web"}, {"logsearch", "-n", "shop", "-l", "app=web", "--pattern", "fatal|panic", "--tail", "200"},
	} {
		if _, err := p.Check("kubently", argv); err != nil {
			t.Errorf("kubently %v refused: %v", argv, err)
		}
	}
	for _, argv := range [][]string{
		{"triage", "--kubeconfig", "/x"}, {"triage", "pods"}, {"logsearch", "--token=x"}, {"shell"}, {},
	} {
		if _, err := p.Check("kubently", argv); err == nil {
			t.Errorf("kubently %v allowed", argv)
		}
	}
	deny := Policy{Mode: ReadOnly, Deny: []Rule{{Namespaces: []string{"kube-system"}}}}
	if _, err := deny.Check("kubently", []string{"triage", "-A"}); err == nil {
		t.Error("triage -A allowed despite a namespace deny rule")
	}
	for _, c := range KnownCommands() {
		if strings.HasPrefix(c, "kubently") {
			t.Errorf("extension %q listed as a kubectl command", c)
		}
	}
}
