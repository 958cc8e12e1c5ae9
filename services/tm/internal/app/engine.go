// Package app is tm's decision core, the heir of SER's tm module (t_relay,
// t_reply, failure_route, fr_inv_timer) with its state moved out of the
// process: every proxy transaction is a versioned record in the store, every
// timer a deadline any replica may claim, so any tm replica continues any
// transaction.
//
// The Engine turns one input (a request, a response, a due timer) into a
// compare-and-set of the transaction record plus effects executed after the
// write succeeds: messages for the edges, timers, call events. Client
// transactions follow the pure machines of package sipfsm (RFC 3261 §17,
// RFC 6026); the proxy logic around them is RFC 3261 §16:
//
//   - route: loose routing (§16.4), Max-Forwards (483), loop detection (482,
//     §16.3 step 4), then the route table for out-of-dialog requests;
//   - forward (§16.6): Via with a branch that names the proxy transaction,
//     Record-Route ;lr on dialog-creating requests, Path of the binding as
//     Route, the binding's received address for contacts behind NAT;
//   - fork: parallel to the contacts of the highest q, serially to lower q;
//   - responses (§16.7): provisionals forwarded while no final was sent,
//     every 2xx forwarded (and the other branches cancelled), non-2xx kept
//     until every branch ended, then on_failure or the best response (6xx,
//     else the lowest class; 503 becomes 500);
//   - CANCEL (§16.10): 200 at once, CANCEL every branch that had a
//     provisional (the others when their first provisional arrives), 487
//     upstream from the branches' answers;
//   - timers: A/B/D and E/F/K of each branch, the no-answer timer C (the
//     fr_inv_timer heir: CANCEL downstream, 408 upstream), G/H for a non-2xx
//     final sent upstream over UDP;
//   - ACK for 2xx: forwarded statelessly along Route (§16.11); the ACK for
//     a non-2xx final is absorbed by the edge, which matched the server
//     transaction.
//
// Effects run after the record is written. A replica dying between the two
// loses nothing that SIP does not repair: Timer A/E retransmits a branch
// request that never left, the UAC retransmits a request that got no
// answer, and the bus redelivers an unacknowledged event.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// RecordStore keeps the versioned proxy transaction records.
type RecordStore interface {
	LoadRecord(ctx context.Context, callKey, key string) (store.Record, error)
	SaveRecord(ctx context.Context, callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool, error)
}

// TimerStore arms and cancels shared deadlines, a batch per input (one
// round trip on Redis).
type TimerStore interface {
	ArmBatch(ctx context.Context, arms []store.TimerArm) error
	CancelBatch(ctx context.Context, ids []string) error
}

