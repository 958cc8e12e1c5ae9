package ctd

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"time"

	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// ErrDead is returned by a replica that was abandoned.
var ErrDead = errors.New("ctd: replica stopped")

// apply is load -> decide -> compare-and-set -> effects, retried when
// another replica changed the call in between.
func (s *Service) apply(ctx context.Context, id string, in app.Input) (app.State, error) {
	for try := 0; ; try++ {
		if s.dead.Load() {
			return app.State{}, ErrDead
		}
		cur, err := s.store.Load(ctx, id)
		if err != nil {
			return app.State{}, err
		}
		in.Now = s.now()
		next, acts := app.Next(cur, in)
		if acts == nil && reflect.DeepEqual(next, cur) {
			return cur, nil
		}
		saved, err := s.store.Save(ctx, next)
		if errors.Is(err, ports.ErrConflict) && try < 16 {
			continue
		}
		if err != nil {
			return app.State{}, err
		}
		// The compare-and-set just won decides the terminal phase: only
		// this replica, only this once, counts the call's outcome.
		if s.calls != nil && saved.Phase.Terminal() && !cur.Phase.Terminal() {
			s.calls.WithLabelValues(string(saved.Phase)).Inc()
		}
		if s.dead.Load() {
			return saved, ErrDead
		}
		s.effects(saved, acts)
		return saved, nil
	}
}

// uacID names request seq of call id for tm (its cancel names it too).
func uacID(id string, seq int) string { return id + "-" + strconv.Itoa(seq) }

// effects carries out the actions; requests run on their own goroutines
// and feed their answers back through apply.
func (s *Service) effects(st app.State, acts []app.Action) {
	for _, a := range acts {
		switch a.Kind {
		case app.ActEmit:
			if err := s.emit.Emit(s.base, st, a.Progress); err != nil {
				s.log.Warn("ctd: publish progress", "call", st.ID, "err", err)
			}
			s.log.Info("ctd: progress", "call", st.ID, "phase", a.Progress.Phase, "status", a.Progress.Status,
				"reason", app.Clean(a.Progress.Reason, 200))
		case app.ActCancel:
			if err := s.uac.Cancel(s.base, uacID(st.ID, st.Legs[a.Leg].Seq)); err != nil {
				s.log.Warn("ctd: cancel", "call", st.ID, "err", err)
			}
		case app.ActAck:
			if a.Body == nil && !a.Hold {
				continue // tm ACKs 2xx itself (ACK "tm")
			}
			body := a.Body
			if body == nil {
				body = holdAnswer(st.Offer)
			}
			s.send(st, a, &tmapi.UAC{Method: "ACK", DialogID: st.Legs[a.Leg].Dialog, Body: string(body), ContentType: "application/sdp"}, false)
		case app.ActBye:
			s.send(st, a, &tmapi.UAC{Method: "BYE", DialogID: st.Legs[a.Leg].Dialog}, false)
		case app.ActRefer:
			s.send(st, a, &tmapi.UAC{Method: "REFER", DialogID: st.Legs[a.Leg].Dialog,
				Headers: []string{"Refer-To: <" + a.Target + ">", "Referred-By: <" + st.From + ">"}}, true)
		case app.ActReInvite:
			s.send(st, a, &tmapi.UAC{Method: "INVITE", DialogID: st.Legs[a.Leg].Dialog, ACK: tmapi.ACKByApp}, true)
		case app.ActInvite:
			s.send(st, a, s.invite(st, a), true)
		}
	}
}

// invite is the INVITE of leg a.Leg: to a caller phone with SDP on hold
// and the callee as From (the phone shows whom it is about to call, as
// ctd.sh did); in 3PCC to the callee with the caller's offer.
func (s *Service) invite(st app.State, a app.Action) *tmapi.UAC {
	req := &tmapi.UAC{Method: "INVITE", RequestURI: a.Target, Owner: Owner, ContentType: "application/sdp",
		Headers: []string{"Subject: click-to-dial"}}
	if a.Hold {
		req.From, req.To, req.Body = `"Click-to-dial" <`+st.To+`>`, st.From, string(holdOffer(s.now()))
		req.Timeout = int((st.Policy.RingTimeout + time.Second - 1) / time.Second)
	} else {
		req.From, req.To, req.Body = st.From, st.To, string(a.Body)
		req.Timeout = int((st.Policy.CalleeTimeout + time.Second - 1) / time.Second)
	}
	return req
}

// send runs one request; answer feeds its answers back as inputs.
func (s *Service) send(st app.State, a app.Action, req *tmapi.UAC, answer bool) {
	req.ID = uacID(st.ID, a.Seq)
	if a.Seq == 0 {
		req.ID = tmapi.NewID()
	}
	id, leg, seq := st.ID, a.Leg, a.Seq
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := context.WithoutCancel(s.base) // a cancel would CANCEL the INVITE: only ActCancel does that
		onProv := func(r *tmapi.Response) {
			if answer && req.Method == "INVITE" && req.DialogID == "" {
				s.feed(id, app.Input{Kind: app.InProvisional, Leg: leg, Seq: seq, Status: r.Status,
					Reason: app.Clean(r.Reason, 128), Dialog: r.DialogID})
			}
		}
		r, err := s.uac.UAC(ctx, req, onProv)
		if s.dead.Load() {
			return
		}
		in := app.Input{Kind: app.InFinal, Leg: leg, Seq: seq}
		var ue *tmapi.Error
		switch {
		case errors.As(err, &ue) && ue.Status == 404 && req.DialogID != "":
			in.Status, in.Reason = 481, "dialog gone"
		case err != nil:
			s.log.Warn("ctd: uac", "call", id, "method", req.Method, "err", err)
			in.Status, in.Reason = 408, "no answer"
		default:
			in.Status, in.Reason, in.Dialog = r.Status, app.Clean(r.Reason, 128), r.DialogID
			in.Body = responseBody(r.Message)
		}
		if !answer {
			if in.Status >= 300 {
				s.log.Info("ctd: request answered", "call", id, "method", req.Method, "status", in.Status)
			}
			return
		}
		s.feed(id, in)
	}()
}

func (s *Service) feed(id string, in app.Input) {
	if _, err := s.apply(s.base, id, in); err != nil && !errors.Is(err, ErrDead) {
		s.log.Warn("ctd: apply", "call", id, "input", in.Kind, "err", err)
	}
}

// timers is the deadline loop: any replica may claim a due call; the
// compare-and-set makes one of them act. It also keeps the RingKeys:
// reads them from the store after a gap, drops the expired ones.
func (s *Service) timers() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.dead.Load() {
			return
		}
		s.ringGap()
		if err := s.seedRings(s.base); err != nil {
			s.log.Warn("ctd: read the ring keys", "err", err)
		}
		s.rings.sweep(time.Now())
		now := s.now()
		ids, err := s.store.Due(s.base, now, 100)
		if err != nil {
			s.log.Warn("ctd: due deadlines", "err", err)
			continue
		}
		for _, id := range ids {
			st, err := s.apply(s.base, id, app.Input{Kind: app.InTimeout})
			if errors.Is(err, ports.ErrNotFound) {
				_ = s.store.Index(s.base, id, time.Time{})
				continue
			}
			if err != nil {
				s.log.Warn("ctd: timeout", "call", id, "err", err)
				continue
			}
			if st.Deadline.IsZero() || st.Deadline.After(now) {
				_ = s.store.Index(s.base, id, st.Deadline) // mend the index
			}
		}
	}
}
