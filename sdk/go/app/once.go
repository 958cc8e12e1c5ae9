package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// OnceBucket is the JetStream key-value bucket of once-markers.
const OnceBucket = "sipbus-app-once"

// OnceTTL is how long a marker is kept: longer than any redelivery.
const OnceTTL = 7 * 24 * time.Hour

// Once marks key (an event id, or an id plus what is done with it) as
// done for this application and reports whether this call was the first:
// do the side effect only when first is true. A marker is created
// atomically (JetStream KV create), so two instances handling one
// redelivered event never both see first. A side effect that failed after
// Once should call Forget so the redelivery does it.
func (a *App) Once(ctx context.Context, key string) (first bool, err error) {
	if d, ok := ctx.Value(dryKey{}).(*dryRun); ok {
		d.mu.Lock()
		defer d.mu.Unlock()
		first = !d.once[key]
		d.once[key] = true
		return first, nil
	}
	kv, err := a.once(ctx)
	if err != nil {
		return false, err
	}
	_, err = kv.Create(ctx, onceKey(a.opt.Name, key), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	}
	return false, fmt.Errorf("app: once %s: %w", key, err)
}

type appKey struct{}

// Once is App.Once for the application whose handler ctx was given (the
// ctx of a Handler, OnCall or OnReg).
func Once(ctx context.Context, key string) (bool, error) {
	a, ok := ctx.Value(appKey{}).(*App)
	if !ok {
		return false, errors.New("app: Once: ctx is not a handler's")
	}
	return a.Once(ctx, key)
}

// Forget is App.Forget for the application of a handler's ctx.
func Forget(ctx context.Context, key string) error {
	a, ok := ctx.Value(appKey{}).(*App)
	if !ok {
		return errors.New("app: Forget: ctx is not a handler's")
	}
	return a.Forget(ctx, key)
}

// Forget removes the marker of key.
func (a *App) Forget(ctx context.Context, key string) error {
	if d, ok := ctx.Value(dryKey{}).(*dryRun); ok {
		d.mu.Lock()
		delete(d.once, key)
		d.mu.Unlock()
		return nil
	}
	kv, err := a.once(ctx)
	if err != nil {
		return err
	}
	return kv.Purge(ctx, onceKey(a.opt.Name, key))
}

func (a *App) once(ctx context.Context) (jetstream.KeyValue, error) {
	if a.onceKV != nil {
		return a.onceKV, nil
	}
	kv, err := a.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: OnceBucket, TTL: OnceTTL, Description: "sipbus applications: once-markers"})
	if err != nil {
		return nil, fmt.Errorf("app: once bucket: %w", err)
	}
	a.onceKV = kv
	return kv, nil
}

// onceKey is a valid KV key: the application and a hash-free escape of
// key (KV keys allow [-/_=.a-zA-Z0-9]).
func onceKey(app, key string) string {
	b := []byte(app + ".")
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		} else {
			b = append(b, '=', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
	}
	return string(b)
}
