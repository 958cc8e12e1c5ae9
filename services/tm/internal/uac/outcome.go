package uac

import (
	"context"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

func (r *run) decide(t *tx, status int, m *sipmsg.Msg) {
	if m != nil && status >= 200 && t.finalMsg == nil {
		t.finalMsg = m
	}
	d := r.dec.OnResponse(t.branch, status)
	if d.Stream && m != nil {
		r.reply(r.response(t, m, false))
	}
	for _, i := range d.Cancel {
		r.sendCancel(r.bytx[i])
	}
	if d.Retry && m != nil && !r.retryWithAuth(t, m) {
		// No usable challenge: the 401/407 stands as the branch's answer.
		r.dec.Branches[t.branch].Replaced = false
		d = Decision{}
		if best, done := r.dec.best(); done && r.dec.Final == 0 {
			r.dec.Final = r.dec.Branches[best].Final
			d.Final, d.FinalBranch = true, best
		}
	}
	if d.BYE && m != nil {
		r.ackAndBye(t, m)
		return
	}
	if d.ACK && m != nil && !d.Final {
		r.reACK(t) // a retransmitted 2xx
	}
	if d.Final {
		r.finalFrom(d, m, t)
	}
}

// finalFrom streams the final of branch d.FinalBranch (m when it is t's).
func (r *run) finalFrom(d Decision, m *sipmsg.Msg, t *tx) {
	bt := r.bytx[d.FinalBranch]
	if bt != t {
		m = bt.finalMsg
	}
	if m == nil {
		r.reply(&tmapi.Response{Status: r.dec.Final, Reason: reasonOf(r.dec.Final), Final: true, Local: true, CallID: r.req.CallID, Contact: bt.target, DialogID: r.dialogID()})
		return
	}
	resp := r.response(bt, m, true)
	if m.StatusCode >= 200 && m.StatusCode < 300 {
		r.won(bt, m, d, resp)
	}
	r.reply(resp)
}

func (r *run) dialogID() string {
	if r.dl != nil {
		return r.dl.ID
	}
	return ""
}

// endDialog removes the dialog a BYE ends, before the BYE leaves: RFC
// 3261 §15.1.1, the session is over once the BYE is passed to its client
// transaction, whatever its answer. A request the peer sends in the
// dialog from then on (it crossed the BYE, or the peer answered the BYE
// first) gets 481. Removing it when the BYE's answer came instead made
// that answer race the peer's next request: both reach tm, on different
// goroutines.
func (r *run) endDialog() {
	if r.dl != nil && r.req.Method == "BYE" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.rn.d.Dialogs.Delete(ctx, r.dl.ID); err != nil {
			r.rn.d.Log.Warn("tm: uac", "id", r.req.ID, "err", err)
		}
	}
}

// won handles the 2xx that won: the dialog it creates (stored before the
// application hears of it) and its ACK.
func (r *run) won(t *tx, m *sipmsg.Msg, d Decision, resp *tmapi.Response) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dl := r.dl
	if dl == nil && createsDialog(r.req.Method) {
		var err error
		ftag := ""
		if f, e := t.msg.From(); e == nil {
			ftag = f.Tag()
		}
		dest := ""
		if r.rn.d.Locate != nil && t.target != "" && t.req.RURI == t.target && len(t.req.Routes) == 0 {
			dest = t.dest // a registered contact, maybe behind NAT: keep reaching it there
		}
		dl, err = newDialog(t.req, m, ftag, r.req.Owner, dest, r.req.ACK == tmapi.ACKByApp)
		if err != nil {
			r.rn.d.Log.Warn("tm: uac dialog", "id", r.req.ID, "err", err)
		} else if _, err := r.rn.d.Dialogs.Save(ctx, dl, 0); err != nil {
			r.rn.d.Log.Warn("tm: uac dialog", "id", r.req.ID, "err", err)
		}
	}
	if dl != nil && r.dl != nil && r.req.Method == "INVITE" {
		if ndl := r.reinvited(ctx, t, m); ndl != nil {
			dl = ndl
		}
	}
	if dl != nil {
		resp.DialogID = dl.ID
		t.dialog = dl.ID
	}
	if d.ACK && dl != nil {
		ack := inDialog(dl, "ACK", t.req.CSeq)
		ack.Contact = ""
		ack.Agent = r.rn.cfg.Agent
		dest, err := r.hopOf(ctx, dl)
		if err != nil {
			dest = t.dest
		}
		t.ackRaw = ack.Wire(transportOf(dest), r.sentBy(transportOf(dest)), newBranch())
		t.hopDest = dest
		r.send(t.ackRaw, dest)
	}
}

// reinvited records what a 2xx to a re-INVITE changes in the dialog: the
// CSeq its ACK carries (the application's ACK is built from it), who ACKs,
// and the remote target (a target refresh, RFC 3261 §12.2.1.2).
func (r *run) reinvited(ctx context.Context, t *tx, m *sipmsg.Msg) *Dialog {
	for range 8 {
		dl, v, err := r.rn.d.Dialogs.Load(ctx, r.dl.ID)
		if err != nil {
			return nil
		}
		dl.InviteSeq = t.req.CSeq
		dl.ACKApp = r.req.ACK == tmapi.ACKByApp
		dl.ACKRaw, dl.ACKDest = "", ""
		if cs, err := m.Contacts(); err == nil && len(cs) > 0 && !cs[0].Star {
			dl.Target = cs[0].URI.String()
		}
		ok, err := r.rn.d.Dialogs.Save(ctx, dl, v)
		if err != nil {
			r.rn.d.Log.Warn("tm: uac dialog", "id", r.req.ID, "err", err)
			return nil
		}
		if ok {
			return dl
		}
	}
	return nil
}

