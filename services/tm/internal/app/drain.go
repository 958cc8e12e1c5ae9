package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/store"
)

// Handover writes what this replica holds only in memory, so that the
// replicas taking its partitions over find all of it in the store (the
// step "write what it holds" of a graceful shutdown, see the tm README).
// It runs once no input runs any more (ports.Input.BeginHandover):
//
//   - a transaction with coalesced changes (dirty) is written now, with
//     its deadline index entry and the call events that waited for the
//     write (call.ringing);
//   - a transaction kept in memory only (a BYE, a MESSAGE: see persisted)
//     that is still in progress is written as a record, with its deadline
//     in the partition's index: the response to a BYE this replica relayed
//     reaches the new owner, which must find the transaction to send it
//     upstream (a UAS answers the BYE once; its retransmission of the BYE
//     may not be answered again), and runs its Timer E/F;
//   - the write-behind writes (the dialog record a BYE deletes) finish.
//
// A record another replica changed meanwhile (compare-and-set fails) is
// left as the store has it. It returns how many records it wrote.
func (e *Engine) Handover(ctx context.Context) (int, error) {
	if d, ok := e.d.Commit.(Deferrer); ok {
		d.FlushDeferred()
	}
	e.bg.Wait()
	n := 0
	var errs []error
	for _, kc := range e.cache.snapshot() {
		callKey, _, _ := strings.Cut(kc.key, "|")
		c := kc.c
		switch {
		case c.memOnly && !c.p.done():
			if err := e.writeMemOnly(ctx, callKey, c); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		case c.dirty:
			ok, err := e.commit(ctx, callKey, c)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				continue // changed elsewhere: the store's is newer
			}
			n++
			for _, em := range c.emits {
				if err := e.d.Emit.Emit(ctx, em); err != nil {
					errs = append(errs, err)
				}
			}
			c.emits, c.ops = nil, nil
		}
	}
	return n, errors.Join(errs...)
}

// writeMemOnly writes a transaction that lived in memory only, filed in
// its partition's deadline index when a timer is pending.
func (e *Engine) writeMemOnly(ctx context.Context, callKey string, c *cached) error {
	p := c.p
	ops := []store.Op{{
		Kind: store.OpSaveRecord, CallKey: callKey, Key: ptxKey(p.ID),
		Value: p.marshal(), TTL: e.recordTTL(p.Method),
	}}
	if next := p.next(); next != 0 {
		ops = append(ops, store.Op{Kind: store.OpIndexSet, Index: DeadlineIndex(bus.Partition(callKey)), Member: callKey + "|" + p.ID, Score: next})
	}
	res, err := e.d.Commit.Commit(ctx, ops)
	if err != nil {
		return fmt.Errorf("tm: handover: save transaction %s: %w", p.ID, err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("tm: handover: save transaction %s: %w", p.ID, r.Err)
		}
	}
	return nil
}
