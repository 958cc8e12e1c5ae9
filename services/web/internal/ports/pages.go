package ports

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// done are the confirmations a redirect may ask for (?msg=saved): a fixed
// list, so a link cannot put its own words on the page.
var done = map[string]string{"saved": "saved", "deleted": "deleted", "account": "account", "password": "password",
	"added": "added", "enabled": "enabled", "reset": "reset"}

// callView is a history line as the page shows it.
type callView struct {
	app.Call
	When string // in the viewed user's time zone
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	ctx, sess, aor := r.Context(), session(r), target(r)
	u, err := s.Directory.Get(ctx, aor)
	if err != nil {
		s.storeFail(w, r, err, "aor")
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > app.MaxSearch {
		q = q[:app.MaxSearch]
	}
	entries, err := s.Phonebook.Entries(ctx, aor)
	if err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	calls, err := s.History.Calls(ctx, aor)
	if err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	var edit *app.Entry
	if id := r.URL.Query().Get("edit"); id != "" {
		for i := range entries {
			if entries[i].ID == id {
				edit = &entries[i]
			}
		}
	}
	loc := u.Location()
	views := make([]callView, len(calls))
	for i, c := range calls {
		views[i] = callView{Call: c, When: c.StartedAt.In(loc).Format("2006-01-02 15:04")}
	}
	bs, err := s.Locations.Lookup(ctx, aor, s.Now())
	if err != nil {
		s.Log.Warn("web: lookup", "aor", aor, "err", err)
	}
	data := map[string]any{
		"Me": sess, "User": u, "Self": sess.AOR == aor, "CSRF": sess.CSRF, "Path": userPath(aor),
		"Entries": app.Search(entries, q), "Total": len(entries), "Q": q, "Calls": views,
		"Bindings": app.ShowBindings(bs, s.Now()), "From": "sip:" + aor, "TZ": loc.String(),
		"Msg": done[r.URL.Query().Get("msg")], "Edit": edit,
	}
	if sess.Admin {
		users, next, err := s.Directory.List(ctx, r.URL.Query().Get("after"), 200)
		if err != nil {
			s.Log.Warn("web: list users", "err", err)
		}
		data["Users"], data["UsersNext"] = users, next
	}
	s.render(w, http.StatusOK, "page.html", data)
}

// storeFail answers a directory or state error.
func (s *Server) storeFail(w http.ResponseWriter, r *http.Request, err error, field string) {
	switch {
	case errors.Is(err, subscriber.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, field, "no such subscriber")
	case errors.Is(err, subscriber.ErrInvalid):
		s.fail(w, r, http.StatusBadRequest, field, err.Error())
	default:
		s.Log.Error("web: state", "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "", "the directory is unavailable, try again")
	}
}

func (s *Server) back(w http.ResponseWriter, r *http.Request, aor, msg, anchor string) {
	http.Redirect(w, r, userPath(aor)+"?msg="+msg+"#"+anchor, http.StatusSeeOther)
}

func (s *Server) registrationsJSON(w http.ResponseWriter, r *http.Request) {
	bs, err := s.Locations.Lookup(r.Context(), target(r), s.Now())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "", "the location service is unavailable")
		return
	}
	httpfront.JSON(w, http.StatusOK, app.ShowBindings(bs, s.Now()))
}

func (s *Server) callsJSON(w http.ResponseWriter, r *http.Request) {
	calls, err := s.History.Calls(r.Context(), target(r))
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "", "the call history is unavailable")
		return
	}
	httpfront.JSON(w, http.StatusOK, calls)
}

func (s *Server) phonebookJSON(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if len(q) > app.MaxSearch {
		s.fail(w, r, http.StatusBadRequest, "q", fmt.Sprintf("search longer than %d bytes", app.MaxSearch))
		return
	}
	es, err := s.Phonebook.Entries(r.Context(), target(r))
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "", "the phonebook is unavailable")
		return
	}
	httpfront.JSON(w, http.StatusOK, app.Search(es, q))
}

func (s *Server) phonebookAdd(w http.ResponseWriter, r *http.Request) {
	e, err := app.CleanEntry(r.PostFormValue("name"), r.PostFormValue("target"))
	if err != nil {
		s.fieldFail(w, r, err)
		return
	}
	s.putEntry(w, r, e)
}

