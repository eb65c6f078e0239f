package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/reference"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/kubectl/pkg/cmd/logs"
	"k8s.io/kubectl/pkg/cmd/rollout"
	"k8s.io/kubectl/pkg/cmd/util/podcmd"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/kubectl/pkg/scheme"
	"k8s.io/kubectl/pkg/util/podutils"
)

// kubectl's LogsOptions.RunLogsContext and RolloutStatusOptions.Run wrap their
// work in k8s.io/kubectl/pkg/util/interrupt, which registers a SIGINT/SIGTERM
// handler that calls os.Exit(1), and rollout status also watches under
// context.Background(). In a server that would turn the executor's graceful
// shutdown into an immediate exit and let a cancelled watch retry forever, so
// the two bodies are reproduced here with the run's context and no signal
// handling. Everything else (request building, printing) is kubectl's.

// containerFromFieldPath extracts the container name from an object
// reference's fieldPath such as "spec.containers{app}".
var containerFromFieldPath = regexp.MustCompile(`spec\.(?:initContainers|containers|ephemeralContainers){(.+)}`)

// runLogs is kubectl's RunLogsContext without the signal handler. When several
// containers are printed one after another, they come in a stable order
// (kubectl itself ranges over a map).
func runLogs(ctx context.Context, o *logs.LogsOptions) error {
	// kubectl's polymorphichelpers.LogsForObjectFn prints its notes
	// ("Defaulted container ...", "Found 2 pods, using ...") to os.Stderr;
	// ours prints them to the run's stderr, where kubectl's user sees them.
	o.LogsForObject = func(g genericclioptions.RESTClientGetter, object, options runtime.Object, timeout time.Duration, allContainers bool) (map[corev1.ObjectReference]rest.ResponseWrapper, error) {
		return logRequests(g, object, options, timeout, allContainers, false, o.ErrOut)
	}
	o.AllPodLogsForObject = func(g genericclioptions.RESTClientGetter, object, options runtime.Object, timeout time.Duration, allContainers bool) (map[corev1.ObjectReference]rest.ResponseWrapper, error) {
		return logRequests(g, object, options, timeout, allContainers, true, o.ErrOut)
	}
	var requests map[corev1.ObjectReference]rest.ResponseWrapper
	var err error
	if o.AllPods {
		requests, err = o.AllPodLogsForObject(o.RESTClientGetter, o.Object, o.Options, o.GetPodTimeout, o.AllContainers)
	} else {
		requests, err = o.LogsForObject(o.RESTClientGetter, o.Object, o.Options, o.GetPodTimeout, o.AllContainers)
	}
	if err != nil {
		return err
	}
	if o.Follow && len(requests) > 1 {
		if len(requests) > o.MaxFollowConcurrency {
			return fmt.Errorf(
				"you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit",
				len(requests), o.MaxFollowConcurrency,
			)
		}
		return parallelLogs(ctx, o, requests)
	}
	refs := make([]corev1.ObjectReference, 0, len(requests))
	for ref := range requests {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.FieldPath < b.FieldPath
	})
	for _, ref := range refs {
		if err := consumeLogs(ctx, o, requests[ref], logPrefixWriter(o, ref, o.Out), o.Out); err != nil {
			return err
		}
	}
	return nil
}

// parallelLogs follows several log streams at once, line by line, like
// kubectl's parallelConsumeRequest.
func parallelLogs(ctx context.Context, o *logs.LogsOptions, requests map[corev1.ObjectReference]rest.ResponseWrapper) error {
	reader, writer := io.Pipe()
	var wg sync.WaitGroup
	for ref, req := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := consumeLogs(ctx, o, req, logPrefixWriter(o, ref, writer), writer); err != nil {
				writer.CloseWithError(err)
			}
		}()
	}
	go func() {
		wg.Wait()
		writer.Close()
	}()
	_, err := io.Copy(o.Out, reader)
	return err
}

