// Package redislog is a go-redis hook for tests that count what a client
// sends. It lives apart from testenv so that modules using testenv without
// go-redis (sdk/go) need not require it.
package redislog

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Log is a go-redis hook (client.AddHook) that records what a client
// sends, one entry per round trip: a single command, or a pipeline. Each
// command reads "name key" (the name alone for a command without
// arguments). A new connection's set-up (HELLO, CLIENT SETINFO) is left
// out: it is no part of what the code under test sends.
type Log struct {
	mu    sync.Mutex
	trips [][]string
}

// DialHook implements redis.Hook.
func (l *Log) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (l *Log) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.record([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (l *Log) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.record(cmds)
		return next(ctx, cmds)
	}
}

func (l *Log) record(cmds []redis.Cmder) {
	var trip []string
	for _, c := range cmds {
		s := c.Name()
		if s == "hello" || s == "client" {
			continue
		}
		if args := c.Args(); len(args) > 1 {
			s += " " + fmt.Sprint(args[1])
		}
		trip = append(trip, s)
	}
	if len(trip) == 0 {
		return
	}
	l.mu.Lock()
	l.trips = append(l.trips, trip)
	l.mu.Unlock()
}

// Mark is the number of round trips recorded so far, for Since.
func (l *Log) Mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.trips)
}

// Since returns the round trips recorded after mark.
func (l *Log) Since(mark int) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.trips[mark:]...)
}

// Commands returns the commands of the round trips recorded after mark,
// in order.
func (l *Log) Commands(mark int) []string {
	var out []string
	for _, trip := range l.Since(mark) {
		out = append(out, trip...)
	}
	return out
}