func (s *Server) phonebookEdit(w http.ResponseWriter, r *http.Request) {
	e, err := app.CleanEntry(r.PostFormValue("name"), r.PostFormValue("target"))
	if err != nil {
		s.fieldFail(w, r, err)
		return
	}
	e.ID = r.PathValue("id")
	s.putEntry(w, r, e)
}

func (s *Server) putEntry(w http.ResponseWriter, r *http.Request, e app.Entry) {
	aor := target(r)
	_, err := s.Phonebook.Put(r.Context(), aor, e, s.Cfg.PhonebookMax)
	switch {
	case errors.Is(err, adapters.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "id", "no such phonebook entry")
	case errors.Is(err, adapters.ErrFull):
		s.fail(w, r, http.StatusConflict, "", fmt.Sprintf("the phonebook is full (%d entries)", s.Cfg.PhonebookMax))
	case err != nil:
		s.Log.Error("web: phonebook", "aor", aor, "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "", "the phonebook is unavailable, try again")
	default:
		s.back(w, r, aor, "saved", "phonebook")
	}
}

func (s *Server) phonebookDelete(w http.ResponseWriter, r *http.Request) {
	aor := target(r)
	err := s.Phonebook.Delete(r.Context(), aor, r.PathValue("id"))
	switch {
	case errors.Is(err, adapters.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "id", "no such phonebook entry")
	case err != nil:
		s.Log.Error("web: phonebook", "aor", aor, "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "", "the phonebook is unavailable, try again")
	default:
		s.back(w, r, aor, "deleted", "phonebook")
	}
}

func (s *Server) fieldFail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *app.FieldError
	if errors.As(err, &fe) {
		s.fail(w, r, http.StatusBadRequest, fe.Field, fe.Error())
		return
	}
	s.fail(w, r, http.StatusBadRequest, "", err.Error())
}

// account changes e-mail, missed-call mail and time zone (what the
// notifier reads).
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	ctx, aor := r.Context(), target(r)
	u, err := s.Directory.Get(ctx, aor)
	if err != nil {
		s.storeFail(w, r, err, "aor")
		return
	}
	u.Email = strings.TrimSpace(r.PostFormValue("email"))
	u.MissedCallOptOut = r.PostFormValue("missed_call") != "on"
	u.TZ = strings.TrimSpace(r.PostFormValue("tz"))
	if u.TZ == "UTC" {
		u.TZ = ""
	}
	if name, ok := r.PostForm["name"]; ok {
		u.Name = strings.TrimSpace(name[0])
	}
	if err := u.Validate(); err != nil {
		s.fail(w, r, http.StatusBadRequest, accountField(err.Error()), err.Error())
		return
	}
	if err := s.Directory.Update(ctx, u); err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	s.back(w, r, aor, "account", "account")
}

func accountField(msg string) string {
	for _, f := range []struct{ in, field string }{{"Email", "email"}, {"TZ", "tz"}, {"Name", "name"}} {
		if strings.Contains(msg, f.in) {
			return f.field
		}
	}
	return ""
}

// password changes the user's own password: the current one is checked,
// the new one becomes new HA1 values, every session of the user ends
// (this one too: the user signs in again).
func (s *Server) password(w http.ResponseWriter, r *http.Request) {
	ctx, aor, sess := r.Context(), target(r), session(r)
	u, err := s.Directory.Get(ctx, aor)
	if err != nil {
		s.storeFail(w, r, err, "aor")
		return
	}
	if sess.AOR == aor && !checkPassword(u, r.PostFormValue("current")) {
		s.fail(w, r, http.StatusForbidden, "current", "the current password is wrong")
		return
	}
	nw := r.PostFormValue("new")
	if nw != r.PostFormValue("confirm") {
		s.fail(w, r, http.StatusBadRequest, "confirm", "the new password and its confirmation differ")
		return
	}
	if err := u.SetPassword(nw); err != nil {
		s.fail(w, r, http.StatusBadRequest, "new", strings.TrimPrefix(err.Error(), "subscriber: invalid: "))
		return
	}
	if err := s.Directory.Update(ctx, u); err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	if err := s.Sessions.Revoke(ctx, aor); err != nil {
		s.Log.Error("web: revoke sessions", "aor", aor, "err", err)
	}
	s.Log.Info("web: password changed", "aor", aor, "by", sess.AOR)
	if sess.AOR == aor {
		s.Sessions.Clear(w, r)
		http.Redirect(w, r, "/signin?msg=password", http.StatusSeeOther)
		return
	}
	s.back(w, r, aor, "password", "account")
}