// OnceStore marks side effects that must happen once.
type OnceStore interface {
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// TxReader reads server transactions the edge keeps (Timer G needs the
// state the edge moved to on ACK).
type TxReader interface {
	Get(ctx context.Context, callKey, key string) (*store.Tx, error)
}

// Sender hands a message to the edges.
type Sender interface {
	Send(ctx context.Context, req *edgeapi.SendRequest) error
}

// Emitter publishes call events. id is stable: a redelivered input emits
// the same id and the bus drops the duplicate.
type Emitter interface {
	Emit(ctx context.Context, e Emission) error
}

// Locator finds the contacts of an address of record ("user@domain").
// known is false when the user does not exist at all (404); an existing
// user without bindings gets 480.
type Locator interface {
	Lookup(ctx context.Context, aor string) (targets []Target, known bool, err error)
}

// Source is where a request came from, as the edge reported it.
type Source struct {
	Transport string `json:"t"` // "udp" | "tcp"
	Remote    string `json:"r"` // ip:port
	Flow      string `json:"f,omitempty"`
	Edge      string `json:"e,omitempty"`
}

// Config tunes the engine.
type Config struct {
	Advertise string   // host:port in Via and Record-Route
	Self      []string // host[:port] values addressing this proxy
	Domains   []string // local domains (lower case)
	Name      string   // Server header of local replies; default "sipbus"
	Timers    sipfsm.Timers
	NoAnswer  time.Duration // timer C; default 60s
	// NoCache turns off the cache of the records this engine wrote last
	// (see recordCache): every input reads its record from the store.
	NoCache bool
}

// Deps are the engine's collaborators.
type Deps struct {
	Records RecordStore
	Timers  TimerStore
	Once    OnceStore
	Tx      TxReader
	Send    Sender
	Emit    Emitter
	Locate  Locator
	Apps    Apps
	Routes  *routes.Table
	Log     *slog.Logger
	Now     func() time.Time
}

// Engine is tm's stateful proxy core.
type Engine struct {
	cfg   Config
	d     Deps
	cache *recordCache // nil when Config.NoCache
}

// NewEngine returns an engine; zero config values get their defaults.
func NewEngine(cfg Config, d Deps) *Engine {
	if cfg.Name == "" {
		cfg.Name = "sipbus"
	}
	if cfg.Timers == (sipfsm.Timers{}) {
		cfg.Timers = sipfsm.DefaultTimers()
	}
	if cfg.NoAnswer <= 0 {
		cfg.NoAnswer = 60 * time.Second
	}
	for i, dom := range cfg.Domains {
		cfg.Domains[i] = strings.ToLower(dom)
	}
	if d.Routes == nil {
		d.Routes = routes.Default()
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	en := &Engine{cfg: cfg, d: d}
	if !cfg.NoCache {
		// 30 s is inside the shortest record TTL (a non-INVITE's: 64*T1+T4).
		en.cache = newRecordCache(32768, min(30*time.Second, en.recordTTL("BYE")/2), d.Now)
	}
	return en
}

// AlwaysRegistrar reports whether the route table hands every request of
// method to the registrar (routes.Table.AlwaysRegistrar).
func (e *Engine) AlwaysRegistrar(method string) bool { return e.d.Routes.AlwaysRegistrar(method) }

// ErrConflict means a record kept changing under us; the input is retried.
var ErrConflict = errors.New("tm: transaction record changed concurrently too often")

// effects are what an input causes once its record is written.
type effects struct {
	sends  []*edgeapi.SendRequest
	arms   []arm
	cancel []string
	emits  []Emission
	dialog *dialog // an answered call to remember until its BYE
}

type arm struct {
	id      string
	due     time.Time
	payload []byte
}

func (fx *effects) send(r *edgeapi.SendRequest) { fx.sends = append(fx.sends, r) }

// recordTTL bounds a proxy transaction record: the no-answer time plus
// Timer B's span and the time Timer D/K keeps a completed branch, so 2xx
// retransmissions and late responses still find it.
func (e *Engine) recordTTL(method string) time.Duration {
	span := 64 * e.cfg.Timers.T1
	if method == "INVITE" {
		return e.cfg.NoAnswer + 2*span + 32*time.Second
	}
	return 2*span + e.cfg.Timers.T4
}

func ptxKey(id string) string { return "p:" + id }

// load reads a proxy transaction.
func (e *Engine) load(ctx context.Context, callKey, id string) (*ptx, int64, error) {
	rec, err := e.d.Records.LoadRecord(ctx, callKey, ptxKey(id))
	if err != nil {
		return nil, 0, err
	}
	p := new(ptx)
	if err := json.Unmarshal(rec.Value, p); err != nil {
		return nil, 0, fmt.Errorf("tm: decode transaction %s: %w", id, err)
	}
	return p, rec.Version, nil
}

// update runs fn on the current record and writes it back with
// compare-and-set, retrying on conflicts; then it runs the effects.
// ErrNotFound is returned when the record does not exist.
func (e *Engine) update(ctx context.Context, callKey, id string, fn func(p *ptx, fx *effects) error) error {
	ck := callKey + "|" + id
	for attempt := range 16 {
		p, ver, err := e.current(ctx, callKey, id, ck, attempt == 0)
		if err != nil {
			return err
		}
		fx := &effects{}
		if err := fn(p, fx); err != nil {
			return err
		}
		if err := e.armAll(ctx, fx); err != nil {
			return err
		}
		value := p.marshal()
		nv, ok, err := e.d.Records.SaveRecord(ctx, callKey, ptxKey(id), value, ver, e.recordTTL(p.Method))
		if err != nil {
			e.cache.drop(ck)
			return fmt.Errorf("tm: save transaction %s: %w", id, err)
		}
		if ok {
			e.cache.put(ck, nv, value)
			return e.run(ctx, fx)
		}
		e.cache.drop(ck)
	}
	return ErrConflict
}

// current is the record update starts from: the one this replica wrote
// last when cached (first attempt only), else the store's.
func (e *Engine) current(ctx context.Context, callKey, id, ck string, useCache bool) (*ptx, int64, error) {
	if useCache {
		if c, ok := e.cache.get(ck); ok {
			p := new(ptx)
			if err := json.Unmarshal(c.value, p); err == nil {
				return p, c.version, nil
			}
			e.cache.drop(ck)
		}
	}
	return e.load(ctx, callKey, id)
}

// create writes a new proxy transaction. created is false when it already
// exists (a redelivered or re-published request).
func (e *Engine) create(ctx context.Context, callKey string, p *ptx, fx *effects) (created bool, err error) {
	if err := e.armAll(ctx, fx); err != nil {
		return false, err
	}
	value := p.marshal()
	nv, ok, err := e.d.Records.SaveRecord(ctx, callKey, ptxKey(p.ID), value, 0, e.recordTTL(p.Method))
	if err != nil {
		return false, fmt.Errorf("tm: create transaction %s: %w", p.ID, err)
	}
	if !ok {
		return false, nil
	}
	e.cache.put(callKey+"|"+p.ID, nv, value)
	return true, e.run(ctx, fx)
}

// armAll arms timers before the record is written: arming is idempotent
// (same id, replaced), and a timer armed for a write that lost its
// compare-and-set finds a state where it means nothing (sipfsm answers
// ErrUnexpected) and is dropped.
func (e *Engine) armAll(ctx context.Context, fx *effects) error {
	if len(fx.arms) == 0 {
		return nil
	}
	arms := make([]store.TimerArm, len(fx.arms))
	for i, a := range fx.arms {
		arms[i] = store.TimerArm{ID: a.id, Due: a.due, Payload: a.payload}
	}
	if err := e.d.Timers.ArmBatch(ctx, arms); err != nil {
		return fmt.Errorf("tm: arm timers: %w", err)
	}
	return nil
}

// run executes the effects of a written record. A send that fails is
// logged: the transaction's timers and SIP retransmissions recover it.
func (e *Engine) run(ctx context.Context, fx *effects) error {
	if len(fx.cancel) > 0 {
		if err := e.d.Timers.CancelBatch(ctx, fx.cancel); err != nil {
			e.d.Log.Warn("tm: cancel timers", "err", err)
		}
	}
	for _, s := range fx.sends {
		if err := e.d.Send.Send(ctx, s); err != nil {
			e.d.Log.Warn("tm: send", "call_key", s.CallKey, "dest", s.Dest, "err", err)
		}
	}
	if d := fx.dialog; d != nil {
		b, _ := json.Marshal(d)
		if _, _, err := e.d.Records.SaveRecord(ctx, d.CallKey, dialogKey, b, 0, dialogTTL); err != nil {
			e.d.Log.Warn("tm: save dialog", "err", err)
		}
	}
	var firstErr error
	for _, em := range fx.emits {
		if em.Terminal {
			first, err := e.d.Once.Once(ctx, "term|"+em.CallKey+"|"+em.PTx, 24*time.Hour)
			if err != nil {
				firstErr = err
				continue
			}
			if !first {
				continue
			}
		}
		if err := e.d.Emit.Emit(ctx, em); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
