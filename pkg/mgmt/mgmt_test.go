package mgmt_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestDiscover registers two instances of one service on a real NATS
// server and finds both with their metadata, in-flight work, last error
// (logged through Instance.Handler) and endpoint schemas; a stopped one is
// gone from the next Discover.
func TestDiscover(t *testing.T) {
	ns := testenv.NATS(t)
	nc, _ := testenv.Connect(t, ns.ClientURL())
	var logs bytes.Buffer
	var svcs []micro.Service
	for i, id := range []string{"tm-a", "tm-b"} {
		inst := mgmt.New("tm", id)
		n := int64(i + 3)
		inst.SetInFlight(func() int64 { return n })
		inst.SetExtra(func() any { return map[string]int{"cached": int(n)} })
		log := inst.Logger(slog.New(slog.NewTextHandler(&logs, nil)))
		if i == 1 {
			log.Error("tm: commit", "err", errors.New("redis down"))
		}
		svc, err := micro.AddService(nc, inst.Config(micro.Config{Name: "sipbus-tm", Description: "test tm"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.AddEndpoint("command", micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte("{}")) }),
			micro.WithEndpointSubject("sipbus.tm.command"), mgmt.Schema("https://sipbus.dev/schemas/sipbus.tm.command.v1.json")); err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	if !strings.Contains(logs.String(), "redis down") {
		t.Fatalf("the wrapped logger did not log: %q", logs.String())
	}
	ctx := context.Background()
	found, err := mgmt.Discover(ctx, nc, "", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("found %d instances, want 2: %+v", len(found), found)
	}
	for i, f := range found {
		want := []string{"tm-a", "tm-b"}[i]
		if f.Service != "tm" || f.ID != want || f.Version != mgmt.Version || f.Host == "" || f.PID == "" || f.Started.IsZero() {
			t.Errorf("instance %d: %+v", i, f)
		}
		if f.Status.InFlight != int64(i+3) {
			t.Errorf("%s: in_flight %d, want %d", f.ID, f.Status.InFlight, i+3)
		}
		if len(f.Endpoints) != 1 || f.Endpoints[0].Subject != "sipbus.tm.command" || !strings.HasSuffix(f.Endpoints[0].Schema, "sipbus.tm.command.v1.json") {
			t.Errorf("%s: endpoints %+v", f.ID, f.Endpoints)
		}
		if !strings.Contains(string(f.Counters), `"cached"`) {
			t.Errorf("%s: counters %s", f.ID, f.Counters)
		}
	}
	if found[0].Status.LastError != "" || found[1].Status.LastError != "tm: commit: redis down" {
		t.Errorf("last errors %q, %q", found[0].Status.LastError, found[1].Status.LastError)
	}
	if err := svcs[0].Stop(); err != nil {
		t.Fatal(err)
	}
	found, err = mgmt.Discover(ctx, nc, "sipbus-tm", 300*time.Millisecond)
	if err != nil || len(found) != 1 || found[0].ID != "tm-b" {
		t.Fatalf("after stopping tm-a: %+v, %v", found, err)
	}
	_ = svcs[1].Stop()
	if _, err := mgmt.Discover(ctx, nc, "", 200*time.Millisecond); !errors.Is(err, mgmt.ErrNoInstances) {
		t.Fatalf("nothing running: err %v, want ErrNoInstances", err)
	}
	if _, err := mgmt.Discover(ctx, nc, "bad name", 100*time.Millisecond); err == nil {
		t.Fatal("a service name with a space: no error")
	}
}
