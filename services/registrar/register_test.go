package registrar_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/registrar"
)

func authOff(c *registrar.Config) { c.Auth = registrar.AuthOff }

// TestRegisterRefreshUnregister walks one UA through RFC 3261 §10.2 with
// authentication off: add, refresh, query, remove; the reply goes back
// through the edge to the NAT's public address, and every change is one
// reg.contact event.
func TestRegisterRefreshUnregister(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			b := newBench(t, stateURL(t, engine), authOff)
			u := b.ua("alice@example.com")
			const contact = "sip:alice@192.0.2.4:5060"

			rep, req := u.send(u.message("Contact: <"+contact+">", "Expires: 600"))
			if rep.StatusCode != 200 {
				t.Fatalf("register: %s", status(rep))
			}
			if got := contacts(t, rep); len(got) != 1 || got[contact] != 600 {
				t.Errorf("200 Contacts %v, want %s expires 600", got, contact)
			}
			if req.Dest != "udp:"+remote || !strings.HasSuffix(req.Subject, ".out."+edgeID+".res.2xx") {
				t.Errorf("reply to %q on %q, want udp:%s from the edge the REGISTER came in on", req.Dest, req.Subject, remote)
			}
			via, err := rep.TopVia()
			if err != nil || via.Received != "198.51.100.7" || via.RPort != 40000 {
				t.Errorf("reply Via received %q rport %d (%v)", via.Received, via.RPort, err)
			}
			to, _ := rep.To()
			if to.Tag() == "" || rep.Value(sipmsg.HDate) == "" {
				t.Errorf("reply lacks a To tag or Date:\n%s", rep.Raw)
			}
			added := b.expect("added")[0]
			if added.AOR != "sip:alice@example.com" || added.AORKey != events.AORKey("sip:alice@example.com") ||
				added.Contact != contact || added.Q != 1 || added.CallID != u.callID || added.CSeq != u.cseq ||
				added.Received != "sip:198.51.100.7:40000;transport=udp" || added.Edge != edgeID ||
				added.UserAgent != "TestPhone/1.0" || added.ExpiresAt.IsZero() {
				t.Errorf("added event %+v", added)
			}
			bs := b.show("alice@example.com")
			if len(bs) != 1 || bs[0].Received != "udp:"+remote || bs[0].Transport != "udp" || bs[0].Edge != edgeID ||
				bs[0].UserAgent != "TestPhone/1.0" || bs[0].Expires < 599 || bs[0].Expires > 600 {
				t.Errorf("binding %+v", bs)
			}

			rep = u.register("Contact: <"+contact+">;expires=1200", "Expires: 600")
			if rep.StatusCode != 200 || contacts(t, rep)[contact] != 1200 {
				t.Fatalf("refresh: %s %v", status(rep), contacts(t, rep))
			}
			if ev := b.expect("refreshed")[0]; ev.CSeq != u.cseq {
				t.Errorf("refreshed event cseq %d, want %d", ev.CSeq, u.cseq)
			}

			rep = u.register()
			if rep.StatusCode != 200 || len(contacts(t, rep)) != 1 {
				t.Fatalf("query: %s %v", status(rep), contacts(t, rep))
			}

			rep = u.register("Contact: <"+contact+">", "Expires: 0")
			if rep.StatusCode != 200 || len(contacts(t, rep)) != 0 {
				t.Fatalf("unregister: %s %v", status(rep), contacts(t, rep))
			}
			if ev := b.expect("removed")[0]; ev.Contact != contact {
				t.Errorf("removed event %+v", ev)
			}
			if bs := b.show("alice@example.com"); bs != nil {
				t.Errorf("bindings after unregister: %+v", bs)
			}
			b.quiet(200 * time.Millisecond)
		})
	}
}

