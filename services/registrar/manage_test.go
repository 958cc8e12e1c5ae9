package registrar_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
)

func qv(v float64) *float64 { return &v }

// wantErr checks that err is a *regapi.Error with status and a reason
// holding each part.
func wantErr(t *testing.T, what string, err error, status int, parts ...string) {
	t.Helper()
	var e *regapi.Error
	if !errors.As(err, &e) || e.Status != status {
		t.Errorf("%s: %v; want status %d", what, err, status)
		return
	}
	for _, p := range parts {
		if !strings.Contains(e.Reason, p) {
			t.Errorf("%s: reason %q does not hold %q", what, e.Reason, p)
		}
	}
}

// TestManageUsers covers user add, passwd, list and rm with their error
// cases, on both engines.
func TestManageUsers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			b := newBench(t, stateURL(t, engine), nil)
			ctx, api := b.ctx, b.api
			const pw = "alice-secret"

			rep, err := api.UserAdd(ctx, regapi.UserAddRequest{AOR: "sip:alice@EXAMPLE.com;transport=tcp", Password: pw, Email: "alice@example.com", Name: "Alice Liddell"})
			if err != nil {
				t.Fatal(err)
			}
			u := rep.User
			if u == nil || u.AOR != "alice@example.com" || !u.Enabled || u.Name != "Alice Liddell" || u.Email != "alice@example.com" ||
				u.Created.IsZero() || u.Updated.IsZero() {
				t.Errorf("added user %+v", u)
			}
			s, err := b.dir.Get(ctx, "alice@example.com")
			if err != nil || s.HA1MD5 != digest.HA1(digest.MD5, "alice", domain, pw) || s.HA1SHA256 != digest.HA1(digest.SHA256, "alice", domain, pw) {
				t.Errorf("stored subscriber %+v %v: HA1 is not of realm %s", s, err, domain)
			}

			// The raw reply never carries a password or an HA1.
			raw, err := b.nc.Request(regapi.SubjectUserAdd, []byte(`{"aor":"bob@example.com","password":"bob-secret"}`), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if low := strings.ToLower(string(raw.Data)); strings.Contains(low, "ha1") || strings.Contains(low, "secret") || !strings.Contains(low, `"status":200`) {
				t.Errorf("user add reply: %s", raw.Data)
			}

			adds := []struct {
				name   string
				req    regapi.UserAddRequest
				status int
				parts  []string
			}{
				{"exists", regapi.UserAddRequest{AOR: "alice@example.com", Password: pw}, 409, []string{`aor: "alice@example.com" already exists`}},
				{"not a SIP URI", regapi.UserAddRequest{AOR: "sip:@x", Password: pw}, 400, []string{`aor: "sip:@x" is not a SIP URI`}},
				{"no aor", regapi.UserAddRequest{Password: pw}, 400, []string{"aor: required"}},
				{"foreign domain", regapi.UserAddRequest{AOR: "eve@example.net", Password: pw}, 400, []string{`aor: domain "example.net"`, "not a local domain", "example.com"}},
				{"short password", regapi.UserAddRequest{AOR: "carol@example.com", Password: "12345"}, 400, []string{"password: 5 characters: want 6 to 128"}},
				{"no password", regapi.UserAddRequest{AOR: "carol@example.com"}, 400, []string{"password: required"}},
				{"bad email", regapi.UserAddRequest{AOR: "carol@example.com", Password: pw, Email: "Carol <carol@example.com>"}, 400, []string{`email: "Carol <carol@example.com>" is not a bare e-mail address`}},
				{"control in name", regapi.UserAddRequest{AOR: "carol@example.com", Password: pw, Name: "Carol\r\nX-Injected: 1"}, 400, []string{`name: "Carol\r\nX-Injected: 1" has control characters`}},
			}
			for _, a := range adds {
				rep, err := api.UserAdd(ctx, a.req)
				wantErr(t, "user add "+a.name, err, a.status, a.parts...)
				if rep != nil && (rep.User != nil || strings.Contains(rep.Reason, "12345")) {
					t.Errorf("user add %s: reply %+v", a.name, rep)
				}
			}
			if _, err := b.dir.Get(ctx, "carol@example.com"); err == nil {
				t.Error("a refused user add stored carol")
			}

			// passwd
			prev := s
			if rep, err := api.UserPasswd(ctx, regapi.UserPasswdRequest{AOR: "alice@example.com", Password: "new-secret"}); err != nil || rep.User == nil || rep.User.AOR != "alice@example.com" {
				t.Fatalf("user passwd: %+v %v", rep, err)
			}
			if s, _ := b.dir.Get(ctx, "alice@example.com"); s.HA1MD5 != digest.HA1(digest.MD5, "alice", domain, "new-secret") || s.HA1MD5 == prev.HA1MD5 || !s.Created.Equal(prev.Created) {
				t.Errorf("after passwd: %+v", s)
			}
			_, err = api.UserPasswd(ctx, regapi.UserPasswdRequest{AOR: "zed@example.com", Password: "zed-secret"})
			wantErr(t, "passwd unknown", err, 404, `aor: no subscriber "zed@example.com"`)
			_, err = api.UserPasswd(ctx, regapi.UserPasswdRequest{AOR: "alice@example.com", Password: "x"})
			wantErr(t, "passwd short", err, 400, "password: 1 characters")
			_, err = api.UserPasswd(ctx, regapi.UserPasswdRequest{AOR: "alice", Password: "long-enough"})
			wantErr(t, "passwd bad aor", err, 400, `aor: "alice" is not a SIP URI`)

			// set: missed-call mail and time zone (issue 14)
			if !u.MissedCallEmail || u.TZ != "" {
				t.Errorf("added user: missed_call_email %v tz %q, want on and UTC", u.MissedCallEmail, u.TZ)
			}
			off, tz := false, "Europe/Paris"
			set, err := api.UserSet(ctx, regapi.UserSetRequest{AOR: "sip:alice@example.com", MissedCallEmail: &off, TZ: &tz})
			if err != nil || set.User == nil || set.User.MissedCallEmail || set.User.TZ != tz || set.User.Email != "alice@example.com" || set.User.Name != "Alice Liddell" {
				t.Fatalf("user set: %+v %v", set, err)
			}
			if s, _ := b.dir.Get(ctx, "alice@example.com"); !s.MissedCallOptOut || s.TZ != tz || s.HA1MD5 == "" {
				t.Errorf("after set: %+v", s)
			}
			on, email := true, ""
			if set, err := api.UserSet(ctx, regapi.UserSetRequest{AOR: "alice@example.com", MissedCallEmail: &on, Email: &email}); err != nil ||
				set.User.Email != "" || set.User.MissedCallEmail {
				t.Errorf("user set on, no e-mail: %+v %v (no e-mail, so no missed-call mail)", set, err)
			}
			email = "alice@example.com"
			if set, err := api.UserSet(ctx, regapi.UserSetRequest{AOR: "alice@example.com", Email: &email}); err != nil || !set.User.MissedCallEmail {
				t.Errorf("user set e-mail: %+v %v", set, err)
			}
			bad := "Mars/Olympus"
			_, err = api.UserSet(ctx, regapi.UserSetRequest{AOR: "alice@example.com", TZ: &bad})
			wantErr(t, "set bad tz", err, 400, `tz: "Mars/Olympus" is not an IANA time zone`)
			_, err = api.UserSet(ctx, regapi.UserSetRequest{AOR: "alice@example.com"})
			wantErr(t, "set nothing", err, 400, "nothing to change")
			_, err = api.UserSet(ctx, regapi.UserSetRequest{AOR: "zed@example.com", TZ: &tz})
			wantErr(t, "set unknown", err, 404, `aor: no subscriber "zed@example.com"`)
			_, err = api.UserAdd(ctx, regapi.UserAddRequest{AOR: "dan@example.com", Password: pw, TZ: "Local"})
			wantErr(t, "add host tz", err, 400, "tz: ")

			// list, paged
			b.addUser("carol@example.com", "carol-secret")
			page, err := api.UserList(ctx, regapi.UserListRequest{Limit: 2})
			if err != nil || len(page.Users) != 2 || page.Users[0].AOR != "alice@example.com" || page.Users[1].AOR != "bob@example.com" || page.Next == "" {
				t.Fatalf("list page 1: %+v %v", page, err)
			}
			page, err = api.UserList(ctx, regapi.UserListRequest{Cursor: page.Next, Limit: 2})
			if err != nil || len(page.Users) != 1 || page.Users[0].AOR != "carol@example.com" || page.Next != "" {
				t.Errorf("list page 2: %+v %v", page, err)
			}
			if all, err := api.UserList(ctx, regapi.UserListRequest{}); err != nil || len(all.Users) != 3 {
				t.Errorf("list default limit: %+v %v", all, err)
			}
			_, err = api.UserList(ctx, regapi.UserListRequest{Limit: -1})
			wantErr(t, "list negative limit", err, 400, "limit: -1")

			// rm removes the subscriber and its bindings.
			if _, err := api.ULAdd(ctx, regapi.ULAddRequest{AOR: "carol@example.com", Contact: "sip:carol@192.0.2.6", Expires: 600}); err != nil {
				t.Fatal(err)
			}
			b.expect("added")
			if _, err := api.UserRemove(ctx, regapi.UserRemoveRequest{AOR: "carol@example.com"}); err != nil {
				t.Fatalf("user rm: %v", err)
			}
			if ev := b.expect("removed")[0]; ev.Contact != "sip:carol@192.0.2.6" {
				t.Errorf("removed event %+v", ev)
			}
			if b.show("carol@example.com") != nil {
				t.Error("carol's binding survived user rm")
			}
			_, err = api.UserRemove(ctx, regapi.UserRemoveRequest{AOR: "carol@example.com"})
			wantErr(t, "rm twice", err, 404, `aor: no subscriber "carol@example.com"`)
			_, err = api.UserRemove(ctx, regapi.UserRemoveRequest{AOR: "sip:carol@example.com:5060"})
			wantErr(t, "rm with port", err, 400, `aor: "sip:carol@example.com:5060" is not a SIP URI`)

			// A request that is not JSON.
			raw, err = b.nc.Request(regapi.SubjectUserRemove, []byte(`{"aor":`), 5*time.Second)
			if err != nil || !strings.Contains(string(raw.Data), `"status":400`) || !strings.Contains(string(raw.Data), events.CommandRegistrarUserRemove) {
				t.Errorf("bad JSON: %s %v", raw.Data, err)
			}
		})
	}
}

