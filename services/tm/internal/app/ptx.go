package app

import (
	"encoding/json"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// ptx is the shared state of one proxy transaction (RFC 3261 §16: a server
// transaction and its client transactions), stored as one versioned record
// "p:<id>" under the call's hash tag. Every change is a compare-and-set, so
// any tm replica may handle any event of the call.
type ptx struct {
	ID        string    `json:"id"`
	ServerKey string    `json:"sk"`
	Method    string    `json:"m"`
	CallID    string    `json:"cid"`
	Req       []byte    `json:"req"` // the request as received
	Src       Source    `json:"src"`
	Branches  []*branch `json:"b,omitempty"`
	// Groups are the targets not tried yet, one group per q value, best
	// first (RFC 3261 §16.6: parallel within a group, serial across).
	Groups    [][]Target     `json:"g,omitempty"`
	OnFailure *routes.Action `json:"of,omitempty"`
	Failover  bool           `json:"fo,omitempty"` // on_failure already used
	Final     int            `json:"fin,omitempty"`
	Cancelled bool           `json:"cx,omitempty"`
	TimedOut  bool           `json:"to,omitempty"`
	Ringing   bool           `json:"rg,omitempty"`   // timer C armed (first provisional seen)
	Call      *callInfo      `json:"call,omitempty"` // initial INVITE only
	App       string         `json:"app,omitempty"`  // handed to this application
	Created   time.Time      `json:"ct"`
	// Last is the final response sent upstream, to answer a retransmission
	// of the request that reaches tm (an edge that did not see the final).
	Last []byte `json:"last,omitempty"`
	// Tmr are the pending timers (RFC 3261 §17.1 A, B, E, F of the
	// branches, and their failover and lookup timers; C of the proxy
	// transaction), kept in the record so that a
	// replica taking the partition over finds them (through its deadline
	// index, see Engine.commit).
	Tmr []ptimer `json:"tm,omitempty"`
}

// ptimer is one pending timer of a proxy transaction.
type ptimer struct {
	T   string `json:"t"` // "A", "B", "C", "E", "F"; "fr", "dns" (see dns.go)
	I   int    `json:"i"` // branch; -1 for the proxy transaction's own (C)
	Due int64  `json:"d"` // unix milliseconds
}

// next is the earliest deadline of p's timers (0: none).
func (p *ptx) next() int64 {
	var n int64
	for _, t := range p.Tmr {
		if n == 0 || t.Due < n {
			n = t.Due
		}
	}
	return n
}

// arm sets timer t of branch i (replacing it) to due.
func (p *ptx) arm(t string, i int, due int64) {
	for k := range p.Tmr {
		if p.Tmr[k].T == t && p.Tmr[k].I == i {
			p.Tmr[k].Due = due
			return
		}
	}
	p.Tmr = append(p.Tmr, ptimer{T: t, I: i, Due: due})
}

// disarm removes timer t of branch i; it reports whether it was armed.
func (p *ptx) disarm(t string, i int) bool {
	for k := range p.Tmr {
		if p.Tmr[k].T == t && p.Tmr[k].I == i {
			p.Tmr = append(p.Tmr[:k], p.Tmr[k+1:]...)
			return true
		}
	}
	return false
}

// done reports a transaction with nothing left to do: final sent, every
// branch ended, no timer pending.
func (p *ptx) done() bool { return p.Final != 0 && p.allDone() && len(p.Tmr) == 0 }

// branch is one client transaction of a proxy transaction.
type branch struct {
	I         int          `json:"i"`
	Branch    string       `json:"br"`
	Target    string       `json:"t"`
	Hop       hop          `json:"hop"`
	Req       []byte       `json:"req"` // exactly what was sent
	State     sipfsm.State `json:"s"`
	Attempt   int          `json:"n,omitempty"` // Timer A/E firings
	Status    int          `json:"st,omitempty"`
	Local     bool         `json:"lo,omitempty"` // Status generated locally (timeout)
	Resp      []byte       `json:"r,omitempty"`  // final non-2xx response as received
	Prov      bool         `json:"pv,omitempty"` // a provisional arrived
	CancelOut bool         `json:"cs,omitempty"` // CANCEL sent
	Reason    string       `json:"rs,omitempty"` // the reason phrase of a local Status
	// RFC 3263: Alt are the targets resolved after Hop, in order, not
	// tried yet (a 503 or a timeout moves on to the next, in a new
	// branch: §4.3); Dst is the target the branch was built for, to
	// build those (and the request once resolved). Resolving: the next
	// hop's lookup is in progress and nothing was sent; Lookups counts
	// the lookups started again after one got lost (see timerLookup).
	Alt       []hop   `json:"alt,omitempty"`
	Dst       *Target `json:"dst,omitempty"`
	Resolving bool    `json:"dns,omitempty"`
	Lookups   int     `json:"lk,omitempty"`

	// heldFrom: the retransmission now due is held back (Engine.retransWait)
	// since it came due then (unix ms; 0: not held). In memory only: a
	// replica that takes the call over may hold it back again.
	heldFrom int64
}

// callInfo follows the call an initial INVITE starts, for call events.
type callInfo struct {
	Caller    party     `json:"caller"`
	Callee    party     `json:"callee"`
	CallerTag string    `json:"ctag"`
	LocalUser bool      `json:"local,omitempty"`
	Started   time.Time `json:"start"`
	Ringing   bool      `json:"ring,omitempty"`
	Answered  time.Time `json:"ans,omitzero"`
}

type party struct {
	Display string `json:"d,omitempty"`
	URI     string `json:"u"`
}

// dialog is what tm keeps of an answered call, to report its end: record
// "dlg" under the call's key (the first answered dialog of a Call-ID).
type dialog struct {
	PTx     string   `json:"p"`
	CallID  string   `json:"cid"`
	CallKey string   `json:"ck"`
	Call    callInfo `json:"call"`
}

func (p *ptx) invite() bool { return p.Method == "INVITE" }

func (p *ptx) kind() sipfsm.Kind {
	if p.invite() {
		return sipfsm.ClientInvite
	}
	return sipfsm.ClientNonInvite
}

func (p *ptx) branch(i int) *branch {
	if i < 0 || i >= len(p.Branches) {
		return nil
	}
	return p.Branches[i]
}

// pending reports whether a branch still waits for its final response.
func (b *branch) pending() bool { return b.Status == 0 }

func (p *ptx) allDone() bool {
	for _, b := range p.Branches {
		if b.pending() {
			return false
		}
	}
	return true
}

// marshal is p's record: the JSON encoding/json writes, by appendJSON.
func (p *ptx) marshal() []byte {
	if b, ok := p.appendJSON(make([]byte, 0, p.jsonSize())); ok {
		return b
	}
	b, _ := json.Marshal(p)
	return b
}

// best selects the response to send upstream when every branch failed
// (RFC 3261 §16.7 step 6): a 6xx if any; else the lowest class, first
// received; 503 becomes 500. It returns the branch (nil: none).
func (p *ptx) best() *branch {
	var pick *branch
	for _, b := range p.Branches {
		if b.Status < 300 {
			continue
		}
		if b.Status >= 600 {
			if pick == nil || pick.Status < 600 {
				pick = b
			}
			continue
		}
		if pick == nil || (pick.Status < 600 && b.Status/100 < pick.Status/100) {
			pick = b
		}
	}
	return pick
}
