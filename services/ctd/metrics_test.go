package ctd_test

import (
	"context"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

// ctdCalls reads sipbus_ctd_calls_total by outcome from a registry.
func ctdCalls(t *testing.T, m *obs.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sipbus_ctd_calls_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] += mt.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestCallsByOutcome: two replicas share the calls (Redis) and the
// in-dialog requests (NATS queue group); each click-to-dial that reaches a
// terminal phase is counted exactly once over both, by outcome, however
// many requests arrive after it (a second DELETE, a NOTIFY after the BYE).
func TestCallsByOutcome(t *testing.T) {
	w := newWorld(t)
	var script func(n int, req tmapi.UAC) []tmapi.Response
	tm := newScriptedTM(t, w.url, func(n int, req tmapi.UAC) []tmapi.Response { return script(n, req) })
	m1, m2 := obs.NewMetrics("ctd"), obs.NewMetrics("ctd")
	s1, _ := w.replicaWith(t, "ctd-1", nil, m1)
	w.replicaWith(t, "ctd-2", nil, m2)
	srv := serve(t, s1)
	tok, _ := s1.CreateToken(context.Background(), "alice@example.com")
	frag := []string{"Event: refer", "Content-Type: message/sipfrag", "Subscription-State: active"}
	ringing := func(n int, req tmapi.UAC) []tmapi.Response { return []tmapi.Response{{Status: 180, Reason: "Ringing"}} }

	dial := func(t *testing.T) string {
		code, body := do(t, "POST", srv.URL+"/v1/calls", tok, `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`)
		if code != 201 {
			t.Fatalf("POST: %d %v", code, body)
		}
		return body["id"].(string)
	}
	total := func() map[string]float64 {
		a, b := ctdCalls(t, m1), ctdCalls(t, m2)
		for k, v := range b {
			a[k] += v
		}
		return a
	}
	steps := []struct {
		name  string
		sc    func(n int, req tmapi.UAC) []tmapi.Response
		drive func(t *testing.T, id string)
		phase string
	}{
		{"connected", referScript, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "referred")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 200 OK\r\n")
			waitPhase(t, srv.URL, tok, id, "connected")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 200 OK\r\n") // a late repeat
		}, "connected"},
		{"failed", referScript, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "referred")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 486 Busy Here\r\n")
		}, "failed"},
		{"cancelled", ringing, func(t *testing.T, id string) {
			for range 2 { // the second DELETE finds it cancelled already
				if code, b := do(t, "DELETE", srv.URL+"/v1/calls/"+id, tok, ""); code != 200 || b["phase"] != "cancelled" {
					t.Fatalf("DELETE: %d %v", code, b)
				}
			}
		}, "cancelled"},
	}
	want := map[string]float64{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			script = st.sc
			id := dial(t)
			st.drive(t, id)
			waitPhase(t, srv.URL, tok, id, st.phase)
			want[st.phase]++
			testenv.Eventually(t, 5*time.Second, func() bool { return total()[st.phase] >= want[st.phase] },
				"sipbus_ctd_calls_total{outcome=%q} not counted", st.phase)
			time.Sleep(300 * time.Millisecond) // late requests had their chance to count twice
			got := total()
			for k, v := range want {
				if got[k] != v {
					t.Errorf("sipbus_ctd_calls_total{outcome=%q} = %v over both replicas, want %v (all: %v)", k, got[k], v, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
		})
	}
}