// TestManageLocation covers ul add, show, rm and dump with their error
// cases, on both engines.
func TestManageLocation(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			b := newBench(t, stateURL(t, engine), nil)
			ctx, api := b.ctx, b.api

			// A permanent gateway, and a second contact with q 0.5.
			rep, err := api.ULAdd(ctx, regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:gw1@192.0.2.9:5060", Expires: 600, Q: qv(0.5)})
			if err != nil || rep.AOR != "pstn@example.com" || len(rep.Bindings) != 1 {
				t.Fatalf("ul add: %+v %v", rep, err)
			}
			b.expect("added")
			rep, err = api.ULAdd(ctx, regapi.ULAddRequest{AOR: "sip:pstn@example.com", Contact: "<sip:gw2@192.0.2.10;transport=tcp>", Expires: 0})
			if err != nil || len(rep.Bindings) != 2 {
				t.Fatalf("ul add permanent: %+v %v", rep, err)
			}
			if ev := b.expect("added")[0]; !ev.ExpiresAt.IsZero() || ev.Contact != "sip:gw2@192.0.2.10;transport=tcp" {
				t.Errorf("permanent added event %+v", ev)
			}
			gw2, gw1 := rep.Bindings[0], rep.Bindings[1] // q 1 first
			if gw2.Contact != "sip:gw2@192.0.2.10;transport=tcp" || !gw2.Permanent || gw2.Expires != 0 || !gw2.ExpiresAt.IsZero() || gw2.Q != 1 || gw2.Transport != "tcp" {
				t.Errorf("permanent binding %+v", gw2)
			}
			if gw1.Contact != "sip:gw1@192.0.2.9:5060" || gw1.Permanent || gw1.Expires < 599 || gw1.Expires > 600 || gw1.Q != 0.5 {
				t.Errorf("q 0.5 binding %+v", gw1)
			}
			// Adding the same contact again replaces it: refreshed.
			if rep, err = api.ULAdd(ctx, regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:gw1@192.0.2.9:5060", Expires: 900, Q: qv(0.4)}); err != nil || len(rep.Bindings) != 2 {
				t.Fatalf("ul add again: %+v %v", rep, err)
			}
			b.expect("refreshed")

			bad := []struct {
				name  string
				req   regapi.ULAddRequest
				parts []string
			}{
				{"not a SIP URI", regapi.ULAddRequest{AOR: "sip:@x", Contact: "sip:a@192.0.2.1"}, []string{`aor: "sip:@x" is not a SIP URI`}},
				{"foreign domain", regapi.ULAddRequest{AOR: "gw@example.net", Contact: "sip:a@192.0.2.1"}, []string{`aor: domain "example.net"`}},
				{"contact not a URI", regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "192.0.2.1:5060"}, []string{`contact: "192.0.2.1:5060" is not a SIP URI`}},
				{"contact tel", regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "tel:+4930123"}, []string{`contact: "tel:+4930123" is not a SIP URI`}},
				{"no contact", regapi.ULAddRequest{AOR: "pstn@example.com"}, []string{"contact: required"}},
				{"negative expires", regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:a@192.0.2.1", Expires: -5}, []string{"expires: -5: want 0 (permanent)"}},
				{"q above 1", regapi.ULAddRequest{AOR: "pstn@example.com", Contact: "sip:a@192.0.2.1", Q: qv(1.5)}, []string{"q: 1.5: want 0 to 1"}},
			}
			for _, c := range bad {
				_, err := api.ULAdd(ctx, c.req)
				wantErr(t, "ul add "+c.name, err, 400, c.parts...)
			}

			// show
			show, err := api.ULShow(ctx, regapi.ULShowRequest{AOR: "PSTN@example.com"})
			wantErr(t, "show is case-sensitive in the user part", err, 404, `aor: no bindings for "PSTN@example.com"`)
			show, err = api.ULShow(ctx, regapi.ULShowRequest{AOR: "sips:pstn@Example.COM"})
			if err != nil || show.AOR != "pstn@example.com" || len(show.Bindings) != 2 || show.Bindings[0].Q < show.Bindings[1].Q {
				t.Errorf("ul show: %+v %v", show, err)
			}
			_, err = api.ULShow(ctx, regapi.ULShowRequest{AOR: "nobody@example.com"})
			wantErr(t, "show unknown", err, 404, `aor: no bindings for "nobody@example.com"`)
			_, err = api.ULShow(ctx, regapi.ULShowRequest{AOR: "<sip:x>"})
			wantErr(t, "show invalid", err, 400, `aor: "<sip:x>" is not a SIP URI`)

			// dump, paged
			if _, err := api.ULAdd(ctx, regapi.ULAddRequest{AOR: "alice@example.com", Contact: "sip:alice@192.0.2.4", Expires: 300}); err != nil {
				t.Fatal(err)
			}
			b.expect("added")
			dump, err := api.ULDump(ctx, regapi.ULDumpRequest{Limit: 1})
			if err != nil || len(dump.AORs) != 1 || dump.AORs[0].AOR != "alice@example.com" || dump.Next == "" {
				t.Fatalf("dump page 1: %+v %v", dump, err)
			}
			dump, err = api.ULDump(ctx, regapi.ULDumpRequest{Cursor: dump.Next, Limit: 1})
			if err != nil || len(dump.AORs) != 1 || dump.AORs[0].AOR != "pstn@example.com" || len(dump.AORs[0].Bindings) != 2 {
				t.Errorf("dump page 2: %+v %v", dump, err)
			}
			if all, err := api.ULDump(ctx, regapi.ULDumpRequest{}); err != nil || len(all.AORs) != 2 || all.Next != "" {
				t.Errorf("dump all: %+v %v", all, err)
			}
			_, err = api.ULDump(ctx, regapi.ULDumpRequest{Limit: -3})
			wantErr(t, "dump negative limit", err, 400, "limit: -3")

			// rm one contact, then an unknown one, then all.
			rm, err := api.ULRemove(ctx, regapi.ULRemoveRequest{AOR: "pstn@example.com", Contact: "sip:gw1@192.0.2.9:5060;lr"})
			if err != nil || len(rm.Bindings) != 1 || rm.Bindings[0].Contact != "sip:gw2@192.0.2.10;transport=tcp" {
				t.Fatalf("ul rm one (the same URI with another parameter): %+v %v", rm, err)
			}
			if ev := b.expect("removed")[0]; ev.Contact != "sip:gw1@192.0.2.9:5060" || ev.Q != 0.4 {
				t.Errorf("removed event %+v", ev)
			}
			_, err = api.ULRemove(ctx, regapi.ULRemoveRequest{AOR: "pstn@example.com", Contact: "sip:gw9@192.0.2.9"})
			wantErr(t, "rm unknown contact", err, 404, `contact: "sip:gw9@192.0.2.9" is not bound to "pstn@example.com"`)
			_, err = api.ULRemove(ctx, regapi.ULRemoveRequest{AOR: "pstn@example.com", Contact: "not a uri"})
			wantErr(t, "rm bad contact", err, 400, `contact: "not a uri" is not a SIP URI`)
			rm, err = api.ULRemove(ctx, regapi.ULRemoveRequest{AOR: "pstn@example.com"})
			if err != nil || len(rm.Bindings) != 0 || rm.AOR != "pstn@example.com" {
				t.Errorf("ul rm all: %+v %v", rm, err)
			}
			b.expect("removed")
			_, err = api.ULRemove(ctx, regapi.ULRemoveRequest{AOR: "pstn@example.com"})
			wantErr(t, "rm nothing", err, 404, `aor: no bindings for "pstn@example.com"`)
			if b.show("pstn@example.com") != nil {
				t.Error("bindings after ul rm")
			}

			// Replies decode into the schema's shape (the CLI prints them).
			raw, err := b.nc.Request(regapi.SubjectULShow, []byte(`{"aor":"alice@example.com"}`), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw.Data, &m); err != nil || m["aor"] != "alice@example.com" || m["status"] != 200.0 {
				t.Errorf("ul show wire reply %s", raw.Data)
			}
			b.quiet(100 * time.Millisecond)
		})
	}
}