// TestPolicy covers the decisions of RFC 3261 §10.3 steps 5-7 that reach
// the wire: each row is one REGISTER after the setup rows.
func TestPolicy(t *testing.T) {
	b := newBench(t, "", func(c *registrar.Config) { authOff(c); c.MaxContacts = 2 })
	parent := t
	tests := []struct {
		name   string
		aor    string
		lines  []string
		status int
		reason string
		header string // a header line the reply must hold
		nAfter int    // bindings of the AOR after it
		events []string
	}{
		{"too brief: 423", "bob@example.com", []string{"Contact: <sip:bob@192.0.2.5>", "Expires: 30"}, 423, "Interval Too Brief", "Min-Expires: 60", 0, nil},
		{"too brief per contact", "bob@example.com", []string{"Contact: <sip:bob@192.0.2.5>;expires=59"}, 423, "Interval Too Brief", "Min-Expires: 60", 0, nil},
		{"shortened to max", "bob@example.com", []string{"Contact: <sip:bob@192.0.2.5>;expires=99999"}, 200, "OK", "", 1, []string{"added"}},
		{"too many in one REGISTER", "carol@example.com", []string{"Contact: <sip:c1@192.0.2.6>, <sip:c2@192.0.2.6>, <sip:c3@192.0.2.6>"}, 403, "Too many contacts", "", 0, nil},
		{"foreign domain", "dave@example.net", []string{"Contact: <sip:dave@192.0.2.7>"}, 403, "Domain not served here", "", 0, nil},
		{"star without Expires 0", "bob@example.com", []string{"Contact: *"}, 400, "Invalid Contact: * needs Expires: 0 and no other Contact", "", 1, nil},
		{"star with a contact", "bob@example.com", []string{"Contact: *, <sip:bob@192.0.2.5>", "Expires: 0"}, 400, "Invalid Contact: * needs Expires: 0 and no other Contact", "", 1, nil},
		{"bad q", "bob@example.com", []string{"Contact: <sip:bob@192.0.2.5>;q=2"}, 400, "Invalid q parameter in Contact", "", 1, nil},
		{"To without user", "example.com", []string{"Contact: <sip:x@192.0.2.5>"}, 400, "Invalid To: no user part", "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			defer func() { b.t = parent }()
			u := b.ua(tc.aor)
			rep := u.register(tc.lines...)
			if rep.StatusCode != tc.status || rep.Str(rep.Reason) != tc.reason {
				t.Errorf("reply %s, want %d %s", status(rep), tc.status, tc.reason)
			}
			if tc.header != "" && !strings.Contains(string(rep.Raw), "\r\n"+tc.header+"\r\n") {
				t.Errorf("reply lacks %q:\n%s", tc.header, rep.Raw)
			}
			if tc.status != 200 && len(contacts(t, rep)) != 0 {
				t.Errorf("a %d carries Contacts:\n%s", tc.status, rep.Raw)
			}
			if strings.Contains(tc.aor, "@") && domainOf(tc.aor) == domain {
				if got := len(b.show(tc.aor)); got != tc.nAfter {
					t.Errorf("%d bindings after, want %d", got, tc.nAfter)
				}
			}
			if len(tc.events) > 0 {
				b.expect(tc.events...)
			}
			b.quiet(50 * time.Millisecond)
		})
	}
	if bs := b.show("bob@example.com"); len(bs) != 1 || bs[0].Expires != 3600 {
		t.Errorf("expires beyond max_expires was not shortened to 3600: %+v", bs)
	}
}

// TestStar: Contact: * with Expires: 0 removes every binding (RFC 3261
// §10.3 step 6), one removed event each.
func TestStar(t *testing.T) {
	b := newBench(t, "", authOff)
	u := b.ua("alice@example.com")
	if rep := u.register("Contact: <sip:a1@192.0.2.4>, <sip:a2@192.0.2.4>;q=0.5"); rep.StatusCode != 200 || len(contacts(t, rep)) != 2 {
		t.Fatalf("register two: %s", status(rep))
	}
	b.expect("added", "added")
	rep := u.register("Contact: *", "Expires: 0")
	if rep.StatusCode != 200 || len(contacts(t, rep)) != 0 {
		t.Fatalf("star: %s %v", status(rep), contacts(t, rep))
	}
	b.expect("removed", "removed")
	if bs := b.show("alice@example.com"); bs != nil {
		t.Errorf("bindings after *: %+v", bs)
	}
}

