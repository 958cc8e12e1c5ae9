package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Page sizes of user list and ul dump.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// maxULExpires is the largest ul add expires: delta-seconds (RFC 3261 §25.1).
const maxULExpires = 1<<32 - 1

// Manager executes the management commands (package regapi) against the
// subscriber directory and the location service. Each method validates its
// request first, answering 400 with a reason that names the field and
// quotes the bad value (never a password).
type Manager struct {
	Directory subscriber.Directory
	Location  location.Store
	// Domains are the local domains (canonical AOR hosts); user add and ul
	// add refuse others. Empty: every domain.
	Domains []string
	Emit    Emitter
	Now     func() time.Time
	Log     *slog.Logger
}

var replyOK = regapi.Reply{Status: 200, Reason: "OK"}

func bad(format string, args ...any) regapi.Reply {
	return regapi.Reply{Status: 400, Reason: fmt.Sprintf(format, args...)}
}

// UserAdd creates a subscriber (serctl add).
func (mg *Manager) UserAdd(ctx context.Context, req regapi.UserAddRequest) regapi.UserReply {
	aor, rep := mg.aor("aor", req.AOR, true)
	if rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	if rep := checkPassword(req.Password); rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	if rep := checkNameEmail(req.Name, req.Email); rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	if rep := checkTZ(req.TZ); rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	s := subscriber.Subscriber{AOR: aor, Name: req.Name, Email: req.Email, Enabled: true, TZ: req.TZ, Admin: req.Admin}
	if req.MissedCallEmail != nil {
		s.MissedCallOptOut = !*req.MissedCallEmail
	}
	if err := s.SetPassword(req.Password); err != nil {
		return regapi.UserReply{Reply: bad("password: %s", detail(err))}
	}
	if err := mg.Directory.Add(ctx, s); err != nil {
		return regapi.UserReply{Reply: mg.storeError(err, "aor: "+quote(aor)+" already exists", "")}
	}
	mg.Log.Info("registrar: subscriber added", "aor", aor)
	return mg.userReply(ctx, s)
}

// UserPasswd replaces a subscriber's password (serctl passwd).
func (mg *Manager) UserPasswd(ctx context.Context, req regapi.UserPasswdRequest) regapi.UserReply {
	aor, rep := mg.aor("aor", req.AOR, false)
	if rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	if rep := checkPassword(req.Password); rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	s, err := mg.Directory.Get(ctx, aor)
	if err != nil {
		return regapi.UserReply{Reply: mg.storeError(err, "", "aor: no subscriber "+quote(aor))}
	}
	if err := s.SetPassword(req.Password); err != nil {
		return regapi.UserReply{Reply: bad("password: %s", detail(err))}
	}
	if err := mg.Directory.Update(ctx, s); err != nil {
		return regapi.UserReply{Reply: mg.storeError(err, "", "aor: no subscriber "+quote(aor))}
	}
	mg.Log.Info("registrar: password changed", "aor", aor)
	return mg.userReply(ctx, s)
}

// UserSet changes a subscriber's profile: e-mail, name, missed-call mail,
// time zone; a field the request leaves out stays as it is.
func (mg *Manager) UserSet(ctx context.Context, req regapi.UserSetRequest) regapi.UserReply {
	aor, rep := mg.aor("aor", req.AOR, false)
	if rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	name, email := "", ""
	if req.Name != nil {
		name = *req.Name
	}
	if req.Email != nil {
		email = *req.Email
	}
	if rep := checkNameEmail(name, email); rep.Status != 0 {
		return regapi.UserReply{Reply: rep}
	}
	if req.TZ != nil {
		if rep := checkTZ(*req.TZ); rep.Status != 0 {
			return regapi.UserReply{Reply: rep}
		}
	}
	if req.Email == nil && req.Name == nil && req.MissedCallEmail == nil && req.TZ == nil && req.Admin == nil {
		return regapi.UserReply{Reply: bad("request: nothing to change: give email, name, missed_call_email, tz or admin")}
	}
	s, err := mg.Directory.Get(ctx, aor)
	if err != nil {
		return regapi.UserReply{Reply: mg.storeError(err, "", "aor: no subscriber "+quote(aor))}
	}
	if req.Email != nil {
		s.Email = *req.Email
	}
	if req.Name != nil {
		s.Name = *req.Name
	}
	if req.MissedCallEmail != nil {
		s.MissedCallOptOut = !*req.MissedCallEmail
	}
	if req.TZ != nil {
		s.TZ = *req.TZ
	}
	if req.Admin != nil {
		s.Admin = *req.Admin
	}
	if err := mg.Directory.Update(ctx, s); err != nil {
		return regapi.UserReply{Reply: mg.storeError(err, "", "aor: no subscriber "+quote(aor))}
	}
	mg.Log.Info("registrar: subscriber changed", "aor", aor)
	return mg.userReply(ctx, s)
}

