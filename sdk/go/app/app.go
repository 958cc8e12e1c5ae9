package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Handler answers one request handed to the application.
type Handler func(ctx context.Context, r *Request) Answer

// Options configure an application.
type Options struct {
	// Name is the application's name: routes say `app: NAME`; it is the
	// durable consumer's name too. Required, [A-Za-z0-9_-].
	Name string
	// NATS is the server URL (default $SIPBUS_NATS_URL, the variable every
	// sipbus service reads, else nats://127.0.0.1:4222).
	NATS string
	// Stream is the JetStream stream (default bus.DefaultStream).
	Stream string
	// Log receives handler panics and failed commands (default slog.Default()).
	Log *slog.Logger
	// Concurrency is how many requests run at once (default 16).
	Concurrency int
	// Timeout bounds one handler (default 10s); past it the request is
	// answered 500.
	Timeout time.Duration
	// OnCall, when set, gets every call event (call.*) as a typed value.
	OnCall func(ctx context.Context, ev *CallEvent) error
	// OnReg, when set, gets every registration event (reg.contact.*).
	OnReg func(ctx context.Context, ev *RegEvent) error
}

// Validate reports every problem of o.
func (o *Options) Validate() error {
	var errs []error
	if o.Name == "" || bus.SafeToken(o.Name) != o.Name {
		errs = append(errs, fmt.Errorf("app: Name: %q: want [A-Za-z0-9_-]{1,64}", o.Name))
	}
	if o.Concurrency < 0 {
		errs = append(errs, errors.New("app: Concurrency: must not be negative"))
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("app: Timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// App is a running application (Start / Shutdown); Run is the short form.
type App struct {
	opt     Options
	h       Handler
	nc      *nats.Conn
	js      jetstream.JetStream
	reg     *regapi.Client
	cc      jetstream.ConsumeContext
	subs    []*bus.Subscription
	sem     chan struct{}
	onceKV  jetstream.KeyValue
	ownConn bool
	inst    *mgmt.Instance
	svc     micro.Service
}

// Run connects, serves h until ctx ends, and shuts down.
func Run(ctx context.Context, opt Options, h Handler) error {
	a, err := New(opt, h, nil)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}

// New builds an application; nc nil connects to opt.NATS at Start.
func New(opt Options, h Handler, nc *nats.Conn) (*App, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if h == nil && opt.OnCall == nil && opt.OnReg == nil {
		return nil, errors.New("app: a Handler, OnCall or OnReg is required")
	}
	if opt.Stream == "" {
		opt.Stream = bus.DefaultStream
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = 16
	}
	if opt.Timeout == 0 {
		opt.Timeout = 10 * time.Second
	}
	opt.Log = opt.Log.With("app", opt.Name)
	return &App{opt: opt, h: h, nc: nc, sem: make(chan struct{}, opt.Concurrency)}, nil
}

// Start connects (when needed) and subscribes.
func (a *App) Start(ctx context.Context) error {
	if a.nc == nil {
		url := a.opt.NATS
		if url == "" {
			url = os.Getenv("SIPBUS_NATS_URL")
		}
		if url == "" {
			url = nats.DefaultURL
		}
		nc, err := nats.Connect(url, nats.Name("sipbus-app-"+a.opt.Name), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("app: NATS %s: %w", url, err)
		}
		a.nc, a.ownConn = nc, true
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return err
	}
	a.js, a.reg = js, &regapi.Client{NC: a.nc}
	if err := a.register(); err != nil {
		return err
	}
	if a.h == nil {
		return a.subscribeEvents(ctx)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, a.opt.Stream, jetstream.ConsumerConfig{
		Durable: "app-" + a.opt.Name, FilterSubject: "app." + a.opt.Name + ".*",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: a.opt.Timeout + 5*time.Second,
		MaxAckPending: a.opt.Concurrency, MaxDeliver: 5,
	})
	if err != nil {
		return fmt.Errorf("app: consumer app-%s on %s: %w", a.opt.Name, a.opt.Stream, err)
	}
	if a.cc, err = cons.Consume(a.onMsg); err != nil {
		return err
	}
	if err := a.subscribeEvents(ctx); err != nil {
		if a.cc != nil {
			a.cc.Stop()
		}
		return err
	}
	return nil
}

// Shutdown stops taking requests and waits for those running.
func (a *App) Shutdown(ctx context.Context) error {
	if a.svc != nil {
		_ = a.svc.Stop()
	}
	if a.cc != nil {
		a.cc.Drain()
	}
	for _, s := range a.subs {
		_ = s.Stop(ctx)
	}
	for range cap(a.sem) {
		select {
		case a.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.ownConn {
		return a.nc.Drain()
	}
	return nil
}

// onMsg runs one hand-over in its own goroutine (bounded by sem).
func (a *App) onMsg(m jetstream.Msg) {
	a.sem <- struct{}{}
	done := a.inst.Begin()
	go func() {
		defer func() { <-a.sem; done() }()
		a.handle(m)
	}()
}

func (a *App) handle(m jetstream.Msg) {
	s, err := events.DecodeSIP(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
	if err != nil {
		a.opt.Log.Warn("app: not a hand-over event, dropped", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	msg, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
	if err != nil {
		a.opt.Log.Warn("app: hand-over holds no SIP request, dropped", "event", s.ID, "err", err)
		_ = m.Term()
		return
	}
	r := &Request{ev: s, msg: msg, app: a}
	ans := a.run(r)
	if ans.lookup != "" {
		ans = a.resolveUser(r, ans.lookup)
	}
	st, err := a.command(r, ans)
	switch {
	case err != nil || st.Status == 503:
		a.opt.Log.Warn("app: tm did not take the answer, later again", "event", s.ID, "status", st.Status, "reason", st.Reason, "err", err)
		_ = m.NakWithDelay(time.Second)
	case st.Status == 200 || st.Status == 409 || st.Status == 404:
		// 409: answered before (a redelivery); 404: the transaction is gone.
		_ = m.Ack()
	default:
		a.opt.Log.Error("app: tm refused the answer", "event", s.ID, "status", st.Status, "reason", st.Reason)
		_ = m.Ack()
	}
}

// run calls the handler with a timeout; a panic or a timeout is a 500.
func (a *App) run(r *Request) (ans Answer) {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), appKey{}, a), a.opt.Timeout)
	defer cancel()
	done := make(chan Answer, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				a.opt.Log.Error("app: handler panicked; answered 500", "event", r.ev.ID, "call_id", r.CallID(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- Reply(500, "Server Internal Error")
			}
		}()
		done <- a.h(ctx, r)
	}()
	select {
	case ans = <-done:
	case <-ctx.Done():
		a.opt.Log.Error("app: handler timed out; answered 500", "event", r.ev.ID, "timeout", a.opt.Timeout)
		ans = Reply(500, "Server Internal Error")
	}
	if ans.action == "" {
		ans = Reply(500, "Server Internal Error")
	}
	return ans
}
