package ports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// Rule is an exec rule as the handlers run it.
type Rule struct {
	Name        string
	Events      []string
	Argv        []string
	Env         map[string]string
	Dir         string
	Timeout     time.Duration
	Concurrency int
}

// ConsumerExec is the durable consumer of an exec rule.
func ConsumerExec(rule string) string { return "notifier-exec-" + rule }

// defaultPath is the PATH of a program whose rule sets none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// OnExec returns the handler of rule: the program runs once per event of
// the rule's types (fence exec.<rule>.<event id>), directly (no shell),
// with the event as JSON on stdin and its SIP_* variables; its exit
// status, how long it ran and its output (escaped, cut) are logged. A
// program that exits non-zero or outlives its timeout (its process group
// is killed) is dead-lettered: `sipbus notifier retry` runs it again.
func (h *Handlers) OnExec(rule Rule) bus.Handler {
	return func(ctx context.Context, ev *bus.Event) error {
		if !app.MatchType(rule.Events, ev.Type) || programFailure(ev) {
			return nil
		}
		key := app.ExecKey(rule.Name, ev.ID)
		owner := h.owner()
		lease := max(h.Lease, 2*rule.Timeout+10*time.Second)
		c, err := h.State.Acquire(ctx, key, owner, lease)
		if err != nil {
			return err
		}
		if !c.Taken {
			return h.held(c, key)
		}
		nf, err := h.runRule(ctx, rule, ev, max(ev.Delivery, 1))
		if err != nil { // the callee's lookup failed: later
			h.release(ctx, key, owner)
			return err
		}
		if nf == nil {
			h.complete(ctx, key, owner, app.FenceSent, "exit 0")
			return nil
		}
		return h.deadLetter(ctx, owner, nf)
	}
}

// programFailure reports the dead letter of a program: exec rules do not
// run on those, or a failing program (or two rules failing on each
// other's failures) would feed itself for ever.
func programFailure(ev *bus.Event) bool {
	if ev.Type != events.TypeNotifyFailed {
		return false
	}
	var nf struct {
		Kind string `json:"kind"`
	}
	return json.Unmarshal(ev.Data, &nf) != nil || nf.Kind == events.NotifyExec
}

// runRule runs rule's program on ev and returns its dead letter when it
// failed (nil when it exited 0). An error is a temporary failure before
// the program ran.
func (h *Handlers) runRule(ctx context.Context, rule Rule, ev *bus.Event, attempts int) (*events.NotifyFailed, error) {
	callee, err := h.calleeOf(ctx, ev)
	if err != nil {
		return nil, err
	}
	info := app.EventInfo{ID: ev.ID, Type: ev.Type, Source: ev.Source, Subject: ev.Subject, Time: ev.Time}
	env := map[string]string{"PATH": defaultPath, "LANG": "C.UTF-8"}
	maps.Copy(env, rule.Env)
	vars := make([]string, 0, len(env)+32)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, k+"="+env[k])
	}
	vars = append(vars, app.ExecEnv(info, ev.Data, callee)...)
	res := h.Runner.Run(ctx, adapters.Run{Argv: rule.Argv, Env: vars, Dir: rule.Dir, Stdin: app.EventJSON(info, ev.Data), Timeout: rule.Timeout})
	log := h.Log.With("rule", rule.Name, "event", app.LogText(ev.ID, 256), "type", app.LogText(ev.Type, 128),
		"exit", res.Exit, "killed", res.Killed, "duration", res.Duration.Round(time.Millisecond),
		"stdout", app.LogText(string(res.Stdout), 2048), "stderr", app.LogText(string(res.Stderr), 2048))
	if res.Exit == 0 && res.Err == nil {
		h.Counters.Ran.Add(1)
		log.Info("notifier: exec")
		return nil, nil
	}
	h.Counters.ExecFailed.Add(1)
	what := fmt.Sprintf("exit status %d", res.Exit)
	switch {
	case res.Killed:
		what = fmt.Sprintf("killed at its timeout (%v)", rule.Timeout)
	case res.Err != nil:
		what = res.Err.Error()
	}
	if len(res.Stderr) > 0 {
		what += "; stderr: " + string(res.Stderr)
	}
	log.Warn("notifier: exec failed", "error", app.LogText(what, 1024))
	key := app.ExecKey(rule.Name, ev.ID)
	return &events.NotifyFailed{ID: app.FailureID(key), Kind: events.NotifyExec, Key: key, Permanent: true,
		Code: res.Exit, Error: what, Attempts: attempts, Rule: rule.Name, Event: eventOf(ev)}, nil
}

// calleeOf finds the subscriber a call event is for (nil for other events
// and callees that are no subscribers).
func (h *Handlers) calleeOf(ctx context.Context, ev *bus.Event) (*subscriber.Subscriber, error) {
	if !strings.HasPrefix(ev.Type, "sipbus.call.") {
		return nil, nil
	}
	var m events.CallMissed // every call event has caller, callee; missed adds request_uri
	if json.Unmarshal(ev.Data, &m) != nil {
		return nil, nil
	}
	aor, ok := app.CalleeAOR(&m)
	if !ok {
		return nil, nil
	}
	s, err := h.Directory.Get(ctx, aor)
	if errors.Is(err, subscriber.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notifier: subscriber %s: %w", aor, err)
	}
	return &s, nil
}