// UserRemove removes a subscriber (serctl rm) and its bindings, which could
// no longer be refreshed: the removal of each is published.
func (mg *Manager) UserRemove(ctx context.Context, req regapi.UserRemoveRequest) regapi.Reply {
	aor, rep := mg.aor("aor", req.AOR, false)
	if rep.Status != 0 {
		return rep
	}
	if err := mg.Directory.Remove(ctx, aor); err != nil {
		return mg.storeError(err, "", "aor: no subscriber "+quote(aor))
	}
	mg.Log.Info("registrar: subscriber removed", "aor", aor)
	removed, err := mg.Location.Remove(ctx, aor, "")
	switch {
	case err == nil:
		mg.emitRemoved(ctx, removed)
	case !errors.Is(err, location.ErrNotFound):
		mg.Log.Warn("registrar: remove bindings of a removed subscriber", "aor", aor, "err", err)
		return regapi.Reply{Status: 200, Reason: "OK; its bindings were not removed (location service: " + detail(err) + ") and expire on their own"}
	}
	return replyOK
}

// UserList returns one page of subscribers.
func (mg *Manager) UserList(ctx context.Context, req regapi.UserListRequest) regapi.UserListReply {
	limit, rep := pageLimit(req.Limit)
	if rep.Status != 0 {
		return regapi.UserListReply{Reply: rep}
	}
	subs, next, err := mg.Directory.List(ctx, req.Cursor, limit)
	if err != nil {
		return regapi.UserListReply{Reply: mg.storeError(err, "", "")}
	}
	users := make([]regapi.User, len(subs))
	for i, s := range subs {
		users[i] = user(s)
	}
	return regapi.UserListReply{Reply: replyOK, Users: users, Next: next}
}

// ULShow returns the live bindings of an AOR (ul_show_contact); 404 when it
// has none.
func (mg *Manager) ULShow(ctx context.Context, req regapi.ULShowRequest) regapi.ULShowReply {
	aor, rep := mg.aor("aor", req.AOR, false)
	if rep.Status != 0 {
		return regapi.ULShowReply{Reply: rep}
	}
	rep, ab := mg.show(ctx, aor)
	if rep.Status == 200 && len(ab.Bindings) == 0 {
		rep = regapi.Reply{Status: 404, Reason: "aor: no bindings for " + quote(aor)}
	}
	return regapi.ULShowReply{Reply: rep, AORBindings: ab}
}

