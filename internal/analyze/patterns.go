package analyze

import (
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Recognisers for what containers print and what init containers run. They are pure
// functions over text, so they are unit-tested directly.

// envVarPatterns find the name of a missing environment variable in a log line. The
// first capture group is the variable.
var envVarPatterns = []*regexp.Regexp{
	// "fatal: DEPLOY_ENV is not set", "DATABASE_URL must be set", "PORT is required"
	regexp.MustCompile(`\b([A-Z][A-Z0-9_]{1,63})\b["'\x60]?\s+(?:is\s+|was\s+)?(?:not\s+set|unset|not\s+defined|undefined|missing|required|empty|must\s+be\s+(?:set|defined|provided))`),
	// "environment variable DEPLOY_ENV is not set", "env var \"X\" missing"
	regexp.MustCompile(`(?i)env(?:ironment)?[\s_-]*var(?:iable)?s?\s*[:=]?\s*["'\x60]?([A-Za-z_][A-Za-z0-9_]{1,63})["'\x60]?\s+(?:is\s+|was\s+)?(?:not\s+set|unset|not\s+defined|undefined|missing|required|empty|not\s+found)`),
	// "missing required environment variable: DEPLOY_ENV", "required env var DEPLOY_ENV not set"
	regexp.MustCompile(`(?i)(?:missing|required|undefined|unset|no)\s+(?:required\s+|mandatory\s+)?env(?:ironment)?[\s_-]*var(?:iable)?s?\s*[:=]?\s*["'\x60]?([A-Za-z_][A-Za-z0-9_]{1,63})`),
	// Python: KeyError: 'DEPLOY_ENV' (os.environ["DEPLOY_ENV"])
	regexp.MustCompile(`KeyError:\s*['"]([A-Z][A-Z0-9_]{1,63})['"]`),
	// Go / shell: "$DEPLOY_ENV: parameter not set", "DEPLOY_ENV: unbound variable"
	regexp.MustCompile(`\$?\{?([A-Z][A-Z0-9_]{1,63})\}?:\s+(?:parameter\s+(?:null\s+or\s+)?not\s+set|unbound\s+variable)`),
}

// notEnvVar lists upper-case words the patterns might catch that are not variables.
var notEnvVar = map[string]bool{"ERROR": true, "FATAL": true, "WARN": true, "WARNING": true, "INFO": true, "DEBUG": true, "PANIC": true, "CRITICAL": true, "ENV": true}

// missingEnvVar returns the environment variable a log says is missing, and the line that
// says so. It looks at the last lines first.
func missingEnvVar(lines []string) (name, line string) {
	for i := len(lines) - 1; i >= 0; i-- {
		for _, re := range envVarPatterns {
			for _, m := range re.FindAllStringSubmatch(lines[i], -1) {
				if !notEnvVar[strings.ToUpper(m[1])] {
					return m[1], lines[i]
				}
			}
		}
	}
	return "", ""
}

// dependency is a host (and port) a container waits for or fails to reach.
type dependency struct {
	host string
	port int
	how  string // the command or log text that names it
}

// Commands that wait for a host, as init containers commonly run them.
var waitCommandPatterns = []*regexp.Regexp{
	// nc -z postgres 5432, nc -zv -w 2 db 3306
	regexp.MustCompile(`\bnc\s+(?:-[a-zA-Z]+(?:\s+\d+)?\s+)*([A-Za-z0-9][A-Za-z0-9.-]*)\s+(\d{1,5})\b`),
	// pg_isready -h postgres -p 5432
	regexp.MustCompile(`\bpg_isready\b[^;&|]*?-h\s*([A-Za-z0-9][A-Za-z0-9.-]*)(?:[^;&|]*?-p\s*(\d{1,5}))?`),
	// mysqladmin ping -h mysql -P 3306
	regexp.MustCompile(`\bmysqladmin\b[^;&|]*?-h\s*([A-Za-z0-9][A-Za-z0-9.-]*)(?:[^;&|]*?-P\s*(\d{1,5}))?`),
	// redis-cli -h redis -p 6379 ping
	regexp.MustCompile(`\bredis-cli\b[^;&|]*?-h\s*([A-Za-z0-9][A-Za-z0-9.-]*)(?:[^;&|]*?-p\s*(\d{1,5}))?`),
	// nslookup db, getent hosts db, host db, dig db
	regexp.MustCompile(`\b(?:nslookup|getent\s+hosts|getent\s+ahosts|dig\s+\+short|dig)\s+([A-Za-z0-9][A-Za-z0-9.-]*)()`),
	// curl http://api:8080/healthz, wget -q -O- http://api/ready
	regexp.MustCompile(`\b(?:curl|wget)\b[^;&|]*?https?://([A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?`),
	// bash /dev/tcp/postgres/5432
	regexp.MustCompile(`/dev/tcp/([A-Za-z0-9][A-Za-z0-9.-]*)/(\d{1,5})`),
	// wait-for-it postgres:5432, dockerize -wait tcp://postgres:5432
	regexp.MustCompile(`\b(?:wait-for-it(?:\.sh)?|wait-for|dockerize\s+-wait)\s+(?:tcp://)?([A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})`),
}

// Log lines that name an unreachable host.
var dependencyLogPatterns = []*regexp.Regexp{
	regexp.MustCompile(`lookup ([A-Za-z0-9][A-Za-z0-9.-]*)(?: on [0-9a-fA-F.:\[\]]+)?: no such host`),
	regexp.MustCompile(`bad address '([A-Za-z0-9][A-Za-z0-9.-]*)'`),
	regexp.MustCompile(`could not translate host name "([A-Za-z0-9][A-Za-z0-9.-]*)"`),
	regexp.MustCompile(`getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([A-Za-z0-9][A-Za-z0-9.-]*)`),
	regexp.MustCompile(`(?:Unknown host|UnknownHostException:?)\s*:?\s*([A-Za-z0-9][A-Za-z0-9.-]*)`),
	regexp.MustCompile(`dial tcp ([A-Za-z][A-Za-z0-9.-]*):(\d{1,5}): connect: connection refused`),
	regexp.MustCompile(`(?i)(?:connection refused|could not connect|failed to connect|unable to connect|cannot connect)[^0-9A-Za-z]+(?:to\s+)?(?:server\s+)?(?:at\s+)?["']?([A-Za-z][A-Za-z0-9.-]*):(\d{1,5})`),
	regexp.MustCompile(`(?i)waiting for ([A-Za-z][A-Za-z0-9.-]*):(\d{1,5})`),
}

// waitDependencies returns the hosts a command waits for.
func waitDependencies(cmd string) []dependency {
	return findDependencies(cmd, waitCommandPatterns, true)
}

// logDependencies returns the hosts that log lines say are unreachable.
func logDependencies(lines []string) []dependency {
	return findDependencies(strings.Join(lines, "\n"), dependencyLogPatterns, false)
}

func findDependencies(text string, patterns []*regexp.Regexp, command bool) []dependency {
	var out []dependency
	seen := map[string]bool{}
	for _, re := range patterns {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			host := strings.TrimSuffix(strings.ToLower(m[1]), ".")
			if host == "" || host == "localhost" || net.ParseIP(host) != nil || !strings.ContainsAny(host, "abcdefghijklmnopqrstuvwxyz") {
				continue
			}
			port := 0
			if len(m) > 2 && m[2] != "" {
				port, _ = strconv.Atoi(m[2])
			}
			key := host + ":" + strconv.Itoa(port)
			if seen[key] {
				continue
			}
			// A later pattern may name the same host without a port.
			if port == 0 && hasHost(out, host) {
				continue
			}
			seen[key] = true
			how := strings.TrimSpace(m[0])
			if !command {
				how = strings.TrimSpace(firstLineContaining(text, m[0]))
			}
			out = append(out, dependency{host: host, port: port, how: how})
		}
	}
	return out
}