// TestMicroService: the endpoints are a nats.go/micro service that
// `sipbus ps` can discover.
func TestMicroService(t *testing.T) {
	b := newBench(t, "", nil)
	msg, err := b.nc.Request("$SRV.INFO."+regapi.ServiceName, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Name      string            `json:"name"`
		Metadata  map[string]string `json:"metadata"`
		Endpoints []struct {
			Subject    string `json:"subject"`
			QueueGroup string `json:"queue_group"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	subjects := map[string]bool{}
	for _, ep := range info.Endpoints {
		if ep.QueueGroup != regapi.QueueGroup {
			t.Errorf("endpoint %s queue group %q", ep.Subject, ep.QueueGroup)
		}
		subjects[ep.Subject] = true
	}
	for _, s := range []string{regapi.SubjectUserAdd, regapi.SubjectUserList, regapi.SubjectUserRemove, regapi.SubjectUserPasswd,
		regapi.SubjectULShow, regapi.SubjectULAdd, regapi.SubjectULRemove, regapi.SubjectULDump} {
		if !subjects[s] {
			t.Errorf("no endpoint on %s (%v)", s, subjects)
		}
	}
	if info.Name != regapi.ServiceName || info.Metadata["id"] != "reg-test" {
		t.Errorf("service info %+v", info)
	}
}