// adminAdd adds a subscriber (in one of Cfg.Domains when set).
func (s *Server) adminAdd(w http.ResponseWriter, r *http.Request) {
	sess := session(r)
	aor, err := location.ParseAOR(strings.TrimSpace(r.PostFormValue("aor")))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "aor", "want a SIP address such as bob@example.com")
		return
	}
	if _, domain, _ := strings.Cut(aor, "@"); len(s.Cfg.Domains) > 0 && !contains(s.Cfg.Domains, domain) {
		s.fail(w, r, http.StatusBadRequest, "aor", fmt.Sprintf("%s is not a local domain (%s)", domain, strings.Join(s.Cfg.Domains, ", ")))
		return
	}
	u := subscriber.Subscriber{AOR: aor, Name: strings.TrimSpace(r.PostFormValue("name")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Enabled: true, Admin: r.PostFormValue("admin") == "on"}
	if err := u.SetPassword(r.PostFormValue("password")); err != nil {
		s.fail(w, r, http.StatusBadRequest, "password", strings.TrimPrefix(err.Error(), "subscriber: invalid: "))
		return
	}
	if err := u.Validate(); err != nil {
		s.fail(w, r, http.StatusBadRequest, accountField(err.Error()), err.Error())
		return
	}
	if err := s.Directory.Add(r.Context(), u); err != nil {
		if errors.Is(err, subscriber.ErrExists) {
			s.fail(w, r, http.StatusConflict, "aor", aor+" exists already")
			return
		}
		s.storeFail(w, r, err, "")
		return
	}
	s.Log.Info("web: subscriber added", "aor", aor, "by", sess.AOR)
	s.back(w, r, sess.AOR, "added", "admin")
}

// adminEnabled enables or disables a subscriber; disabling ends its
// sessions (and the registrar refuses its REGISTERs).
func (s *Server) adminEnabled(w http.ResponseWriter, r *http.Request) {
	ctx, sess := r.Context(), session(r)
	u, err := s.Directory.Get(ctx, r.PathValue("aor"))
	if err != nil {
		s.storeFail(w, r, err, "aor")
		return
	}
	u.Enabled = r.PostFormValue("enabled") == "on"
	if !u.Enabled && u.AOR == sess.AOR {
		s.fail(w, r, http.StatusBadRequest, "aor", "you cannot disable yourself")
		return
	}
	if err := s.Directory.Update(ctx, u); err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	if !u.Enabled {
		_ = s.Sessions.Revoke(ctx, u.AOR)
	}
	s.Log.Info("web: subscriber enabled changed", "aor", u.AOR, "enabled", u.Enabled, "by", sess.AOR)
	s.back(w, r, sess.AOR, "enabled", "admin")
}

// adminPassword resets a subscriber's password (no current password).
func (s *Server) adminPassword(w http.ResponseWriter, r *http.Request) {
	ctx, sess := r.Context(), session(r)
	u, err := s.Directory.Get(ctx, r.PathValue("aor"))
	if err != nil {
		s.storeFail(w, r, err, "aor")
		return
	}
	if err := u.SetPassword(r.PostFormValue("password")); err != nil {
		s.fail(w, r, http.StatusBadRequest, "password", strings.TrimPrefix(err.Error(), "subscriber: invalid: "))
		return
	}
	if err := s.Directory.Update(ctx, u); err != nil {
		s.storeFail(w, r, err, "")
		return
	}
	_ = s.Sessions.Revoke(ctx, u.AOR)
	s.Log.Info("web: password reset", "aor", u.AOR, "by", sess.AOR)
	if u.AOR == sess.AOR {
		s.Sessions.Clear(w, r)
		http.Redirect(w, r, "/signin?msg=password", http.StatusSeeOther)
		return
	}
	s.back(w, r, sess.AOR, "reset", "admin")
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
