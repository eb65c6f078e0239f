package a2a

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kubently/kubently/internal/problem"
)

// Headers honoured by both transports (see the API reference's "A2A Headers").
const (
	HeaderServiceIdentity = "X-Service-Identity"
	HeaderRequestTimeout  = "X-Request-Timeout"
	HeaderA2AVersion      = "A2A-Version"
)

// MaxRequestTimeout is the largest X-Request-Timeout accepted, in seconds.
const MaxRequestTimeout = 600

// Identifiers supplied by callers end up in logs and the audit trail, so they
// are restricted to a harmless alphabet and length.
var (
	safeID    = regexp.MustCompile(`^[A-Za-z0-9._:/+=@-]{1,128}$`)
	clusterRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// parseTimeout reads X-Request-Timeout: absent means def; otherwise it must be
// a whole number of seconds in 1..MaxRequestTimeout.
func parseTimeout(raw string, def time.Duration) (time.Duration, *problem.Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxRequestTimeout {
		return 0, problem.Invalid(HeaderRequestTimeout, "invalid_value",
			"%s must be a whole number of seconds between 1 and %d, got %q", HeaderRequestTimeout, MaxRequestTimeout, raw)
	}
	return time.Duration(n) * time.Second, nil
}

// parseServiceIdentity validates X-Service-Identity ("" when absent).
func parseServiceIdentity(raw string) (string, *problem.Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || safeID.MatchString(raw) {
		return raw, nil
	}
	return "", problem.Invalid(HeaderServiceIdentity, "invalid_value",
		"%s must be 1-128 characters of letters, digits and ._:/+=@-", HeaderServiceIdentity)
}

// describeTimeout is the error text of an investigation cut by its deadline.
func describeTimeout(d time.Duration) string {
	return fmt.Sprintf("the investigation did not finish within its time limit of %s", d)
}
