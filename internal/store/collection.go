package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Collection is a typed view of one kind of Records, stored as JSON. Domain
// packages (sessions, tokens, results, audit) use it so that serialization and
// atomic updates are written once for every backend.
type Collection[T any] struct {
	R    Records
	Kind string
}

// NewCollection returns the typed collection kind over r.
func NewCollection[T any](r Records, kind string) Collection[T] {
	return Collection[T]{R: r, Kind: kind}
}

// Create stores v under id unless it exists (ErrConflict).
func (c Collection[T]) Create(ctx context.Context, id string, v T, expireAt time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", c.Kind, id, err)
	}
	return c.R.Create(ctx, c.Kind, id, b, expireAt)
}

// Put creates or replaces the value under id.
func (c Collection[T]) Put(ctx context.Context, id string, v T, expireAt time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", c.Kind, id, err)
	}
	return c.R.Put(ctx, c.Kind, id, b, expireAt)
}

// Get returns the value under id (ErrNotFound if absent or expired).
func (c Collection[T]) Get(ctx context.Context, id string) (T, error) {
	var v T
	b, err := c.R.Get(ctx, c.Kind, id)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s %s: %w", c.Kind, id, err)
	}
	return v, nil
}

// ErrUnchanged may be returned by an update function to leave the record as
// it is; Update then returns the current value and no error.
var ErrUnchanged = errors.New("unchanged")

// Update atomically modifies the value under id. fn edits v in place and
// returns the new expiry; returning ErrUnchanged keeps the record untouched.
// The returned value is what the record holds afterwards.
func (c Collection[T]) Update(ctx context.Context, id string, fn func(v *T) (time.Time, error)) (T, error) {
	var out T
	err := c.R.Update(ctx, c.Kind, id, func(old []byte) ([]byte, time.Time, error) {
		var v T
		if err := json.Unmarshal(old, &v); err != nil {
			return nil, time.Time{}, fmt.Errorf("decode %s %s: %w", c.Kind, id, err)
		}
		exp, err := fn(&v)
		if err != nil {
			if errors.Is(err, ErrUnchanged) {
				// fn may have edited v before deciding; report what is stored.
				var stored T
				_ = json.Unmarshal(old, &stored)
				out = stored
			}
			return nil, time.Time{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, time.Time{}, err
		}
		out = v
		return b, exp, nil
	})
	if errors.Is(err, ErrUnchanged) {
		return out, nil
	}
	return out, err
}

// Delete removes the value under id (ErrNotFound if absent).
func (c Collection[T]) Delete(ctx context.Context, id string) error {
	return c.R.Delete(ctx, c.Kind, id)
}

// Scan visits values newest first until fn returns false. Records that do not
// decode are skipped rather than failing the whole listing.
func (c Collection[T]) Scan(ctx context.Context, fn func(id string, v T) bool) error {
	return c.R.Scan(ctx, c.Kind, func(id string, b []byte) bool {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return true
		}
		return fn(id, v)
	})
}
