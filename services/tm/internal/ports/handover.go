package ports

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// Graceful handover of a leaving replica's partitions (tm.Shutdown):
//
//  1. BeginHandover: messages that arrive from now on are held, not
//     handled; the timers stop (the next owner loads the deadlines from
//     the store); the inputs in flight finish.
//  2. tm writes what it holds (the coalesced writes) and leaves the group,
//     telling the others (Members.Leave, ChangedSubject); they subscribe
//     to its partitions at once.
//  3. EndHandover, HandoverWait later: the subscriptions are drained (every
//     message received so far is held) and the held messages are published
//     again on their subjects, where the new owners now take them.
//
// So no message of a started call is lost in the gap, including an INVITE
// the edge already answered with 100 Trying (the caller does not
// retransmit it).

// HandoverWait is how long a leaving replica holds the messages of its
// partitions after it left, for the new owners to subscribe (they do
// at once on ChangedSubject, at their next heartbeat, 1s, at the latest).
const HandoverWait = time.Second

func (in *Input) hold(m *nats.Msg) {
	in.hmu.Lock()
	in.held = append(in.held, m)
	in.hmu.Unlock()
}

func (in *Input) stopScheduler() { in.schOnce.Do(in.sch.Stop) }

// BeginHandover holds every message received from now on, stops the
// timers and waits for the inputs in flight.
func (in *Input) BeginHandover() {
	in.handover.Store(true)
	in.stopScheduler()
	in.wg.Wait()
	for i := range in.part { // every input under a partition's lock is done
		in.part[i].Lock()
		in.part[i].Unlock() //nolint:staticcheck // a barrier
	}
}

// EndHandover drains the subscriptions (their pending messages are held
// too) and publishes every held message again, for the new owners. It
// returns how many it passed on.
func (in *Input) EndHandover(ctx context.Context) int {
	in.mu.Lock()
	subs := make([]*nats.Subscription, 0, len(in.subs))
	for p, sub := range in.subs {
		subs = append(subs, sub)
		delete(in.subs, p)
	}
	in.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Drain()
	}
	for _, sub := range subs {
		for sub.IsValid() && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	in.hmu.Lock()
	held := in.held
	in.held = nil
	in.hmu.Unlock()
	for _, m := range held {
		_ = in.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	_ = in.nc.FlushWithContext(ctx)
	return len(held)
}
