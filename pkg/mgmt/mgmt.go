package mgmt

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// Version is the sipbus release every instance reports (micro requires
// SemVer).
const Version = "0.4.0"

// Metadata keys of every sipbus instance (micro.Config.Metadata).
const (
	MetaService = "sipbus_service"
	MetaID      = "sipbus_id"
	MetaHost    = "host"
	MetaPID     = "pid"
	MetaStarted = "started"
	// MetaSchema is the endpoint metadata key naming the schema of the
	// endpoint's request (a $id under events.SchemaBase).
	MetaSchema = "schema"
)

// Instance is one running service instance as management sees it. Make
// it with New; it is safe for concurrent use.
type Instance struct {
	Service string    // short name: edge, tm, registrar, notifier
	ID      string    // the instance's id
	Host    string    // os.Hostname()
	Started time.Time // when New ran

	tracked atomic.Int64 // Begin .. done

	mu       sync.Mutex
	inFlight func() int64
	extra    func() any
	lastErr  string
	lastAt   time.Time
}

// New describes an instance of service with id, started now.
func New(service, id string) *Instance {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return &Instance{Service: service, ID: id, Host: host, Started: time.Now().UTC()}
}

// SetInFlight sets how the instance counts the work it holds now.
func (i *Instance) SetInFlight(f func() int64) {
	i.mu.Lock()
	i.inFlight = f
	i.mu.Unlock()
}

// Begin counts one piece of work in flight until the returned function
// runs (added to what SetInFlight counts).
func (i *Instance) Begin() (done func()) {
	i.tracked.Add(1)
	return func() { i.tracked.Add(-1) }
}

// SetExtra sets the service's own counters, added to Status as "counters".
func (i *Instance) SetExtra(f func() any) {
	i.mu.Lock()
	i.extra = f
	i.mu.Unlock()
}

// RecordError remembers msg as the instance's last error.
func (i *Instance) RecordError(msg string) {
	i.mu.Lock()
	i.lastErr, i.lastAt = msg, time.Now().UTC()
	i.mu.Unlock()
}

// Status is the data of an instance's STATS reply.
type Status struct {
	InFlight    int64     `json:"in_flight"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Counters    any       `json:"counters,omitempty"`
}

// Status reads the instance's status now.
func (i *Instance) Status() Status {
	i.mu.Lock()
	inFlight, extra := i.inFlight, i.extra
	s := Status{LastError: i.lastErr, LastErrorAt: i.lastAt}
	i.mu.Unlock()
	s.InFlight = i.tracked.Load()
	if inFlight != nil {
		s.InFlight += inFlight()
	}
	if extra != nil {
		s.Counters = extra()
	}
	return s
}

// Metadata is the instance's micro metadata (the Meta* keys) merged with
// extra.
func (i *Instance) Metadata(extra map[string]string) map[string]string {
	m := map[string]string{
		MetaService: i.Service, MetaID: i.ID, MetaHost: i.Host,
		MetaPID: strconv.Itoa(os.Getpid()), MetaStarted: i.Started.Format(time.RFC3339Nano),
	}
	for k, v := range extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return m
}

// Config completes a service's micro.Config: Version, the metadata and
// the StatsHandler (Status). Name, Description, QueueGroup and endpoints
// stay the service's.
func (i *Instance) Config(c micro.Config) micro.Config {
	c.Version = Version
	c.Metadata = i.Metadata(c.Metadata)
	c.StatsHandler = func(*micro.Endpoint) any { return i.Status() }
	return c
}

// Schema is the endpoint option naming the schema of its request.
func Schema(id string) micro.EndpointOpt {
	return micro.WithEndpointMetadata(map[string]string{MetaSchema: id})
}

// Handler wraps h so that every record at level Error, and every record
// at level Warn with an "err" attribute (a failed REGISTER, a refused
// mail), becomes the instance's last error: its message and the error.
// Start-up warnings without an error (a missing secret) are not errors.
func (i *Instance) Handler(h slog.Handler) slog.Handler { return &errHandler{h: h, i: i} }

// Logger is log with Handler applied; a nil log is slog.Default().
func (i *Instance) Logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		log = slog.Default()
	}
	return slog.New(i.Handler(log.Handler()))
}

type errHandler struct {
	h slog.Handler
	i *Instance
}

var _ slog.Handler = (*errHandler)(nil)

func (e *errHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || e.h.Enabled(ctx, l)
}

func (e *errHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		msg, withErr := r.Message, false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" || a.Key == "error" {
				msg += ": " + a.Value.String()
				withErr = true
				return false
			}
			return true
		})
		if r.Level >= slog.LevelError || withErr {
			e.i.RecordError(msg)
		}
	}
	if !e.h.Enabled(ctx, r.Level) {
		return nil
	}
	return e.h.Handle(ctx, r)
}

func (e *errHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &errHandler{h: e.h.WithAttrs(as), i: e.i}
}

func (e *errHandler) WithGroup(name string) slog.Handler {
	return &errHandler{h: e.h.WithGroup(name), i: e.i}
}