// ULAdd binds a contact to an AOR of a local domain (ul_add), replacing the
// binding of the same contact, publishes reg.contact.added (or refreshed)
// and returns the AOR's bindings.
func (mg *Manager) ULAdd(ctx context.Context, req regapi.ULAddRequest) regapi.ULShowReply {
	aor, rep := mg.aor("aor", req.AOR, true)
	if rep.Status != 0 {
		return regapi.ULShowReply{Reply: rep}
	}
	contact, rep := checkContact(req.Contact)
	if rep.Status != 0 {
		return regapi.ULShowReply{Reply: rep}
	}
	if req.Expires < 0 || req.Expires > maxULExpires {
		return regapi.ULShowReply{Reply: bad("expires: %d: want 0 (permanent) to %d seconds", req.Expires, maxULExpires)}
	}
	q := 1.0
	if req.Q != nil {
		q = *req.Q
		if math.IsNaN(q) || q < 0 || q > 1 {
			return regapi.ULShowReply{Reply: bad("q: %v: want 0 to 1", q)}
		}
	}
	now := mg.Now()
	b := location.Binding{
		AOR: aor, Contact: contact, Q: q, CallID: "ul-add-" + bus.NewID(), CSeq: 1, Updated: now,
		Transport: uriTransport(contact),
	}
	if req.Expires > 0 {
		b.Expires = now.Add(time.Duration(req.Expires) * time.Second)
	}
	before, err := mg.Location.Lookup(ctx, aor, now)
	if err != nil {
		return regapi.ULShowReply{Reply: mg.storeError(err, "", "")}
	}
	if err := mg.Location.Add(ctx, b); err != nil {
		return regapi.ULShowReply{Reply: mg.storeError(err, "", "")}
	}
	kind := location.Added
	if slices.ContainsFunc(before, func(o location.Binding) bool { return location.SameContact(o.Contact, contact) }) {
		kind = location.Refreshed
	}
	mg.emit(ctx, []location.Change{{Kind: kind, Binding: b}}, now)
	mg.Log.Info("registrar: binding added", "aor", aor, "contact", truncate(contact, 256), "expires", req.Expires)
	rep, ab := mg.show(ctx, aor)
	return regapi.ULShowReply{Reply: rep, AORBindings: ab}
}

// ULRemove removes the binding of a contact, or every binding of the AOR
// without one (ul_rm_contact, ul_rm), publishes reg.contact.removed for
// each and returns the bindings left; 404 when nothing matched.
func (mg *Manager) ULRemove(ctx context.Context, req regapi.ULRemoveRequest) regapi.ULShowReply {
	aor, rep := mg.aor("aor", req.AOR, false)
	if rep.Status != 0 {
		return regapi.ULShowReply{Reply: rep}
	}
	contact := strings.TrimSpace(req.Contact)
	if contact != "" {
		if contact, rep = checkContact(contact); rep.Status != 0 {
			return regapi.ULShowReply{Reply: rep}
		}
	}
	notFound := "aor: no bindings for " + quote(aor)
	if contact != "" {
		notFound = "contact: " + quote(contact) + " is not bound to " + quote(aor)
	}
	removed, err := mg.Location.Remove(ctx, aor, contact)
	if err != nil {
		return regapi.ULShowReply{Reply: mg.storeError(err, "", notFound)}
	}
	mg.emitRemoved(ctx, removed)
	mg.Log.Info("registrar: bindings removed", "aor", aor, "count", len(removed))
	rep, ab := mg.show(ctx, aor)
	return regapi.ULShowReply{Reply: rep, AORBindings: ab}
}

// ULDump returns one page of AORs with their live bindings (ul_dump).
// An AOR whose bindings all expired since the page was read is left out.
func (mg *Manager) ULDump(ctx context.Context, req regapi.ULDumpRequest) regapi.ULDumpReply {
	limit, rep := pageLimit(req.Limit)
	if rep.Status != 0 {
		return regapi.ULDumpReply{Reply: rep}
	}
	aors, next, err := mg.Location.AORs(ctx, req.Cursor, limit)
	if err != nil {
		return regapi.ULDumpReply{Reply: mg.storeError(err, "", "")}
	}
	out := make([]regapi.AORBindings, 0, len(aors))
	for _, aor := range aors {
		rep, ab := mg.show(ctx, aor)
		if rep.Status != 200 {
			return regapi.ULDumpReply{Reply: rep}
		}
		if len(ab.Bindings) > 0 {
			out = append(out, ab)
		}
	}
	return regapi.ULDumpReply{Reply: replyOK, AORs: out, Next: next}
}

