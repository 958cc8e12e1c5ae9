package ports

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/websession"
)

func jsonError(w http.ResponseWriter, status int, field, msg string) {
	httpfront.Error(w, status, field, msg)
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.Sessions.Session(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, userPath(sess.AOR), http.StatusSeeOther)
}

func userPath(aor string) string { return "/u/" + aor + "/" }

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.Sessions.Session(r); ok {
		http.Redirect(w, r, userPath(sess.AOR), http.StatusSeeOther)
		return
	}
	s.signInPage(w, r, http.StatusOK, "", "")
}

var notices = map[string]string{
	"password": "Your password was changed: sign in with the new one.",
	"out":      "You are signed out.",
}

// signInPage renders the sign-in form with errMsg; a notice comes only
// from the fixed list (?msg=password), never from the URL's text.
func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, status int, aor, errMsg string) {
	notice := notices[r.URL.Query().Get("msg")]
	s.render(w, status, "signin.html", map[string]any{"CSRF": s.Sessions.SignInToken(w, r), "AOR": aor, "Error": errMsg, "Notice": notice})
}

// lockout is the failure policy of sign-in.
func (s *Server) lockout() digest.Limits {
	return digest.Limits{Window: s.Cfg.LockoutWindow, PerUser: s.Cfg.LockoutFailures,
		PerSource: s.Cfg.LockoutSourceFailures, Block: s.Cfg.LockoutBlock}
}

func source(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

// signIn checks the AOR and password against the stored HA1: it computes
// the HA1 of the given password for the AOR's user and realm (its domain)
// and compares in constant time; the password is never stored or logged.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil {
		s.signInPage(w, r, http.StatusBadRequest, "", "bad form")
		return
	}
	if !s.Sessions.CheckSignInToken(r) {
		s.signInPage(w, r, http.StatusForbidden, "", "The form expired (missing or wrong CSRF token): try again.")
		return
	}
	raw, password := strings.TrimSpace(r.PostFormValue("aor")), r.PostFormValue("password")
	aor, err := location.ParseAOR(raw)
	if err != nil || password == "" {
		s.signInPage(w, r, http.StatusBadRequest, raw, "Give your SIP address (alice@example.com) and password.")
		return
	}
	ctx, src, lim := r.Context(), source(r), s.lockout()
	if b, err := s.Failures.Blocked(ctx, aor, src, lim); err == nil && b.Scope != digest.NotBlocked {
		s.signInPage(w, r, http.StatusTooManyRequests, raw, "Too many failed sign-ins: try again later.")
		return
	}
	sub, err := s.Directory.Get(ctx, aor)
	if err != nil {
		// As much work for an unknown address as for a known one, so the
		// answer time does not tell which addresses exist.
		checkPassword(subscriber.Subscriber{AOR: aor, HA1SHA256: dummyHA1}, password)
	}
	switch {
	case err == nil && sub.Enabled && checkPassword(sub, password):
		if _, err := s.Sessions.Issue(ctx, w, r, sub.AOR); err != nil {
			s.Log.Error("web: sign in", "aor", sub.AOR, "err", err)
			s.signInPage(w, r, http.StatusServiceUnavailable, raw, "Sign-in is unavailable, try again.")
			return
		}
		s.Log.Info("web: signed in", "aor", sub.AOR)
		http.Redirect(w, r, userPath(sub.AOR), http.StatusSeeOther)
		return
	case err != nil && !errors.Is(err, subscriber.ErrNotFound):
		s.Log.Error("web: sign in", "aor", aor, "err", err)
		s.signInPage(w, r, http.StatusServiceUnavailable, raw, "Sign-in is unavailable, try again.")
		return
	}
	b, ferr := s.Failures.Fail(ctx, aor, src, lim)
	if ferr == nil && b.Started {
		s.Log.Warn("web: sign-in blocked", "aor", aor, "source", digest.SourceKey(src), "scope", b.Scope.String())
	}
	if ferr == nil && b.Scope != digest.NotBlocked {
		s.signInPage(w, r, http.StatusTooManyRequests, raw, "Too many failed sign-ins: try again later.")
		return
	}
	s.signInPage(w, r, http.StatusUnauthorized, raw, "Wrong address or password.")
}

// dummyHA1 is compared against for unknown addresses.
const dummyHA1 = "0000000000000000000000000000000000000000000000000000000000000000"

// checkPassword compares the HA1 of password with the stored one (SHA-256
// when there is one, else MD5).
func checkPassword(sub subscriber.Subscriber, password string) bool {
	user, domain, err := subscriber.ParseAOR(sub.AOR)
	if err != nil {
		return false
	}
	alg, stored := digest.SHA256, sub.HA1SHA256
	if stored == "" {
		alg, stored = digest.MD5, sub.HA1MD5
	}
	if stored == "" {
		return false
	}
	got := digest.HA1(alg, user, domain, password)
	return subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
}

// signOut ends every session of the user (the generation moves on) and
// clears the cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.Sessions.Session(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil || !s.Sessions.CheckCSRF(r, sess) {
		s.fail(w, r, http.StatusForbidden, "csrf", "missing or wrong CSRF token: reload the page and try again")
		return
	}
	if err := s.Sessions.Revoke(r.Context(), sess.AOR); err != nil {
		s.Log.Error("web: sign out", "aor", sess.AOR, "err", err)
	}
	s.Sessions.Clear(w, r)
	http.Redirect(w, r, "/signin?msg=out", http.StatusSeeOther)
}

// CheckAPI is the Authenticate of the click-to-dial API for a browser: the
// session, and for a request that changes something (not GET or HEAD) the
// CSRF token in the X-CSRF-Token header.
func CheckAPI(m *websession.Manager) func(r *http.Request) (string, bool, bool) {
	return func(r *http.Request) (string, bool, bool) {
		sess, ok := m.Session(r)
		if !ok {
			return "", false, false
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get(websession.CSRFHeader)
			if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) != 1 {
				return "", false, false
			}
		}
		return sess.AOR, sess.Admin, true
	}
}
