package ctd_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd"
)

// referScript: the caller's phone rings and answers (dialog d-caller),
// accepts REFER with 202.
func referScript(n int, req tmapi.UAC) []tmapi.Response {
	switch req.Method {
	case "INVITE":
		return []tmapi.Response{{Status: 180, Reason: "Ringing"}, final(200, "OK", "d-caller")}
	case "REFER":
		return []tmapi.Response{final(202, "Accepted", req.DialogID)}
	case "BYE":
		return []tmapi.Response{final(200, "OK", req.DialogID)}
	}
	return []tmapi.Response{final(501, "Not Implemented", "")}
}

// TestReferFlow: POST /v1/calls, the caller answers, REFER 202, NOTIFYs
// 100/180/200 with bare-LF sipfrags; the SSE stream and the ctd CloudEvents
// show trying -> caller_answered -> referred -> callee_ringing ->
// connected, and the caller gets the BYE (RFC 5589 §6.1).
func TestReferFlow(t *testing.T) {
	w := newWorld(t)
	tm := newScriptedTM(t, w.url, referScript)
	s, _ := w.replica(t, "ctd-1", nil)
	srv := serve(t, s)
	tok, err := s.CreateToken(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := testenv.Connect(t, w.url)
	evs := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("ctd.>", evs); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, "POST", srv.URL+"/v1/calls", tok, `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`)
	if code != 201 {
		t.Fatalf("POST: %d %v", code, body)
	}
	id := body["id"].(string)
	stream := sse(t, srv.URL+"/v1/calls/"+id+"/events", tok)
	expectSSE(t, stream, "trying 0", "caller_answered 200", "referred 202")
	if inv := tm.sent("INVITE"); len(inv) != 1 || inv[0].RequestURI != "sip:alice@example.com" || !strings.Contains(inv[0].Body, "a=inactive") || inv[0].Owner != ctd.Owner {
		t.Fatalf("INVITE to the caller: %+v", inv)
	}
	if ref := tm.sent("REFER"); len(ref) != 1 || ref[0].DialogID != "d-caller" || ref[0].Headers[0] != "Refer-To: <sip:bob@example.com>" {
		t.Fatalf("REFER: %+v", ref)
	}
	frag := []string{"Event: refer", "Content-Type: message/sipfrag"}
	tm.request(t, "d-caller", "NOTIFY", append(frag, "Subscription-State: active;expires=60"), "SIP/2.0 100 Trying\n")
	tm.request(t, "d-caller", "NOTIFY", append(frag, "Subscription-State: active;expires=60"), "SIP/2.0 180 Ringing\n")
	expectSSE(t, stream, "callee_ringing 180")
	tm.request(t, "d-caller", "NOTIFY", append(frag, "Subscription-State: terminated;reason=noresource"), "SIP/2.0 200 OK\n")
	expectSSE(t, stream, "connected 200")
	testenv.Eventually(t, 5*time.Second, func() bool { return len(tm.sent("BYE")) == 1 }, "BYE to the caller")
	if b := tm.sent("BYE")[0]; b.DialogID != "d-caller" {
		t.Fatalf("BYE in %q", b.DialogID)
	}
	// NOTIFY after our BYE: answered by tm, changes nothing.
	tm.request(t, "d-caller", "NOTIFY", append(frag, "Subscription-State: terminated"), "SIP/2.0 200 OK\n")
	var phases []string
	for len(phases) < 5 {
		select {
		case m := <-evs:
			var p events.CtdProgress
			if err := json.Unmarshal(m.Data, &p); err != nil {
				t.Fatal(err)
			}
			if m.Subject != "ctd."+p.Phase+"."+id || m.Header.Get("ce-type") != events.TypeCtdProgress {
				t.Fatalf("event on %s type %s", m.Subject, m.Header.Get("ce-type"))
			}
			phases = append(phases, p.Phase)
		case <-time.After(5 * time.Second):
			t.Fatalf("ctd events %v", phases)
		}
	}
	if got := strings.Join(phases, " "); got != "trying caller_answered referred callee_ringing connected" {
		t.Fatalf("ctd events %q", got)
	}
	time.Sleep(200 * time.Millisecond) // the late NOTIFY had its chance
	// A client that reconnects with Last-Event-ID gets the rest, then the
	// stream ends (the call is over).
	rest := sse(t, srv.URL+"/v1/calls/"+id+"/events", tok, "3")
	expectSSE(t, rest, "callee_ringing 180", "connected 200")
	if _, open := <-rest; open {
		t.Fatal("the SSE stream of a finished call did not end")
	}
	code, body = do(t, "GET", srv.URL+"/v1/calls/"+id, tok, "")
	if code != 200 || body["phase"] != "connected" || len(body["progress"].([]any)) != 5 || len(tm.sent("BYE")) != 1 {
		t.Fatalf("GET: %d %v, BYEs %d", code, body, len(tm.sent("BYE")))
	}
}

// TestTakeover: replica A sends the REFER and dies (Abandon: no Shutdown,
// its answer is lost); replica B claims the call from the deadline index
// in Redis, sends the REFER again and finishes the call on the NOTIFY.
func TestTakeover(t *testing.T) {
	w := newWorld(t)
	tm := newScriptedTM(t, w.url, func(n int, req tmapi.UAC) []tmapi.Response {
		if req.Method == "REFER" && n == 1 {
			return nil // the first REFER's answer goes to the dead replica: lost
		}
		return referScript(n, req)
	})
	fast := func(c *ctd.Config) { c.ReferTimeout = 1500 * time.Millisecond }
	a, _ := w.replica(t, "ctd-a", fast)
	tok, _ := a.CreateToken(context.Background(), "alice@example.com")
	srvA := serve(t, a)
	code, body := do(t, "POST", srvA.URL+"/v1/calls", tok, `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`)
	if code != 201 {
		t.Fatalf("POST: %d %v", code, body)
	}
	id := body["id"].(string)
	testenv.Eventually(t, 5*time.Second, func() bool { return len(tm.sent("REFER")) == 1 }, "first REFER")
	a.Abandon()
	b, _ := w.replica(t, "ctd-b", fast)
	srvB := serve(t, b)
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, v := do(t, "GET", srvB.URL+"/v1/calls/"+id, tok, "")
		return v["phase"] == "referred"
	}, "replica B takes the call over and the REFER is accepted")
	if r := tm.sent("REFER"); len(r) != 2 || r[1].ID == r[0].ID || r[1].DialogID != "d-caller" {
		t.Fatalf("REFERs %+v", r)
	}
	tm.request(t, "d-caller", "NOTIFY", []string{"Event: refer", "Subscription-State: terminated"}, "SIP/2.0 200 OK\r\n")
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, v := do(t, "GET", srvB.URL+"/v1/calls/"+id, tok, "")
		return v["phase"] == "connected"
	}, "connected through replica B")
	testenv.Eventually(t, 5*time.Second, func() bool { return len(tm.sent("BYE")) == 1 }, "one BYE to the caller")
}