// show looks up the live bindings of aor.
func (mg *Manager) show(ctx context.Context, aor string) (regapi.Reply, regapi.AORBindings) {
	now := mg.Now()
	bs, err := mg.Location.Lookup(ctx, aor, now)
	if err != nil {
		return mg.storeError(err, "", ""), regapi.AORBindings{}
	}
	ab := regapi.AORBindings{AOR: aor, Bindings: make([]regapi.Binding, len(bs))}
	for i := range bs {
		ab.Bindings[i] = binding(&bs[i], now)
	}
	return replyOK, ab
}

func (mg *Manager) userReply(ctx context.Context, s subscriber.Subscriber) regapi.UserReply {
	if got, err := mg.Directory.Get(ctx, s.AOR); err == nil {
		s = got
	}
	u := user(s)
	return regapi.UserReply{Reply: replyOK, User: &u}
}

func (mg *Manager) emitRemoved(ctx context.Context, bs []location.Binding) {
	changes := make([]location.Change, len(bs))
	for i, b := range bs {
		changes[i] = location.Change{Kind: location.Removed, Binding: b}
	}
	mg.emit(ctx, changes, mg.Now())
}

func (mg *Manager) emit(ctx context.Context, changes []location.Change, at time.Time) {
	if len(changes) == 0 {
		return
	}
	if err := mg.Emit.Emit(context.WithoutCancel(ctx), changes, at); err != nil {
		mg.Log.Warn("registrar: publish binding events", "err", err)
	}
}

