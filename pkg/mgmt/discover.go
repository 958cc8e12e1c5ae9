package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultWait is how long Discover waits for answers: an instance that
// does not answer within it is not listed.
const DefaultWait = time.Second

// Found is one instance that answered Discover.
type Found struct {
	Service     string    `json:"service"`  // short name (metadata sipbus_service, else the micro name)
	Name        string    `json:"name"`     // micro service name
	MicroID     string    `json:"micro_id"` // micro's instance id ($SRV.*.<name>.<micro_id>)
	ID          string    `json:"id"`       // sipbus instance id (metadata sipbus_id, else the micro id)
	Version     string    `json:"version"`
	Host        string    `json:"host,omitempty"`
	PID         string    `json:"pid,omitempty"`
	Started     time.Time `json:"started"`
	Description string    `json:"description,omitempty"`
	Status      Status    `json:"status"`
	// Counters is the service's own stats (Status.Counters, raw).
	Counters  json.RawMessage `json:"counters,omitempty"`
	Endpoints []Endpoint      `json:"endpoints"`
}

// Uptime is how long the instance has run at now.
func (f *Found) Uptime(now time.Time) time.Duration { return now.Sub(f.Started) }

// Endpoint is one endpoint of an instance, with its request counters.
type Endpoint struct {
	Name        string `json:"name"`
	Subject     string `json:"subject"`
	QueueGroup  string `json:"queue_group,omitempty"`
	Schema      string `json:"schema,omitempty"`
	NumRequests int    `json:"num_requests"`
	NumErrors   int    `json:"num_errors"`
	LastError   string `json:"last_error,omitempty"`
}

// ErrNoInstances: nothing answered.
var ErrNoInstances = errors.New("mgmt: no service instance answered")

// Discover asks every micro service (or those named service, a micro
// name) for INFO and STATS and returns the instances that answered
// STATS within wait, sorted by service and id.
func Discover(ctx context.Context, nc *nats.Conn, service string, wait time.Duration) ([]Found, error) {
	if wait <= 0 {
		wait = DefaultWait
	}
	inbox := nc.NewRespInbox()
	ch := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("mgmt: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	for _, verb := range []micro.Verb{micro.InfoVerb, micro.StatsVerb} {
		subj, err := micro.ControlSubject(verb, service, "")
		if err != nil {
			return nil, fmt.Errorf("mgmt: service %q: %w", service, err)
		}
		if err := nc.PublishRequest(subj, inbox, nil); err != nil {
			return nil, fmt.Errorf("mgmt: %s: %w", subj, err)
		}
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("mgmt: flush: %w", err)
	}
	infos := map[string]*micro.Info{}
	stats := map[string]*micro.Stats{}
	timer := time.NewTimer(wait)
	defer timer.Stop()
collect:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			break collect
		case m := <-ch:
			collect(m.Data, infos, stats)
		}
	}
	out := make([]Found, 0, len(stats))
	for id, st := range stats {
		out = append(out, merge(st, infos[id]))
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Service != out[b].Service {
			return out[a].Service < out[b].Service
		}
		return out[a].ID < out[b].ID
	})
	if len(out) == 0 {
		return nil, ErrNoInstances
	}
	return out, nil
}

// collect files one answer (any bytes from the network) as an INFO or a
// STATS reply; anything else is ignored.
func collect(data []byte, infos map[string]*micro.Info, stats map[string]*micro.Stats) {
	var probe struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.ID == "" {
		return
	}
	switch probe.Type {
	case micro.InfoResponseType:
		var in micro.Info
		if json.Unmarshal(data, &in) == nil && in.ID == probe.ID {
			infos[in.ID] = &in
		}
	case micro.StatsResponseType:
		var st micro.Stats
		if json.Unmarshal(data, &st) == nil && st.ID == probe.ID {
			stats[st.ID] = &st
		}
	}
}

// merge builds a Found from an instance's STATS and INFO (nil when its
// INFO did not come).
func merge(st *micro.Stats, in *micro.Info) Found {
	md := st.Metadata
	f := Found{
		Service: md[MetaService], Name: st.Name, MicroID: st.ID, ID: md[MetaID],
		Version: st.Version, Host: md[MetaHost], PID: md[MetaPID], Started: st.Started,
	}
	if f.Service == "" {
		f.Service = strings.TrimPrefix(st.Name, "sipbus-")
	}
	if f.Service == "" {
		f.Service = "?"
	}
	if f.ID == "" {
		f.ID = st.ID
	}
	schemas := map[string]string{}
	if in != nil {
		f.Description = in.Description
		for _, e := range in.Endpoints {
			schemas[e.Name] = e.Metadata[MetaSchema]
		}
	}
	for i, e := range st.Endpoints {
		if i == 0 && len(e.Data) > 0 {
			var raw struct {
				Status
				Counters json.RawMessage `json:"counters"`
			}
			if json.Unmarshal(e.Data, &raw) == nil {
				f.Status, f.Counters = raw.Status, raw.Counters
				f.Status.Counters = nil
			}
		}
		f.Endpoints = append(f.Endpoints, Endpoint{
			Name: e.Name, Subject: e.Subject, QueueGroup: e.QueueGroup, Schema: schemas[e.Name],
			NumRequests: e.NumRequests, NumErrors: e.NumErrors, LastError: e.LastError,
		})
		// A failed request is an error too, when the service logged none.
		if f.Status.LastError == "" && e.LastError != "" {
			f.Status.LastError = e.Name + ": " + e.LastError
		}
	}
	return f
}
