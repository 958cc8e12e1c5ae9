package ports

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/websession"
	"github.com/sipbus/sipbus/services/web/internal/app"
	"github.com/sipbus/sipbus/services/web/internal/config"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Phonebooks keeps each user's phonebook (adapters.Redis, adapters.Memory).
type Phonebooks interface {
	Entries(ctx context.Context, aor string) ([]app.Entry, error)
	Put(ctx context.Context, aor string, e app.Entry, max int) (app.Entry, error)
	Delete(ctx context.Context, aor, id string) error
}

// Histories keeps each user's recent calls (adapters.Redis,
// adapters.Memory).
type Histories interface {
	// Record adds each line's call to the history of the subscriber its
	// URI names, under the directory's canonical AOR; a URI that is no
	// AOR or names no subscriber is skipped, so random From URIs create
	// nothing. A call whose ID is in the history already (a redelivered
	// event) is not added again; a history keeps the newest max calls and
	// lives ttl after its last new call. It returns how many calls it
	// added. One round trip on Redis whatever the number of lines; an
	// error (Redis unreachable) may leave some lines recorded, which a
	// retry skips.
	Record(ctx context.Context, lines []app.Line, max int, ttl time.Duration) (int, error)
	// Calls returns aor's history, newest first.
	Calls(ctx context.Context, aor string) ([]app.Call, error)
	// Mark stores the time up to which every call event is recorded (the
	// events' ce-time), for the in-process feed of sipbus up to catch up
	// from after a restart; Marked returns it, false when none was stored.
	Mark(ctx context.Context, t time.Time) error
	Marked(ctx context.Context) (time.Time, bool, error)
}

// Locations looks bindings up (the registrar's location service).
type Locations interface {
	Lookup(ctx context.Context, aor string, now time.Time) ([]location.Binding, error)
}

// Server is the page's HTTP side.
type Server struct {
	Cfg       config.Config
	Sessions  *websession.Manager
	Directory subscriber.Directory
	Locations Locations
	Phonebook Phonebooks
	History   Histories
	Failures  digest.FailureCounter
	Hub       *Hub
	// Instances lists running services for the admin (nil: no listing).
	Instances Instances
	Log       *slog.Logger
	Now       func() time.Time

	tmpl *template.Template
}

// Init parses the templates.
func (s *Server) Init() error {
	t, err := template.New("").Funcs(template.FuncMap{
		"dialURI": dialURI,
		"dur":     func(d time.Duration) string { return d.String() },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.tmpl = t
	if s.Now == nil {
		s.Now = time.Now
	}
	return nil
}

// Mount registers the page's routes on mux. It leaves /v1/ (the
// click-to-dial API) and /healthz to their owners.
func (s *Server) Mount(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, secure(f)) }
	h("GET /{$}", s.root)
	h("GET /signin", s.signInForm)
	h("POST /signin", s.signIn)
	h("POST /signout", s.signOut)
	h("GET /u/{aor}/{$}", s.user(s.page))
	h("GET /u/{aor}/registrations.json", s.user(s.registrationsJSON))
	h("GET /u/{aor}/calls.json", s.user(s.callsJSON))
	h("GET /u/{aor}/phonebook.json", s.user(s.phonebookJSON))
	h("GET /u/{aor}/events", s.user(s.events))
	h("POST /u/{aor}/phonebook", s.user(s.post(s.phonebookAdd)))
	h("POST /u/{aor}/phonebook/{id}", s.user(s.post(s.phonebookEdit)))
	h("POST /u/{aor}/phonebook/{id}/delete", s.user(s.post(s.phonebookDelete)))
	h("POST /u/{aor}/account", s.user(s.post(s.account)))
	h("POST /u/{aor}/password", s.user(s.post(s.password)))
	h("GET /admin/services", s.admin(s.adminServices))
	h("POST /admin/users", s.admin(s.post(s.adminAdd)))
	h("POST /admin/users/{aor}/enabled", s.admin(s.post(s.adminEnabled)))
	h("POST /admin/users/{aor}/password", s.admin(s.post(s.adminPassword)))
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", secure(cacheStatic(http.StripPrefix("/static/", http.FileServerFS(static)))))
}

// csp: no inline script or style, nothing from elsewhere, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

type ctxKey int

const (
	keySession ctxKey = iota
	keyTarget
)

// user checks the session and that its user may act for {aor}: itself, or
// any AOR for an admin. A page request without a session goes to sign-in;
// other requests get 401. Another user's AOR is 403.
func (s *Server) user(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.Sessions.Session(r)
		if !ok {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/") {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			s.fail(w, r, http.StatusUnauthorized, "", "sign in first")
			return
		}
		target, err := location.ParseAOR(r.PathValue("aor"))
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, "aor", "not an address of record: "+r.PathValue("aor"))
			return
		}
		if target != sess.AOR && !sess.Admin {
			s.fail(w, r, http.StatusForbidden, "aor", "you may only see and change your own account")
			return
		}
		ctx := context.WithValue(r.Context(), keySession, sess)
		ctx = context.WithValue(ctx, keyTarget, target)
		next(w, r.WithContext(ctx))
	}
}

// admin checks the session is an admin's.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.Sessions.Session(r)
		if !ok {
			s.fail(w, r, http.StatusUnauthorized, "", "sign in first")
			return
		}
		if !sess.Admin {
			s.fail(w, r, http.StatusForbidden, "", "only an admin may manage users")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), keySession, sess)))
	}
}

// MaxForm bounds a form body.
const MaxForm = 16 << 10

// post parses the form (at most MaxForm bytes) and checks the CSRF token.
func (s *Server) post(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
		if err := r.ParseForm(); err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				s.fail(w, r, http.StatusRequestEntityTooLarge, "", "form over 16 KiB")
				return
			}
			s.fail(w, r, http.StatusBadRequest, "", "bad form: "+err.Error())
			return
		}
		if !s.Sessions.CheckCSRF(r, session(r)) {
			s.fail(w, r, http.StatusForbidden, "csrf", "missing or wrong CSRF token: reload the page and try again")
			return
		}
		next(w, r)
	}
}

func session(r *http.Request) websession.Session {
	v, _ := r.Context().Value(keySession).(websession.Session)
	return v
}

func target(r *http.Request) string {
	v, _ := r.Context().Value(keyTarget).(string)
	return v
}

// fail answers an error: JSON ({"error","field"}) for scripts, a small
// page otherwise. msg is escaped by the template.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, field, msg string) {
	if wantsJSON(r) {
		jsonError(w, status, field, msg)
		return
	}
	s.render(w, status, "error.html", map[string]any{"Status": status, "Field": field, "Msg": msg, "Back": r.Referer()})
}

func wantsJSON(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, ".json") || strings.HasSuffix(r.URL.Path, "/events") ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	b := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 1<<20 {
			b.Reset()
			bufPool.Put(b)
		}
	}()
	b.Reset()
	if err := s.tmpl.ExecuteTemplate(b, name, data); err != nil {
		s.Log.Error("web: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// dialURI is what click-to-dial calls for a phonebook target: a SIP URI as
// it is, a number in the user's domain.
func dialURI(t, aor string) string {
	if strings.HasPrefix(t, "sip:") || strings.HasPrefix(t, "sips:") {
		return t
	}
	_, domain, _ := strings.Cut(aor, "@")
	return "sip:" + t + "@" + domain
}