// TestOutOfOrder: a REGISTER with the Call-ID of a binding and a CSeq not
// higher (a late duplicate, an unregister overtaken by a refresh) changes
// nothing and is answered 200 with the current bindings, as Kamailio does
// (RFC 3261 §10.3 step 7 aborts the update).
func TestOutOfOrder(t *testing.T) {
	b := newBench(t, "", authOff)
	u := b.ua("alice@example.com")
	const contact = "sip:alice@192.0.2.4"
	if rep := u.register("Contact: <" + contact + ">"); rep.StatusCode != 200 {
		t.Fatalf("register: %s", status(rep))
	}
	b.expect("added")
	tests := []struct {
		name  string
		cseq  uint32
		lines []string
	}{
		{"late unregister", u.cseq - 1, []string{"Contact: <" + contact + ">", "Expires: 0"}},
		{"late refresh", u.cseq - 5, []string{"Contact: <" + contact + ">;expires=120"}},
		{"same CSeq again", u.cseq, []string{"Contact: <" + contact + ">;expires=120"}},
		{"star with an old CSeq", u.cseq - 1, []string{"Contact: *", "Expires: 0"}},
	}
	for _, tc := range tests {
		rep := u.register(append(tc.lines, "CSeq: "+itoa(tc.cseq)+" REGISTER")...)
		if got := contacts(t, rep); rep.StatusCode != 200 || len(got) != 1 || got[contact] < 3599 {
			t.Errorf("%s: %s Contacts %v; want 200 with the binding unchanged (expires 3600)", tc.name, status(rep), got)
		}
	}
	b.quiet(200 * time.Millisecond)
	if bs := b.show("alice@example.com"); len(bs) != 1 || bs[0].Contact != contact || bs[0].CSeq != 101 {
		t.Errorf("bindings %+v", bs)
	}
}

// TestTooManyAcrossRegisters: max_contacts caps the AOR, not only one
// REGISTER: a second device beyond it gets 403, refreshes still pass.
func TestTooManyAcrossRegisters(t *testing.T) {
	b := newBench(t, "", func(c *registrar.Config) { authOff(c); c.MaxContacts = 2 })
	u1 := b.ua("alice@example.com")
	if rep := u1.register("Contact: <sip:a1@192.0.2.4>, <sip:a2@192.0.2.4>"); rep.StatusCode != 200 {
		t.Fatalf("two contacts: %s", status(rep))
	}
	b.expect("added", "added")
	u2 := b.ua("alice@example.com")
	if rep := u2.register("Contact: <sip:a3@192.0.2.5>"); rep.StatusCode != 403 || rep.Str(rep.Reason) != "Too many contacts" {
		t.Errorf("third device: %s, want 403 Too many contacts", status(rep))
	}
	if rep := u1.register("Contact: <sip:a1@192.0.2.4>"); rep.StatusCode != 200 || len(contacts(t, rep)) != 2 {
		t.Errorf("refresh at the cap: %s", status(rep))
	}
	b.expect("refreshed")
}

// TestTCPFlow: a REGISTER over TCP binds the connection ("tcp:<flow>"), and
// the reply goes to the edge that holds the flow.
func TestTCPFlow(t *testing.T) {
	b := newBench(t, "", authOff)
	u := b.ua("alice@example.com")
	u.transport, u.flow = "tcp", edgeID+"~7"
	rep, req := u.send(u.message("Contact: <sip:alice@192.0.2.4:5060;transport=tcp>"))
	if rep.StatusCode != 200 {
		t.Fatalf("register: %s", status(rep))
	}
	if req.Dest != "tcp:"+remote+"/"+edgeID+"~7" || !strings.Contains(req.Subject, ".out."+edgeID+".res.") {
		t.Errorf("reply to %q on %q, want the flow, from the edge holding it", req.Dest, req.Subject)
	}
	if bs := b.show("alice@example.com"); len(bs) != 1 || bs[0].Received != "tcp:"+edgeID+"~7" || bs[0].Transport != "tcp" {
		t.Errorf("binding %+v", bs)
	}
	if ev := b.expect("added")[0]; ev.Received != "" {
		t.Errorf("received of a TCP flow: %q", ev.Received)
	}
}

