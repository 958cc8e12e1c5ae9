package location

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/groupcommit"
)

// maxCommit bounds the Applies sent in one pipeline.
const maxCommit = 128

// applyCall is one Apply's share of a pipeline: its script and index
// commands, and whether the index commands all succeeded. Apply's group
// commit (package doc, "Group commit"; Redis.commits) batches them: the
// first Apply to find no pipeline in flight sends one with its own
// commands; Applies that arrive meanwhile go together in the next
// pipeline, sent as soon as the one in flight is answered.
type applyCall struct {
	ctx     context.Context
	keys    []string
	args    []any
	aor     string
	first   int64 // earliest expiry among the request's contacts (ZADD LT), 0: none
	listed  bool  // ZADD NX on the AOR list
	script  *redis.Cmd
	indexed bool
	done    chan struct{}
}

// commit runs c's commands in a pipeline shared with the Applies that
// arrive meanwhile and returns when they have been answered, or when c's
// context ends (the script may run anyway, as with a single command that
// timed out; a call whose context ended before its pipeline left is not
// sent).
func (r *Redis) commit(c *applyCall) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.done = make(chan struct{})
	if err := r.commits.Submit(c); err != nil {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// send runs a batch in one pipeline: each call's script (EVALSHA; a
// NOSCRIPT answer makes runApply repeat that call alone with EVAL) then
// its index updates, in order. The pipeline's context has no cancellation
// and the latest deadline of the batch: one caller giving up does not
// fail the others.
func (r *Redis) send(batch []*applyCall) {
	ctx, cancel := groupcommit.Context(batch, func(c *applyCall) context.Context { return c.ctx })
	defer cancel()
	index := make([][]redis.Cmder, len(batch))
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			index[i] = r.queue(ctx, p, c, false)
		}
		return nil
	})
	for i, c := range batch {
		c.indexed = allOK(index[i])
		close(c.done)
	}
}

// queue adds c's script to p, EVALSHA or (load) EVAL, and behind it the
// index updates, which it returns.
func (r *Redis) queue(ctx context.Context, p redis.Pipeliner, c *applyCall, load bool) []redis.Cmder {
	if load {
		c.script = applyScript.Eval(ctx, p, c.keys, c.args...)
	} else {
		c.script = applyScript.EvalSha(ctx, p, c.keys, c.args...)
	}
	var index []redis.Cmder
	if c.first > 0 {
		index = append(index, p.ZAddLT(ctx, ExpiryKey(r.prefix, ExpiryShard(c.aor)), redis.Z{Score: float64(c.first), Member: c.aor}))
	}
	if c.listed {
		index = append(index, p.ZAddNX(ctx, AORsKey(r.prefix), redis.Z{Member: c.aor}))
	}
	return index
}

func allOK(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if c.Err() != nil {
			return false
		}
	}
	return true
}
