package a2a

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2asrv/taskstore"

	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/store"
)

// taskRecord is one A2A task as kept in the shared store.
type taskRecord struct {
	Owner   string    `json:"owner"`
	Version int64     `json:"version"`
	Updated time.Time `json:"updated"`
	Task    *sdk.Task `json:"task"`
}

// taskStore implements the SDK's taskstore.Store on store.KindTask records,
// so tasks are shared by every replica on Redis and survive restarts on the
// embedded store. Every operation is scoped to the calling principal: a task
// of someone else is reported as not found.
type taskStore struct {
	tasks     store.Collection[taskRecord]
	retention time.Duration
	now       func() time.Time
}

var _ taskstore.Store = (*taskStore)(nil)

func newTaskStore(r store.Records, retention time.Duration) *taskStore {
	return &taskStore{tasks: store.NewCollection[taskRecord](r, store.KindTask), retention: retention, now: time.Now}
}

// ownerKey names a principal for task ownership. The authentication method is
// part of it, so an API key identity can never collide with an OIDC subject.
func ownerKey(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Method + ":" + p.ID
}

// ownerFrom returns the owner key of the request's principal.
func ownerFrom(ctx context.Context) (string, error) {
	if o := ownerKey(auth.FromContext(ctx)); o != "" {
		return o, nil
	}
	return "", sdk.ErrUnauthenticated
}

func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sdk.ErrTaskNotFound
	case errors.Is(err, store.ErrUnavailable):
		return fmt.Errorf("%w: the state store is unavailable; retry shortly", sdk.ErrInternalError)
	}
	return err
}

// Create implements taskstore.Store.
func (s *taskStore) Create(ctx context.Context, task *sdk.Task) (taskstore.TaskVersion, error) {
	owner, err := ownerFrom(ctx)
	if err != nil {
		return taskstore.TaskVersionMissing, err
	}
	now := s.now()
	rec := taskRecord{Owner: owner, Version: 1, Updated: now, Task: task}
	if err := s.tasks.Create(ctx, string(task.ID), rec, now.Add(s.retention)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return taskstore.TaskVersionMissing, taskstore.ErrTaskAlreadyExists
		}
		return taskstore.TaskVersionMissing, storeErr(err)
	}
	return 1, nil
}

// Update implements taskstore.Store with optimistic concurrency: a stale
// PrevVersion is refused with ErrConcurrentModification.
func (s *taskStore) Update(ctx context.Context, req *taskstore.UpdateRequest) (taskstore.TaskVersion, error) {
	owner, err := ownerFrom(ctx)
	if err != nil {
		return taskstore.TaskVersionMissing, err
	}
	now := s.now()
	rec, err := s.tasks.Update(ctx, string(req.Task.ID), func(r *taskRecord) (time.Time, error) {
		if r.Owner != owner {
			return time.Time{}, sdk.ErrTaskNotFound
		}
		if req.PrevVersion != taskstore.TaskVersionMissing && taskstore.TaskVersion(r.Version) != req.PrevVersion {
			return time.Time{}, taskstore.ErrConcurrentModification
		}
		r.Version++
		r.Updated = now
		r.Task = req.Task
		return now.Add(s.retention), nil
	})
	if err != nil {
		return taskstore.TaskVersionMissing, storeErr(err)
	}
	return taskstore.TaskVersion(rec.Version), nil
}

// Get implements taskstore.Store.
func (s *taskStore) Get(ctx context.Context, id sdk.TaskID) (*taskstore.StoredTask, error) {
	owner, err := ownerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, sdk.ErrTaskNotFound
	}
	rec, err := s.tasks.Get(ctx, string(id))
	if err != nil {
		return nil, storeErr(err)
	}
	if rec.Owner != owner || rec.Task == nil {
		return nil, sdk.ErrTaskNotFound
	}
	return &taskstore.StoredTask{Task: rec.Task, Version: taskstore.TaskVersion(rec.Version), User: rec.Owner}, nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
	defaultHistory  = 100
)

// List implements taskstore.Store: the caller's tasks, most recently updated
// first, filtered and paginated as the A2A 1.0 ListTasks method describes.
// An empty result is an empty list, never null.
func (s *taskStore) List(ctx context.Context, req *sdk.ListTasksRequest) (*sdk.ListTasksResponse, error) {
	owner, err := ownerFrom(ctx)
	if err != nil {
		return nil, err
	}
	size := req.PageSize
	switch {
	case size == 0:
		size = defaultPageSize
	case size < 1 || size > maxPageSize:
		return nil, sdk.NewError(sdk.ErrInvalidParams, fmt.Sprintf("pageSize must be between 1 and %d, got %d", maxPageSize, size))
	}
	var after *cursor
	if req.PageToken != "" {
		c, err := decodeCursor(req.PageToken)
		if err != nil {
			return nil, sdk.NewError(sdk.ErrInvalidParams, "invalid pageToken")
		}
		after = &c
	}
	var all []taskRecord
	err = s.tasks.Scan(ctx, func(_ string, r taskRecord) bool {
		if r.Owner != owner || r.Task == nil {
			return true
		}
		t := r.Task
		if req.ContextID != "" && t.ContextID != req.ContextID {
			return true
		}
		if req.Status != sdk.TaskStateUnspecified && t.Status.State != req.Status {
			return true
		}
		if req.StatusTimestampAfter != nil && t.Status.Timestamp != nil && t.Status.Timestamp.Before(*req.StatusTimestampAfter) {
			return true
		}
		all = append(all, r)
		return true
	})
	if err != nil {
		return nil, storeErr(err)
	}
	slices.SortFunc(all, func(a, b taskRecord) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(string(b.Task.ID), string(a.Task.ID))
	})
	page := all
	if after != nil {
		i := slices.IndexFunc(all, func(r taskRecord) bool { return after.before(r) })
		if i < 0 {
			i = len(all)
		}
		page = all[i:]
	}
	next := ""
	if len(page) > size {
		last := page[size-1]
		next = cursor{Updated: last.Updated, ID: string(last.Task.ID)}.encode()
		page = page[:size]
	}
	history := defaultHistory
	if req.HistoryLength != nil {
		history = *req.HistoryLength
	}
	out := make([]*sdk.Task, 0, len(page))
	for _, r := range page {
		t := r.Task
		t.History = trimHistory(t.History, history)
		if !req.IncludeArtifacts {
			t.Artifacts = nil
		}
		out = append(out, t)
	}
	return &sdk.ListTasksResponse{Tasks: out, TotalSize: len(all), PageSize: size, NextPageToken: next}, nil
}

// trimHistory keeps the last n messages (n < 0: all; n == 0: none).
func trimHistory(h []*sdk.Message, n int) []*sdk.Message {
	switch {
	case n < 0:
		return h
	case n == 0:
		return []*sdk.Message{}
	case len(h) > n:
		return h[len(h)-n:]
	}
	return h
}

// cursor is the position after the last task of a page.
type cursor struct {
	Updated time.Time
	ID      string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.Updated.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || id == "" {
		return cursor{}, errors.New("malformed cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return cursor{}, err
	}
	return cursor{Updated: t, ID: id}, nil
}

// before reports whether r sorts after the cursor (older, or as old with a
// smaller id), i.e. belongs to the next page.
func (c cursor) before(r taskRecord) bool {
	if cmp := r.Updated.Compare(c.Updated); cmp != 0 {
		return cmp < 0
	}
	return string(r.Task.ID) < c.ID
}