// storeError maps an error of the directory or the location service to a
// reply: exists (409) and notFound (404) are the reasons of those cases.
func (mg *Manager) storeError(err error, exists, notFound string) regapi.Reply {
	switch {
	case errors.Is(err, subscriber.ErrExists):
		return regapi.Reply{Status: 409, Reason: exists}
	case errors.Is(err, subscriber.ErrNotFound), errors.Is(err, location.ErrNotFound):
		return regapi.Reply{Status: 404, Reason: notFound}
	case errors.Is(err, subscriber.ErrInvalid), errors.Is(err, location.ErrInvalid):
		return bad("%s", detail(err))
	case errors.Is(err, subscriber.ErrUnavailable), errors.Is(err, location.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return regapi.Reply{Status: 503, Reason: "store unavailable: " + detail(err)}
	}
	mg.Log.Error("registrar: management command", "err", err)
	return regapi.Reply{Status: 500, Reason: "internal error"}
}

// aor validates an address of record given to a command and returns it in
// the location service's canonical form ("user@domain"); local requires
// its domain to be one of Domains.
func (mg *Manager) aor(field, v string, local bool) (string, regapi.Reply) {
	if strings.TrimSpace(v) == "" {
		return "", bad("%s: required", field)
	}
	user, domain, err := subscriber.ParseAOR(v)
	if err != nil {
		return "", bad("%s: %s is not a SIP URI: %s", field, quote(v), detail(err))
	}
	aor, err := location.ParseAOR(user + "@" + domain)
	if err != nil {
		return "", bad("%s: %s is not a SIP URI: %s", field, quote(v), detail(err))
	}
	host := aor[strings.LastIndexByte(aor, '@')+1:]
	if local && len(mg.Domains) > 0 && !slices.Contains(mg.Domains, host) {
		return "", bad("%s: domain %s of %s is not a local domain of this registrar (%s)", field, quote(host), quote(v), strings.Join(mg.Domains, ", "))
	}
	return aor, regapi.Reply{}
}

func checkPassword(p string) regapi.Reply {
	n := utf8.RuneCountInString(p)
	switch {
	case p == "":
		return bad("password: required")
	case !utf8.ValidString(p):
		return bad("password: not valid UTF-8")
	case n < subscriber.MinPasswordLen || n > subscriber.MaxPasswordLen:
		return bad("password: %d characters: want %d to %d", n, subscriber.MinPasswordLen, subscriber.MaxPasswordLen)
	}
	return regapi.Reply{}
}

func checkNameEmail(name, email string) regapi.Reply {
	switch {
	case !utf8.ValidString(name):
		return bad("name: %s is not valid UTF-8", quote(name))
	case utf8.RuneCountInString(name) > subscriber.MaxNameLen:
		return bad("name: %s has more than %d characters", quote(name), subscriber.MaxNameLen)
	case strings.ContainsFunc(name, unicode.IsControl):
		return bad("name: %s has control characters", quote(name))
	}
	if email == "" {
		return regapi.Reply{}
	}
	if len(email) > subscriber.MaxEmailLen {
		return bad("email: %s is longer than %d bytes", quote(email), subscriber.MaxEmailLen)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Name != "" || a.Address != email || strings.ContainsAny(email, "\r\n") {
		return bad("email: %s is not a bare e-mail address such as bob@example.com", quote(email))
	}
	return regapi.Reply{}
}

func checkTZ(tz string) regapi.Reply {
	if err := subscriber.CheckTZ(tz); err != nil {
		return bad("tz: %s", err)
	}
	return regapi.Reply{}
}

// checkContact accepts a sip: or sips: URI, also written in <>.
func checkContact(c string) (string, regapi.Reply) {
	v := strings.TrimSpace(c)
	if v == "" {
		return "", bad("contact: required")
	}
	if strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">") {
		v = v[1 : len(v)-1]
	}
	u, err := sipmsg.ParseURI(v)
	switch {
	case err != nil:
		return "", bad("contact: %s is not a SIP URI: %s", quote(c), detail(err))
	case u.Scheme != "sip" && u.Scheme != "sips":
		return "", bad("contact: %s is not a SIP URI: want sip: or sips:", quote(c))
	case u.Host == "":
		return "", bad("contact: %s is not a SIP URI: no host", quote(c))
	}
	return v, regapi.Reply{}
}

// uriTransport is the transport a contact names (its transport parameter,
// tcp for sips:), lower case; "" when it names none.
func uriTransport(contact string) string {
	u, err := sipmsg.ParseURI(contact)
	if err != nil {
		return ""
	}
	if t, ok := u.Params.Get("transport"); ok {
		return strings.ToLower(t)
	}
	if u.Scheme == "sips" {
		return "tls"
	}
	return ""
}

func pageLimit(limit int) (int, regapi.Reply) {
	switch {
	case limit < 0:
		return 0, bad("limit: %d: want 0 (the default, %d) to %d", limit, DefaultPageLimit, MaxPageLimit)
	case limit == 0:
		return DefaultPageLimit, regapi.Reply{}
	case limit > MaxPageLimit:
		return MaxPageLimit, regapi.Reply{}
	}
	return limit, regapi.Reply{}
}

func user(s subscriber.Subscriber) regapi.User {
	return regapi.User{AOR: s.AOR, Name: s.Name, Email: s.Email, Enabled: s.Enabled, Created: s.Created.UTC(), Updated: s.Updated.UTC(),
		MissedCallEmail: s.MissedCallEmail(), TZ: s.TZ, Admin: s.Admin}
}

func binding(b *location.Binding, now time.Time) regapi.Binding {
	out := regapi.Binding{
		Contact: b.Contact, Q: b.Q, Permanent: b.Permanent(), CallID: b.CallID, CSeq: b.CSeq,
		Path: b.Path, Received: b.Received, Transport: b.Transport, UserAgent: b.UserAgent, Edge: b.Edge,
	}
	if !b.Permanent() {
		out.ExpiresAt = b.Expires.UTC()
		out.Expires = int((b.Expires.Sub(now) + time.Second - 1) / time.Second)
		if out.Expires < 0 {
			out.Expires = 0
		}
	}
	return out
}

// detail is the end of an error message: the text after its last ": ",
// which names the fault without the package prefixes and the quoted input.
func detail(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}