// consumeLogs is kubectl's consumeWithRetry: one read without --follow, a
// polling retry loop (bounded by --pod-running-timeout and ctx) with it.
func consumeLogs(ctx context.Context, o *logs.LogsOptions, req rest.ResponseWrapper, out, internalErrOut io.Writer) error {
	if !o.Follow {
		err := o.ConsumeRequestFn(ctx, req, out)
		if err != nil && o.IgnoreLogErrors {
			_, _ = fmt.Fprint(internalErrOut, "error: "+err.Error()+"\n")
			return nil
		}
		return err
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, o.GetPodTimeout, true, func(context.Context) (bool, error) {
		err := o.ConsumeRequestFn(ctx, req, out)
		if err == nil {
			return true, nil
		}
		if o.IgnoreLogErrors {
			_, _ = fmt.Fprint(internalErrOut, "error: "+err.Error()+"\n")
			return true, nil
		}
		_, _ = o.ErrOut.Write([]byte(err.Error() + "\n"))
		if _, ok := err.(apierrors.APIStatus); ok {
			return false, nil
		}
		return false, err
	})
}

// logPrefixWriter prefixes each write with "[pod/NAME/CONTAINER] " when
// --prefix (or --all-pods) asks for it.
func logPrefixWriter(o *logs.LogsOptions, ref corev1.ObjectReference, w io.Writer) io.Writer {
	if !o.Prefix || ref.FieldPath == "" || ref.Name == "" {
		return w
	}
	container := ""
	if m := containerFromFieldPath.FindStringSubmatch(ref.FieldPath); len(m) == 2 {
		container = m[1]
	}
	return &prefixWriter{prefix: []byte(fmt.Sprintf("[pod/%s/%s] ", ref.Name, container)), w: w}
}

type prefixWriter struct {
	prefix []byte
	w      io.Writer
}

// Write writes the prefix and p in one call so concurrent streams do not
// interleave inside a line.
func (p *prefixWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := p.w.Write(append(append([]byte{}, p.prefix...), b...))
	n -= len(p.prefix)
	if n < 0 {
		n = 0
	}
	if n > len(b) {
		n = len(b)
	}
	return n, err
}

// runRolloutStatus is kubectl's RolloutStatusOptions.Run with the watch
// bound to ctx (and --timeout) instead of context.Background().
func runRolloutStatus(ctx context.Context, o *rollout.RolloutStatusOptions) error {
	r := o.Builder().
		WithScheme(scheme.Scheme, scheme.Scheme.PrioritizedVersionsAllGroups()...).
		NamespaceParam(o.Namespace).DefaultNamespace().
		LabelSelectorParam(o.LabelSelector).
		FilenameParam(o.EnforceNamespace, o.FilenameOptions).
		ResourceTypeOrNameArgs(true, o.BuilderArgs...).
		ContinueOnError().
		Latest().
		Flatten().
		Do()
	if err := r.Err(); err != nil {
		return err
	}
	resourceFound := false
	err := r.Visit(func(info *resource.Info, _ error) error {
		resourceFound = true
		statusViewer, err := o.StatusViewerFn(info.ResourceMapping())
		if err != nil {
			return err
		}
		fieldSelector := fields.OneTermEqualSelector("metadata.name", info.Name).String()
		client := o.DynamicClient.Resource(info.Mapping.Resource).Namespace(info.Namespace)
		lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
				options.FieldSelector = fieldSelector
				return client.List(ctx, options)
			},
			WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
				options.FieldSelector = fieldSelector
				return client.Watch(ctx, options)
			},
		}, o.DynamicClient)

		wctx, cancel := watchtools.ContextWithOptionalTimeout(ctx, o.Timeout)
		defer cancel()
		_, err = watchtools.UntilWithSync(wctx, lw, &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
			switch e.Type {
			case watch.Added, watch.Modified:
				status, done, err := statusViewer.Status(e.Object.(runtime.Unstructured), o.Revision)
				if err != nil {
					return false, err
				}
				fmt.Fprintf(o.Out, "%s", status)
				if done || !o.Watch {
					return true, nil
				}
				return false, nil
			case watch.Deleted:
				return true, fmt.Errorf("object has been deleted")
			default:
				return true, fmt.Errorf("internal error: unexpected event %#v", e)
			}
		})
		return err
	})
	if err != nil {
		return err
	}
	if !resourceFound {
		fmt.Fprintf(o.ErrOut, "No resources found in %s namespace.\n", o.Namespace)
	}
	return nil
}

