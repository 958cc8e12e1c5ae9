package ports

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// Calls is what the API drives (package ctd's Service).
type Calls interface {
	// Dial starts a click-to-dial with id from from to to for owner.
	Dial(ctx context.Context, id, owner, from, to string) (app.State, error)
	// Get returns a call or ErrNotFound.
	Get(ctx context.Context, id string) (app.State, error)
	// Hangup ends a call (CANCEL or BYE as it stands).
	Hangup(ctx context.Context, id string) (app.State, error)
}

// Users says whether an AOR is a subscriber (the registrar's directory).
type Users interface {
	Exists(ctx context.Context, aor string) (bool, error)
}

// Authenticate identifies the user of a request: the AOR it acts for, and
// admin for operators (who may dial from any AOR). ok false: not
// authenticated. The web page (issue 16) plugs its signed session in here.
type Authenticate func(r *http.Request) (aor string, admin bool, ok bool)

// TokenAuth authenticates "Authorization: Bearer <token>" with t.
func TokenAuth(t Tokens) Authenticate {
	return func(r *http.Request) (string, bool, bool) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 256 {
			return "", false, false
		}
		aor, err := t.LookupToken(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			return "", false, false
		}
		return aor, false, true
	}
}

// AdminToken authenticates one operator token (constant-time compare).
func AdminToken(secret string) Authenticate {
	return func(r *http.Request) (string, bool, bool) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if secret == "" || !ok || !strings.EqualFold(scheme, "Bearer") ||
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(secret)) != 1 {
			return "", false, false
		}
		return "", true, true
	}
}

// AnyOf tries each in turn.
func AnyOf(as ...Authenticate) Authenticate {
	return func(r *http.Request) (string, bool, bool) {
		for _, a := range as {
			if a == nil {
				continue
			}
			if aor, admin, ok := a(r); ok {
				return aor, admin, ok
			}
		}
		return "", false, false
	}
}

// API limits.
const (
	MaxBody      = 4 << 10 // POST /v1/calls body
	MaxURI       = 512     // from, to
	SSEPoll      = 150 * time.Millisecond
	SSEKeepAlive = 15 * time.Second
	SSEMax       = 15 * time.Minute // one stream's lifetime; clients reconnect with Last-Event-ID
)

// API is the HTTP API of click-to-dial.
type API struct {
	Calls Calls
	Users Users
	Auth  Authenticate
	Log   *slog.Logger
	NewID func() string
}

// Mount registers the routes on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/calls", a.create)
	mux.HandleFunc("GET /v1/calls/{id}", a.get)
	mux.HandleFunc("DELETE /v1/calls/{id}", a.delete)
	mux.HandleFunc("GET /v1/calls/{id}/events", a.events)
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s may be a call id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// CallRequest is the body of POST /v1/calls.
type CallRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// CallView is a call as the API shows it.
type CallView struct {
	ID       string         `json:"id"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	Phase    app.Phase      `json:"phase"`
	Mode     string         `json:"mode"`
	Status   int            `json:"status,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Done     bool           `json:"done"`
	Progress []app.Progress `json:"progress"`
	Created  time.Time      `json:"created"`
	Updated  time.Time      `json:"updated"`
}

// View is s for the API.
func View(s app.State) CallView {
	return CallView{ID: s.ID, From: s.From, To: s.To, Phase: s.Phase, Mode: s.Mode, Status: s.Status, Reason: s.Reason,
		Done: s.Done, Progress: s.Progress, Created: s.Created, Updated: s.Updated}
}

func (a *API) auth(w http.ResponseWriter, r *http.Request) (string, bool, bool) {
	aor, admin, ok := a.Auth(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sipbus"`)
		httpfront.Error(w, http.StatusUnauthorized, "Authorization", "an API token (Authorization: Bearer ...) or a session is required")
	}
	return aor, admin, ok
}

