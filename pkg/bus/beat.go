package bus

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Beats: every long-running instance (edge, tm, registrar) publishes a
// small JSON heartbeat on core NATS, outside the stream:
//
//	sipbus.beat.<service>.<id>
//
// once per Every, and at once when its load state changes. Edges read the
// beats of tm and registrar replicas to shed new dialogs while one reports
// overload; tm reads the edges' beats to know which edges are alive (a
// response leaves from the edge its request came in on while that edge
// lives). `nats sub 'sipbus.beat.>'` shows who is running.

// BeatFilter matches every beat.
const BeatFilter = "sipbus.beat.>"

// DefaultBeatEvery is how often an instance beats when nothing changes.
const DefaultBeatEvery = time.Second

// SubjectBeat is the beat subject of one instance.
func SubjectBeat(service, id string) string {
	return "sipbus.beat." + SafeToken(service) + "." + SafeToken(id)
}

// Beat is one heartbeat.
type Beat struct {
	Service string    `json:"service"` // "edge", "tm", "registrar"
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	// EveryMs is the interval until the next beat; a receiver forgets what
	// a beat said after twice that.
	EveryMs int64 `json:"every_ms"`
	// Overloaded: the instance's input queue holds a standing delay
	// (Overload); new dialogs for it should be refused.
	Overloaded bool `json:"overloaded,omitempty"`
	// QueueDelayMs is the queueing delay of the latest input, milliseconds.
	QueueDelayMs float64 `json:"queue_delay_ms"`
	// WindowDelayMs is the average queueing delay of the latest window
	// of the overload detector, milliseconds: whether a standing queue
	// grows or drains (edges hold their shedding while it drains).
	WindowDelayMs float64 `json:"window_delay_ms,omitempty"`
}

// Every is the beat interval as a duration (DefaultBeatEvery when unset).
func (b *Beat) Every() time.Duration {
	if b.EveryMs <= 0 {
		return DefaultBeatEvery
	}
	return time.Duration(b.EveryMs) * time.Millisecond
}

// PublishBeat sends b on its subject (core NATS, fire and forget).
func PublishBeat(nc *nats.Conn, b *Beat) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return nc.Publish(SubjectBeat(b.Service, b.ID), data)
}

// DecodeBeat reads a beat; the message says what is wrong.
func DecodeBeat(data []byte) (*Beat, error) {
	var b Beat
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("bus: beat: %w", err)
	}
	if b.Service == "" || b.ID == "" {
		return nil, fmt.Errorf("bus: beat: service and id are required")
	}
	return &b, nil
}
