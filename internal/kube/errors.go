package kube

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/clientcmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	utilexec "k8s.io/utils/exec"
)

// exitCodeDefault is kubectl's exit code for every error it reports itself.
const exitCodeDefault = cmdutil.DefaultErrorExitCode

// formatError renders err the way kubectl's cmdutil.CheckErr prints it on
// stderr and returns the exit code kubectl would exit with. It follows the
// same decision order as CheckErr (aggregates of one, invalid-object status
// errors, configuration errors, unknown resource types, aggregates, remote
// exit codes, API status errors, and finally "error: <text>"), but returns the
// text instead of printing it and exiting.
func formatError(err error) (string, int) {
	if agg, ok := err.(utilerrors.Aggregate); ok && len(agg.Errors()) == 1 {
		err = agg.Errors()[0]
	}
	if err == nil {
		return "", 0
	}
	if err == cmdutil.ErrExit {
		return "", exitCodeDefault
	}
	if msg, ok := invalidStatusMessage(err); ok {
		return msg, exitCodeDefault
	}
	if clientcmd.IsConfigurationInvalid(err) {
		return cmdutil.MultilineError("Error in configuration: ", err), exitCodeDefault
	}
	switch e := err.(type) {
	case *meta.NoResourceMatchError:
		r := e.PartialResource
		switch {
		case r.Group != "" && r.Version != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in group %q and version %q", r.Resource, r.Group, r.Version), exitCodeDefault
		case r.Group != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in group %q", r.Resource, r.Group), exitCodeDefault
		case r.Version != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in version %q", r.Resource, r.Version), exitCodeDefault
		default:
			return fmt.Sprintf("the server doesn't have a resource type %q", r.Resource), exitCodeDefault
		}
	case utilerrors.Aggregate:
		return cmdutil.MultipleErrors("", e.Errors()), exitCodeDefault
	case utilexec.ExitError:
		return e.Error(), e.ExitStatus()
	}
	msg, ok := cmdutil.StandardErrorMessage(err)
	if !ok {
		msg = err.Error()
		if !strings.HasPrefix(msg, "error: ") {
			msg = "error: " + msg
		}
	}
	return msg, exitCodeDefault
}

// invalidStatusMessage renders an API status error of reason Invalid the way
// kubectl does ("The Pod "x" is invalid: field: message").
func invalidStatusMessage(err error) (string, bool) {
	if !apierrors.IsInvalid(err) {
		return "", false
	}
	statusErr, ok := err.(*apierrors.StatusError)
	if !ok {
		return "", false
	}
	status := statusErr.Status()
	if status.Reason != metav1.StatusReasonInvalid {
		return "", false
	}
	s := "The request is invalid"
	details := status.Details
	if details == nil {
		if status.Message != "" {
			s += ": " + status.Message
		}
		return s, true
	}
	if details.Kind != "" || details.Name != "" {
		s = fmt.Sprintf("The %s %q is invalid", details.Kind, details.Name)
	} else if status.Message != "" && len(details.Causes) == 0 {
		s += ": " + status.Message
	}
	if len(details.Causes) == 0 {
		return s, true
	}
	seen := map[string]bool{}
	var errs []error
	for _, c := range details.Causes {
		m := fmt.Sprintf("%s: %s", c.Field, c.Message)
		if seen[m] {
			continue
		}
		seen[m] = true
		errs = append(errs, fmt.Errorf("%s", m))
	}
	return cmdutil.MultilineError(s+": ", utilerrors.NewAggregate(errs)), true
}

// withNewline returns msg terminated by exactly the newline kubectl adds when
// it prints an error (none is added when msg already ends with one).
func withNewline(msg string) string {
	if msg == "" || strings.HasSuffix(msg, "\n") {
		return msg
	}
	return msg + "\n"
}