// logRequests builds the log requests for object like kubectl's
// polymorphichelpers.LogsForObjectFn (same defaulting of the container, same
// choice of pod for workloads, same messages), writing notes to errOut.
func logRequests(g genericclioptions.RESTClientGetter, object, options runtime.Object, timeout time.Duration, allContainers, allPods bool, errOut io.Writer) (map[corev1.ObjectReference]rest.ResponseWrapper, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	client, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return logRequestsWithClient(client, object, options, timeout, allContainers, allPods, errOut)
}

func logRequestsWithClient(client corev1client.CoreV1Interface, object, options runtime.Object, timeout time.Duration, allContainers, allPods bool, errOut io.Writer) (map[corev1.ObjectReference]rest.ResponseWrapper, error) {
	opts, ok := options.(*corev1.PodLogOptions)
	if !ok {
		return nil, errors.New("provided options object is not a PodLogOptions")
	}
	merge := func(dst, src map[corev1.ObjectReference]rest.ResponseWrapper) {
		for k, v := range src {
			dst[k] = v
		}
	}
	switch t := object.(type) {
	case *corev1.PodList:
		ret := map[corev1.ObjectReference]rest.ResponseWrapper{}
		for i := range t.Items {
			r, err := logRequestsWithClient(client, &t.Items[i], options, timeout, allContainers, allPods, errOut)
			if err != nil {
				return nil, err
			}
			merge(ret, r)
		}
		return ret, nil

	case *corev1.Pod:
		if allContainers {
			ret := map[corev1.ObjectReference]rest.ResponseWrapper{}
			var names []string
			for _, c := range t.Spec.InitContainers {
				names = append(names, c.Name)
			}
			for _, c := range t.Spec.Containers {
				names = append(names, c.Name)
			}
			for _, c := range t.Spec.EphemeralContainers {
				names = append(names, c.Name)
			}
			for _, name := range names {
				one := opts.DeepCopy()
				one.Container = name
				r, err := logRequestsWithClient(client, t, one, timeout, false, false, errOut)
				if err != nil {
					return nil, err
				}
				merge(ret, r)
			}
			return ret, nil
		}
		cur := opts.DeepCopy()
		if cur == nil {
			cur = &corev1.PodLogOptions{}
		}
		if def := t.GetAnnotations()[podcmd.DefaultContainerAnnotationName]; cur.Container == "" && def != "" {
			if c, _ := podcmd.FindContainerByName(t, def); c == nil {
				fmt.Fprintf(errOut, "Default container name %q not found in pod %s\n", def, t.Name)
			} else {
				cur.Container = def
			}
		}
		if cur.Container == "" {
			cur.Container = t.Spec.Containers[0].Name
			if (len(t.Spec.Containers) > 1 || len(t.Spec.InitContainers) > 0 || len(t.Spec.EphemeralContainers) > 0) && !allPods {
				fmt.Fprintf(errOut, "Defaulted container %q out of: %s\n", cur.Container, podcmd.AllContainerNames(t))
			}
		}
		container, fieldPath := podcmd.FindContainerByName(t, cur.Container)
		if container == nil {
			return nil, fmt.Errorf("container %s is not valid for pod %s out of: %s", cur.Container, t.Name, podcmd.AllContainerNames(t))
		}
		ref, err := reference.GetPartialReference(scheme.Scheme, t, fieldPath)
		if err != nil {
			return nil, fmt.Errorf("Unable to construct reference to '%#v': %v", t, err)
		}
		return map[corev1.ObjectReference]rest.ResponseWrapper{*ref: client.Pods(t.Namespace).GetLogs(t.Name, cur)}, nil
	}

	namespace, selector, err := polymorphichelpers.SelectorsForObject(object)
	if err != nil {
		return nil, fmt.Errorf("cannot get the logs from %T: %v", object, err)
	}
	sortBy := func(pods []*corev1.Pod) sort.Interface { return podutils.ByLogging(pods) }
	pod, numPods, err := polymorphichelpers.GetFirstPod(client, namespace, selector.String(), timeout, sortBy)
	if err != nil {
		return nil, err
	}
	var target runtime.Object = pod
	if numPods > 1 {
		if allPods {
			if target, err = polymorphichelpers.GetPodList(client, namespace, selector.String(), timeout, sortBy); err != nil {
				return nil, err
			}
		} else {
			fmt.Fprintf(errOut, "Found %v pods, using pod/%v\n", numPods, pod.Name)
		}
	}
	return logRequestsWithClient(client, target, options, timeout, allContainers, allPods, errOut)
}
