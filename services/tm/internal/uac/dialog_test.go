package uac

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
)

type committed struct {
	store.Store
	c *store.Committer
}

func (s committed) Commit(ctx context.Context, ops []store.Op) ([]store.OpResult, error) {
	return s.c.Commit(ctx, ops)
}

// TestDialogRecords runs on the in-memory engine and on a real Redis:
// a dialog is saved once, read back, its CSeq taken by two replicas at
// once without a duplicate (compare-and-set), and deleted.
func TestDialogRecords(t *testing.T) {
	for _, engine := range []string{"memory", "redis"} {
		t.Run(engine, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			url := ""
			if engine == "redis" {
				url = testenv.RedisURL(t)
			}
			st, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c := store.NewCommitter(st, store.CommitterOptions{})
			defer c.Close()
			d := Dialogs{S: committed{st, c}}

			callID := sipmsg.NewTag() + "@test"
			dl := &Dialog{ID: DialogID(callID, "ours", "theirs"), CallID: callID, LocalTag: "ours", RemoteTag: "theirs",
				Local: "<sip:ctd@example.com>;tag=ours", Remote: "<sip:alice@example.com>;tag=theirs", LocalSeq: 1, InviteSeq: 1,
				Target: "sip:alice@192.0.2.4:5060", Routes: []string{"<sip:p1.example.com;lr>"}, Owner: "ctd", Method: "INVITE"}
			if ok, err := d.Save(ctx, dl, 0); !ok || err != nil {
				t.Fatalf("save: %v %v", ok, err)
			}
			if ok, err := d.Save(ctx, dl, 0); ok || err != nil {
				t.Fatalf("a second create succeeded: %v %v", ok, err)
			}
			got, _, err := d.Load(ctx, dl.ID)
			if err != nil || got.Target != dl.Target || got.Routes[0] != dl.Routes[0] || got.Owner != "ctd" {
				t.Fatalf("load: %+v %v", got, err)
			}
			var mu sync.Mutex
			seen := map[uint32]bool{}
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 10 {
						n, err := d.NextSeq(ctx, dl.ID)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if seen[n.LocalSeq] {
							t.Errorf("CSeq %d taken twice", n.LocalSeq)
						}
						seen[n.LocalSeq] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(seen) != 20 || !seen[2] || !seen[21] {
				t.Errorf("CSeqs %v, want 2..21", seen)
			}
			if err := d.Delete(ctx, dl.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.Load(ctx, dl.ID); !errors.Is(err, ErrNoDialog) {
				t.Errorf("after delete: %v", err)
			}
		})
	}
}

// TestNewDialog: the dialog a 2xx creates (RFC 3261 §12.1.2): route set =
// the Record-Route values reversed, remote target = the 2xx's Contact,
// remote tag = its To tag; and the next request in it (§12.2.1.1).
func TestNewDialog(t *testing.T) {
	rq := &Req{Method: "INVITE", RURI: "sip:alice@example.com", From: "<sip:ctd@example.com>;tag=ours", To: "<sip:alice@example.com>",
		CallID: "c1@x", CSeq: 4, Contact: "<sip:sipbus@192.0.2.1:5060>"}
	raw := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=" + BranchPrefix + "x\r\n" +
		"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\nRecord-Route: <sip:p3.example.com;lr>\r\n" +
		"From: <sip:ctd@example.com>;tag=ours\r\nTo: <sip:alice@example.com>;tag=theirs\r\nCall-ID: c1@x\r\nCSeq: 4 INVITE\r\n" +
		"Contact: <sip:alice@192.0.2.4:5062;transport=udp>\r\nContent-Length: 0\r\n\r\n"
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := newDialog(rq, m, "ours", "ctd", "udp:192.0.2.4:5062", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"<sip:p3.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"}
	if len(dl.Routes) != 3 || dl.Routes[0] != want[0] || dl.Routes[1] != want[1] || dl.Routes[2] != want[2] {
		t.Errorf("route set %q, want %q", dl.Routes, want)
	}
	if dl.Target != "sip:alice@192.0.2.4:5062;transport=udp" || dl.RemoteTag != "theirs" || dl.InviteSeq != 4 || dl.Dest != "" ||
		dl.ID != DialogID("c1@x", "ours", "theirs") || dl.Remote != "<sip:alice@example.com>;tag=theirs" {
		t.Errorf("dialog %+v", dl)
	}
	bye := inDialog(dl, "BYE", 5)
	b, err := sipmsg.Parse(bye.Wire("udp", "192.0.2.1:5060", BranchPrefix+"y"), sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	to, _ := b.To()
	if b.Str(b.RequestURI) != dl.Target || to.Tag() != "theirs" || len(b.Values(sipmsg.HRoute)) != 3 || b.Values(sipmsg.HRoute)[0] != want[0] {
		t.Errorf("BYE in the dialog:\n%s", b.Raw)
	}
}