func hasHost(deps []dependency, host string) bool {
	for _, d := range deps {
		if d.host == host {
			return true
		}
	}
	return false
}

func firstLineContaining(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return sub
}

// serviceOfHost maps an in-cluster host name to a Service: "postgres" is Service postgres
// in the pod's namespace; "postgres.db", "postgres.db.svc" and
// "postgres.db.svc.cluster.local" are Service postgres in namespace db. Other names are
// outside the cluster (ok is false).
func serviceOfHost(host, podNamespace string) (ns, name string, ok bool) {
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		return podNamespace, parts[0], true
	case len(parts) == 2:
		return parts[1], parts[0], true
	case len(parts) >= 3 && parts[2] == "svc":
		return parts[1], parts[0], true
	}
	return "", "", false
}

// Messages of failed image pulls.
const (
	pullNotFound   = "not-found"
	pullRepoOrAuth = "repo-or-auth"
	pullAuth       = "auth"
	pullNetwork    = "network"
	pullRateLimit  = "rate-limit"
	pullInvalid    = "invalid"
	pullUnknown    = "unknown"
)

// classifyPullError tells from the kubelet's messages why an image pull fails.
func classifyPullError(text string) string {
	t := strings.ToLower(text)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(t, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("invalid reference format", "invalidimagename", "couldn't parse image", "failed to parse image"):
		return pullInvalid
	case has("toomanyrequests", "rate limit", "too many requests"):
		return pullRateLimit
	case has("repository does not exist or may require", "pull access denied"):
		return pullRepoOrAuth
	case has("unauthorized", "authentication required", "401", "403 forbidden", "no basic auth credentials", "denied:", "access denied", "authorization failed", "insufficient_scope"):
		return pullAuth
	case has("manifest unknown", "manifest for", "not found", "no such manifest", "code = notfound", "name unknown", "does not exist"):
		return pullNotFound
	case has("no such host", "i/o timeout", "connection refused", "dial tcp", "tls:", "x509", "network is unreachable", "context deadline exceeded", "server misbehaving", "connection reset"):
		return pullNetwork
	}
	return pullUnknown
}