// TestExpiry: a binding that is not refreshed expires: reg.contact.expired,
// and it is gone.
func TestExpiry(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			b := newBench(t, stateURL(t, engine), authOff)
			u := b.ua("alice@example.com")
			if rep := u.register("Contact: <sip:alice@192.0.2.4>", "Expires: 60"); rep.StatusCode != 200 {
				t.Fatalf("register: %s", status(rep))
			}
			b.expect("added")
			b.clock.Shift(61 * time.Second)
			ev := b.expect("expired")[0]
			if ev.Contact != "sip:alice@192.0.2.4" || ev.CallID != u.callID {
				t.Errorf("expired event %+v", ev)
			}
			if bs := b.show("alice@example.com"); bs != nil {
				t.Errorf("bindings after expiry: %+v", bs)
			}
			dump, err := b.api.ULDump(b.ctx, regapi.ULDumpRequest{})
			if err != nil || len(dump.AORs) != 0 {
				t.Errorf("dump after expiry: %+v %v", dump, err)
			}
			b.quiet(200 * time.Millisecond)
		})
	}
}

// TestRetransmission: the same REGISTER reaches the registrar twice (the
// UA retransmitted it to another edge, which could not answer it): it gets
// the same reply, byte for byte, and is neither taken for a replayed
// nonce-count nor applied twice (one added event).
func TestRetransmission(t *testing.T) {
	b := newBench(t, "", nil)
	b.addUser("alice@example.com", "alice-secret")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	first := u.register("Contact: <sip:alice@192.0.2.4>")
	if first.StatusCode != 401 {
		t.Fatalf("no credentials: %s", status(first))
	}
	raw := u.message("Contact: <sip:alice@192.0.2.4>", u.authorization(challengeOf(t, first, "MD5")))
	rep, _ := u.send(raw)
	if rep.StatusCode != 200 || len(contacts(t, rep)) != 1 {
		t.Fatalf("REGISTER: %s", status(rep))
	}
	again, _ := u.send(raw)
	if string(again.Raw) != string(rep.Raw) {
		t.Fatalf("retransmission answered\n%s\nwant the first reply\n%s", again.Raw, rep.Raw)
	}
	b.expect("added")
	b.quiet(300 * time.Millisecond)
}

// TestStateSurvivesRestart: subscribers, bindings and nonces are in Redis;
// a new registrar on it (another replica, or after a restart) carries on.
func TestStateSurvivesRestart(t *testing.T) {
	b := newBench(t, stateURL(t, "redis"), nil)
	b.addUser("alice@example.com", "alice-secret")
	if _, err := b.api.ULAdd(b.ctx, regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:gw@192.0.2.9", Expires: 0}); err != nil {
		t.Fatal(err)
	}
	b.expect("added")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	first := u.register("Contact: <sip:alice@192.0.2.4>")
	ch := challengeOf(t, first, "MD5")

	b.stop()
	b.start()

	// The nonce minted before the restart is still good (shared secret).
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(ch)); rep.StatusCode != 200 {
		t.Fatalf("REGISTER after restart: %s", status(rep))
	}
	b.expect("added")
	if bs := b.show("pstn@example.com"); len(bs) != 1 || !bs[0].Permanent {
		t.Errorf("gateway after restart: %+v", bs)
	}
	if bs := b.show("alice@example.com"); len(bs) != 1 {
		t.Errorf("alice after restart: %+v", bs)
	}
	list, err := b.api.UserList(b.ctx, regapi.UserListRequest{})
	if err != nil || len(list.Users) != 1 || list.Users[0].AOR != "alice@example.com" {
		t.Errorf("users after restart: %+v %v", list, err)
	}
	// The nonce-count record survived too: the same nc is a replay.
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorizationNC(ch, 1)); rep.StatusCode != 401 {
		t.Errorf("replayed nc after restart: %s, want 401", status(rep))
	}
}

// TestDropsOldEvents: a REGISTER older than Timer F is not applied (its UA
// has given up on it).
func TestDropsOldEvents(t *testing.T) {
	b := newBench(t, "", authOff)
	b.clock.Shift(time.Minute) // the registrar is a minute "late"
	u := b.ua("alice@example.com")
	u.publish(u.message("Contact: <sip:alice@192.0.2.4>"))
	select {
	case req := <-b.edge.ch:
		t.Fatalf("an old REGISTER was answered:\n%s", req.Raw)
	case <-time.After(500 * time.Millisecond):
	}
	b.clock.Shift(0)
	if bs := b.show("alice@example.com"); bs != nil {
		t.Errorf("an old REGISTER was applied: %+v", bs)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
