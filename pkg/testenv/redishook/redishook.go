// Package redishook has go-redis hooks for tests (apart from testenv, so
// that modules testing without Redis do not depend on go-redis).
package redishook

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// HoldFirst is a go-redis hook (Client.AddHook) that holds the
// first pipeline whose first command is named Name ("evalsha" when empty:
// a pipeline of scripts) for Hold, and counts such pipelines and their
// commands. Other pipelines (a new connection's HELLO goes through the
// hooks as one) and single commands pass untouched. Tests of a group
// commit hold the first batch and see what queued behind it.
type HoldFirst struct {
	Name string
	Hold time.Duration

	Pipelines, Commands atomic.Int64
}

func (*HoldFirst) DialHook(next redis.DialHook) redis.DialHook { return next }

func (*HoldFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *HoldFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	name := h.Name
	if name == "" {
		name = "evalsha"
	}
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() != name {
			return next(ctx, cmds)
		}
		if h.Pipelines.Add(1) == 1 {
			time.Sleep(h.Hold)
		}
		h.Commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Counter is a go-redis hook (Client.AddHook) counting what a client
// sends: single commands and pipelines (one round trip each), and the
// commands sent in pipelines.
type Counter struct {
	Commands, Pipelines, Pipelined atomic.Int64
}

func (*Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.Commands.Add(1)
		return next(ctx, cmd)
	}
}

func (h *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.Pipelines.Add(1)
		h.Pipelined.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Reset sets every count to zero.
func (h *Counter) Reset() {
	h.Commands.Store(0)
	h.Pipelines.Store(0)
	h.Pipelined.Store(0)
}