// CheckURI validates a from or to address: a sip: or sips: URI with a
// user part, at most MaxURI bytes, no header part. It returns the URI
// as given and its AOR.
func CheckURI(field, s string) (string, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", fmt.Errorf("%s is required", field)
	}
	if len(s) > MaxURI {
		return "", "", fmt.Errorf("%s: longer than %d bytes", field, MaxURI)
	}
	u, err := sipmsg.ParseURI(s)
	if err != nil {
		return "", "", fmt.Errorf("%s: not a SIP URI: %s", field, app.Clean(err.Error(), 200))
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return "", "", fmt.Errorf("%s: want a sip: or sips: URI", field)
	}
	if u.User == "" || u.Host == "" {
		return "", "", fmt.Errorf("%s: want user@host", field)
	}
	if u.Headers != "" || strings.ContainsAny(s, " <>\"\r\n") {
		return "", "", fmt.Errorf("%s: a bare URI without headers is required", field)
	}
	aor, err := location.ParseAOR(s)
	if err != nil {
		return "", "", fmt.Errorf("%s: %s", field, app.Clean(err.Error(), 200))
	}
	return s, aor, nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	user, admin, ok := a.auth(w, r)
	if !ok {
		return
	}
	var req CallRequest
	if !httpfront.DecodeJSON(w, r, MaxBody, &req) {
		return
	}
	from, fromAOR, err := CheckURI("from", req.From)
	if err != nil {
		httpfront.Error(w, http.StatusBadRequest, "from", err.Error())
		return
	}
	to, _, err := CheckURI("to", req.To)
	if err != nil {
		httpfront.Error(w, http.StatusBadRequest, "to", err.Error())
		return
	}
	if !admin && fromAOR != user {
		httpfront.Error(w, http.StatusForbidden, "from", "you may only click-to-dial from an address of record you own")
		return
	}
	if a.Users != nil {
		exists, err := a.Users.Exists(r.Context(), fromAOR)
		if err != nil {
			a.fail(w, err)
			return
		}
		if !exists {
			httpfront.Error(w, http.StatusNotFound, "from", "no subscriber "+fromAOR)
			return
		}
	}
	s, err := a.Calls.Dial(r.Context(), a.NewID(), fromAOR, from, to)
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Location", "/v1/calls/"+s.ID)
	httpfront.JSON(w, http.StatusCreated, View(s))
}

// load answers 400/404 itself; a call of another AOR is 404 for non-admins
// (its existence is not told).
func (a *API) load(w http.ResponseWriter, r *http.Request) (app.State, bool) {
	user, admin, ok := a.auth(w, r)
	if !ok {
		return app.State{}, false
	}
	id := r.PathValue("id")
	if !ValidID(id) {
		httpfront.Error(w, http.StatusBadRequest, "id", "a call id is 1 to 64 letters, digits, - or _")
		return app.State{}, false
	}
	s, err := a.Calls.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) || err == nil && !admin && s.Owner != user {
		httpfront.Error(w, http.StatusNotFound, "id", "no such call")
		return app.State{}, false
	}
	if err != nil {
		a.fail(w, err)
		return app.State{}, false
	}
	return s, true
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.load(w, r); ok {
		httpfront.JSON(w, http.StatusOK, View(s))
	}
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	s, ok := a.load(w, r)
	if !ok {
		return
	}
	s, err := a.Calls.Hangup(r.Context(), s.ID)
	if err != nil {
		a.fail(w, err)
		return
	}
	httpfront.JSON(w, http.StatusOK, View(s))
}

func (a *API) fail(w http.ResponseWriter, err error) {
	a.Log.Error("ctd api", "err", err)
	httpfront.Error(w, http.StatusServiceUnavailable, "", "click-to-dial is unavailable, try again")
}

// events streams the call's progress as Server-Sent Events: id = n, event
// = phase, data = the progress as JSON (the data of the ctd CloudEvent).
// It starts after Last-Event-ID when given and ends after a terminal phase.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	s, ok := a.load(w, r)
	if !ok {
		return
	}
	after := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			httpfront.Error(w, http.StatusBadRequest, "Last-Event-ID", "want the number of an event")
			return
		}
		after = n
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		httpfront.Error(w, http.StatusInternalServerError, "", "streaming unsupported")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx, cancel := context.WithTimeout(r.Context(), SSEMax)
	defer cancel()
	poll := time.NewTicker(SSEPoll)
	defer poll.Stop()
	lastWrite := time.Now()
	for {
		for _, p := range s.Progress {
			if p.N <= after {
				continue
			}
			b, _ := json.Marshal(ProgressEvent(s, p))
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", p.N, p.Phase, b); err != nil {
				return
			}
			after, lastWrite = p.N, time.Now()
		}
		fl.Flush()
		if s.Phase.Terminal() && len(s.Progress) > 0 && after >= s.Progress[len(s.Progress)-1].N &&
			(s.Done || s.Phase == app.PhaseConnected) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if time.Since(lastWrite) > SSEKeepAlive {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		ns, err := a.Calls.Get(ctx, s.ID)
		if err != nil {
			return
		}
		s = ns
	}
}
