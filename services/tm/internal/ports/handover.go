package ports

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Graceful handover of a leaving replica's partitions (tm.Shutdown; the
// protocol is described in the tm README, "Graceful shutdown"):
//
//  1. BeginHandover: messages that arrive from now on are held, not
//     handled; the timers stop (the next owner loads the deadlines from
//     the store); the inputs, timers and lookups in flight finish.
//  2. tm writes what it holds in memory (app.Engine.Handover) and leaves
//     the group, telling the others (Members.Handover, ChangedSubject);
//     each subscribes to the partitions it gains, makes sure the NATS
//     server has the subscriptions, and says so (TookSubject). From then
//     on the edges' messages of those partitions reach the new owner.
//  3. EndHandover, once every new owner said so (or HandoverWait at the
//     latest): the subscriptions are drained (every message received so
//     far is held) and the held messages are published again on their
//     subjects, marked with HandoverHeader, where the new owners take
//     them.
//
// So no message of a started call is lost in the gap, including an INVITE
// the edge already answered with 100 Trying (the caller does not
// retransmit it), and the only messages both replicas get are those the
// edges published between the new owner's subscription and the old
// owner's unsubscription (milliseconds).

// HandoverWait bounds how long a leaving replica waits for the new owners
// of its partitions to say they subscribed (TookSubject) before it passes
// the held messages on anyway (a new owner that does not answer: it died,
// or is too busy).
const HandoverWait = 2 * time.Second

// HandoverHeader marks a message a leaving replica passed on (its value
// is the leaving replica's id): the new owner neither counts its age as
// queueing delay nor sheds it (see Input.handle).
const HandoverHeader = "Sipbus-Tm-Handover"

// TookSubject is where a replica says it subscribed to the partitions it
// gained (Took): a leaving replica waits for it before it passes the
// messages it held on.
const TookSubject = "sipbus.tm.members.took"

// Took is what a replica publishes on TookSubject: its id, and the member
// list its partitions were computed from.
type Took struct {
	ID      string   `json:"id"`
	Members []string `json:"members"`
}

func (in *Input) hold(m *nats.Msg) {
	in.hmu.Lock()
	in.held = append(in.held, m)
	in.hmu.Unlock()
}

func (in *Input) stopScheduler() { in.schOnce.Do(in.sch.Stop) }

// BeginHandover holds every message received from now on, stops the
// timers and waits for the inputs in flight: the messages being handled
// (a barrier on every partition's lock: onMsg reads the flag under it),
// then the due deadlines and DNS lookups they or the scheduler started.
func (in *Input) BeginHandover() {
	in.handover.Store(true)
	in.stopScheduler()
	for i := range in.parts { // every message under a partition's lock is done
		in.parts[i].mu.Lock()
		in.parts[i].mu.Unlock() //nolint:staticcheck // a barrier
	}
	in.wg.Wait()
}

// EndHandover drains the subscriptions (their pending messages are held
// too) and publishes every held message again, marked with
// HandoverHeader, for the new owners. It returns how many it passed on.
func (in *Input) EndHandover(ctx context.Context) int {
	in.drainSubs(ctx)
	in.hmu.Lock()
	held := in.held
	in.held = nil
	in.hmu.Unlock()
	for _, m := range held {
		h := nats.Header{}
		for k, v := range m.Header {
			h[k] = v
		}
		h.Set(HandoverHeader, in.opt.ID)
		_ = in.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: h, Data: m.Data})
	}
	_ = in.nc.FlushWithContext(ctx)
	return len(held)
}

// Handover leaves the group and waits until every replica that gains one
// of this replica's partitions said it subscribed to them (TookSubject),
// or wait passed, or ctx ended. The partitions stay subscribed here (their
// messages held, see Input.BeginHandover) until Input.EndHandover. It
// reports whether every new owner answered.
func (m *Members) Handover(ctx context.Context, wait time.Duration) (bool, error) {
	m.Quiesce()
	// The member list as it is now, not as this replica last saw it: a
	// replica that joined since this one's last tick already owns some of
	// the partitions this one still subscribes to, and gains the rest.
	m.mu.Lock()
	members := slices.Clone(m.members)
	m.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	if fresh, err := m.Store.Heartbeat(hctx, Group, m.ID, m.TTL); err == nil {
		members = fresh
	}
	cancel()
	others := slices.DeleteFunc(members, func(id string) bool { return id == m.ID })
	expect := map[string]bool{}
	if len(others) > 0 && m.Input != nil {
		for _, p := range m.Input.Owned() {
			expect[Owner(p, others)] = true
		}
	}
	var nc *nats.Conn
	if m.Input != nil {
		nc = m.Input.nc
	}
	if nc == nil || len(expect) == 0 {
		return len(expect) == 0, m.Leave(ctx)
	}
	want := maps.Clone(expect) // read only, by the callback
	took := make(chan string, len(want))
	sub, err := nc.Subscribe(TookSubject, func(msg *nats.Msg) {
		var t Took
		if json.Unmarshal(msg.Data, &t) != nil || !want[t.ID] || slices.Contains(t.Members, m.ID) {
			return // not a new owner, or a view from before this replica left
		}
		select {
		case took <- t.ID:
		default:
		}
	})
	if err != nil {
		return false, m.Leave(ctx)
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = nc.Flush()
	if err := m.Leave(ctx); err != nil {
		return false, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(expect) > 0 {
		select {
		case id := <-took:
			delete(expect, id)
		case <-timer.C:
			m.Log.Warn("tm: handover: new owners did not confirm in time; passing the held messages on anyway", "waiting_for", keys(expect))
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// announceTook tells a leaving replica that this one subscribed to the
// partitions it gained (members is the list they were computed from).
func (m *Members) announceTook(members []string) {
	if m.Input == nil || m.Input.nc == nil {
		return
	}
	b, _ := json.Marshal(Took{ID: m.ID, Members: members})
	_ = m.Input.nc.Publish(TookSubject, b)
}