// splitImage splits an image reference into repository and tag (or digest). A reference
// without tag or digest has tag "latest".
func splitImage(image string) (repo, tag, digest string) {
	if i := strings.Index(image, "@"); i >= 0 {
		return image[:i], "", image[i+1:]
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:], ""
	}
	return image, "latest", ""
}

// exitCodeMeaning explains common container exit codes.
func exitCodeMeaning(code int32) string {
	switch code {
	case 0:
		return "exited successfully"
	case 1:
		return "the application exited with an error"
	case 2:
		return "misuse of a shell builtin or invalid arguments"
	case 126:
		return "the command is not executable (permission or format)"
	case 127:
		return "the command was not found in the image"
	case 128 + 9:
		return "killed by SIGKILL (out of memory, a failed liveness probe, or an external kill)"
	case 128 + 11:
		return "segmentation fault"
	case 128 + 15:
		return "terminated by SIGTERM"
	case 128 + 6:
		return "aborted (SIGABRT)"
	}
	if code > 128 && code < 160 {
		return "killed by signal " + strconv.Itoa(int(code-128))
	}
	return "the application exited with an error"
}

// jvmHeap returns the -Xmx setting (e.g. "512m") found in text, and its size in bytes.
func jvmHeap(text string) (setting string, bytes int64) {
	m := xmxPattern.FindStringSubmatch(text)
	if m == nil {
		return "", 0
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return "", 0
	}
	switch strings.ToLower(m[2]) {
	case "k":
		n <<= 10
	case "m":
		n <<= 20
	case "g":
		n <<= 30
	case "t":
		n <<= 40
	}
	return "-Xmx" + m[1] + m[2], n
}

var xmxPattern = regexp.MustCompile(`-Xmx(\d+)([kKmMgGtT]?)\b`)
