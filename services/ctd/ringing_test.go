package ctd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redislog"
	"github.com/sipbus/sipbus/services/ctd"
)

// ringLookups are the store lookups of RingKeys among cmds.
func ringLookups(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if strings.HasPrefix(c, "get ") && strings.Contains(c, ":ctd:dialog:ring:") {
			out = append(out, c)
		}
	}
	return out
}

// publishRinging publishes tm's call.ringing of a call from caller to callee.
func publishRinging(t *testing.T, js jetstream.JetStream, caller, callee string) {
	t.Helper()
	callID := bus.NewID()
	ck := sipmsg.CallKey(callID)
	ev, err := bus.NewEvent("", ck, ck, &events.CallRinging{CallID: callID, CallKey: ck,
		Caller: events.Party{URI: caller}, Callee: events.Party{URI: callee}, Status: 180, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, "sipbus/tm/test", bus.PublisherOptions{})
	if err := pub.PublishSync(testenv.Context(t, 5*time.Second), bus.SubjectCall(bus.CallEventRinging, ck), ev); err != nil {
		t.Fatal(err)
	}
}

// slowTick keeps the timer loop of a replica quiet: its Redis commands
// are then only those of the events it handles.
func slowTick(c *ctd.Config) { c.Tick = time.Hour }

// TestRingingAcrossReplicas: replica 1 starts a click-to-dial and dies
// once the REFER is accepted; tm's call.ringing of alice's call to bob
// reaches replica 2, which moves the call to callee_ringing, whether it
// heard replica 1's announcement or started after it (and read the key
// from Redis). The call.ringing of other calls, before it, cost replica 2
// no Redis command at all.
func TestRingingAcrossReplicas(t *testing.T) {
	for _, c := range []struct {
		name  string
		early bool // replica 2 runs before the call starts
	}{
		{"replica 2 heard the announcement", true},
		{"replica 2 started after the call", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			newScriptedTM(t, w.url, referScript)
			nc, js := testenv.Connect(t, w.url)
			var r2 *ctd.Service
			log := &redislog.Log{}
			if c.early {
				r2, _, _ = w.replicaOn(t, "ctd-2", slowTick, nil, log)
			}
			r1, st1, nc1 := w.replicaOn(t, "ctd-1", nil, nil, nil)
			ctx := testenv.Context(t, 10*time.Second)
			call, err := r1.Dial(ctx, ctd.NewID(), "alice@example.com", "sip:alice@example.com", "sip:bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 5*time.Second, func() bool {
				s, err := st1.Load(ctx, call.ID)
				return err == nil && s.Phase == "referred"
			}, "call %s referred", call.ID)
			if !c.early {
				r2, _, _ = w.replicaOn(t, "ctd-2", slowTick, nil, log)
			}
			r1.Abandon() // call.ringing goes to replica 2 only
			if err := nc1.Flush(); err != nil {
				t.Fatal(err)
			}
			ringing := make(chan *nats.Msg, 1)
			if _, err := nc.ChanSubscribe(bus.SubjectCtd("callee_ringing", call.ID), ringing); err != nil {
				t.Fatal(err)
			}
			before := log.Mark()
			for i := range 20 {
				publishRinging(t, js, fmt.Sprintf("sip:u%d@example.com", i), "sip:bob@example.com")
			}
			publishRinging(t, js, "sip:alice@example.com", "sip:bob@example.com")
			select {
			case <-ringing:
			case <-time.After(10 * time.Second):
				t.Fatal("no ctd.callee_ringing: replica 2 did not follow the call")
			}
			testenv.Eventually(t, 5*time.Second, func() bool {
				s, err := st1.Load(ctx, call.ID)
				return err == nil && s.Phase == "callee_ringing"
			}, "call %s callee_ringing", call.ID)
			// One subscription handles call.ringing in order: the 20
			// others came first, and sent nothing to Redis.
			cmds := log.Commands(before)
			if want := "get sipbus:ctd:dialog:ring:alice@example.com>bob@example.com"; len(cmds) == 0 || cmds[0] != want {
				t.Fatalf("replica 2's Redis commands %q, want %q first", cmds, want)
			}
			if l := ringLookups(cmds); len(l) != 1 {
				t.Fatalf("RingKey lookups %q, want alice's only", l)
			}
			if v, err := r2.Get(ctx, call.ID); err != nil || v.Phase != "callee_ringing" {
				t.Fatalf("replica 2 reads %s %v", v.Phase, err)
			}
		})
	}
}

// TestRingingAfterReconnect: a replica that reconnected to NATS may have
// missed announcements; it looks every call.ringing up until its timer
// loop reads the keys from Redis again (never here: the tick is an hour).
func TestRingingAfterReconnect(t *testing.T) {
	w := newWorld(t)
	_, js := testenv.Connect(t, w.url)
	log := &redislog.Log{}
	_, _, nc := w.replicaOn(t, "ctd-1", slowTick, nil, log)
	if err := nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return nc.Stats().Reconnects == 1 && nc.IsConnected() }, "reconnected")
	publishRinging(t, js, "sip:dave@example.com", "sip:bob@example.com")
	testenv.Eventually(t, 5*time.Second, func() bool { return len(ringLookups(log.Commands(0))) > 0 }, "a lookup after the reconnect")
	if l := ringLookups(log.Commands(0)); len(l) != 1 || !strings.HasSuffix(l[0], "ring:dave@example.com>bob@example.com") {
		t.Fatalf("RingKey lookups %q, want dave's", l)
	}
}

// TestRingAnnouncementOutsideTheStream: the announcements are core NATS
// only; the stream stores none.
func TestRingAnnouncementOutsideTheStream(t *testing.T) {
	w := newWorld(t)
	newScriptedTM(t, w.url, referScript)
	_, js := testenv.Connect(t, w.url)
	r1, _, _ := w.replicaOn(t, "ctd-1", nil, nil, nil)
	if _, err := r1.Dial(testenv.Context(t, 5*time.Second), ctd.NewID(), "alice@example.com", "sip:alice@example.com", "sip:bob@example.com"); err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(testenv.Context(t, 5*time.Second), bus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(testenv.Context(t, 5*time.Second), jetstream.WithSubjectFilter(ctd.SubjectRing))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 0 {
		t.Fatalf("the stream holds %v", info.State.Subjects)
	}
}