// reACK answers a retransmitted 2xx of the winning branch with the ACK
// sent for it: tm's, or the application's (ack "app") from the dialog.
func (r *run) reACK(t *tx) {
	if t.ackRaw != nil {
		r.send(t.ackRaw, t.hopDest)
		return
	}
	if t.dialog == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if dl, _, err := r.rn.d.Dialogs.Load(ctx, t.dialog); err == nil && dl.ACKRaw != "" {
		r.send([]byte(dl.ACKRaw), dl.ACKDest)
	}
}

// ackAndBye ends a 2xx that lost to another branch (RFC 3261 §13.2.2.4).
func (r *run) ackAndBye(t *tx, m *sipmsg.Msg) {
	if t.ackRaw != nil {
		r.send(t.ackRaw, t.hopDest)
		return
	}
	ftag := ""
	if f, e := t.msg.From(); e == nil {
		ftag = f.Tag()
	}
	dl, err := newDialog(t.req, m, ftag, "", t.dest, false)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dest, err := r.hopOf(ctx, dl)
	if err != nil {
		dest = t.dest
	}
	tr := transportOf(dest)
	ack := inDialog(dl, "ACK", t.req.CSeq)
	ack.Contact = ""
	t.ackRaw = ack.Wire(tr, r.sentBy(tr), newBranch())
	t.hopDest = dest
	r.send(t.ackRaw, dest)
	bye := inDialog(dl, "BYE", t.req.CSeq+1)
	bye.Contact = ""
	bye.Agent = r.rn.cfg.Agent
	r.auxTx(bye.Wire(tr, r.sentBy(tr), newBranch()), "BYE", dest)
}

// sendCancel CANCELs branch t (RFC 3261 §9.1).
func (r *run) sendCancel(t *tx) {
	if t == nil || t.gone {
		return
	}
	r.auxTx(hopRequest(t.msg, "CANCEL", ""), "CANCEL", t.dest)
}

func (r *run) cancelAll() {
	if r.dec == nil {
		return
	}
	for _, i := range r.dec.Cancel() {
		r.sendCancel(r.bytx[i])
	}
}

// retryWithAuth sends t's request again with credentials for m's
// challenge (RFC 3261 §22.2: same Call-ID and tags, CSeq + 1, a new
// branch). false: the challenge cannot be answered.
func (r *run) retryWithAuth(t *tx, m *sipmsg.Msg) bool {
	t.finalMsg = m
	hdr, name := sipmsg.HWWWAuthenticate, "Authorization"
	if m.StatusCode == 407 {
		hdr, name = sipmsg.HProxyAuthenticate, "Proxy-Authorization"
	}
	a := r.req.Auth
	for _, v := range m.Values(hdr) {
		ch, err := digest.ParseChallenge(v)
		if err != nil || (a.Realm != "" && ch.Realm != a.Realm) {
			continue
		}
		ha1 := a.HA1
		if a.Password != "" {
			alg := ch.Algorithm
			if alg == "" {
				alg = digest.MD5
			}
			ha1 = digest.HA1(alg, a.User, ch.Realm, a.Password)
		}
		rq := *t.req
		rq.CSeq++
		if r.dl != nil { // in a dialog: the next CSeq is the dialog's, taken atomically
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ndl, err := r.rn.d.Dialogs.NextSeq(ctx, r.dl.ID)
			cancel()
			if err != nil {
				return false
			}
			rq.CSeq = ndl.LocalSeq
		}
		rq.Auth = name + ": " + digest.Respond(ch, digest.Answer{Method: rq.Method, URI: rq.RURI, User: a.User, HA1: ha1, CNonce: sipmsg.NewTag()})
		i := r.dec.AddBranch()
		nt := r.newTx(&rq, t.dest, i, t.target)
		r.bytx = append(r.bytx, nt)
		r.step(nt, sipfsm.Start, nil)
		return true
	}
	return false
}

// response is the application's view of m.
func (r *run) response(t *tx, m *sipmsg.Msg, final bool) *tmapi.Response {
	resp := &tmapi.Response{Status: m.StatusCode, Reason: m.Str(m.Reason), Final: final, Message: string(m.Raw),
		CallID: m.CallID(), Contact: t.target, DialogID: r.dialogID()}
	if to, err := m.To(); err == nil {
		resp.ToTag = to.Tag()
	}
	if cs, err := m.CSeq(); err == nil {
		resp.CSeq = cs.Seq
	}
	if final {
		t.finalMsg = m
	}
	return resp
}

// sendACKByApp sends the application's ACK of a 2xx (ack "app").
func (r *run) sendACKByApp(rq *Req, dest string) {
	r.ck = sipmsg.CallKey(rq.CallID)
	raw := rq.Wire(transportOf(dest), r.sentBy(transportOf(dest)), newBranch())
	r.send(raw, dest)
	// Kept in the dialog: the replica running the INVITE resends it when
	// the 2xx is retransmitted (the ACK was lost).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 4 {
		dl, v, err := r.rn.d.Dialogs.Load(ctx, r.dl.ID)
		if err != nil {
			break
		}
		dl.ACKRaw, dl.ACKDest = string(raw), dest
		if ok, err := r.rn.d.Dialogs.Save(ctx, dl, v); ok || err != nil {
			break
		}
	}
	r.reply(&tmapi.Response{Status: 200, Reason: "ACK sent", Final: true, Local: true, CallID: rq.CallID, CSeq: rq.CSeq, DialogID: r.dl.ID})
}

func reasonOf(status int) string {
	switch status {
	case 408:
		return "Request Timeout"
	case 487:
		return "Request Terminated"
	case 480:
		return "Temporarily Unavailable"
	case 503:
		return "Service Unavailable"
	}
	return "Failed"
}
