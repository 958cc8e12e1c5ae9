package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// cmdTail prints live events, one per line: a short text form, or with
// --json each CloudEvent in the structured JSON format of the CloudEvents
// spec (SIP message events as events.SIP.JSON renders them, with the message
// as "data"; the others written by the CloudEvents SDK), so any
// CloudEvents tool reads it.
func cmdTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	asJSON := fs.Bool("json", false, "print each event as CloudEvent JSON")
	typePrefix := fs.String("type", "", "only events whose type starts with PREFIX (e.g. sipbus.sip.request)")
	callID := fs.String("call-id", "", "only events of the call with this Call-ID")
	since := fs.Duration("since", 0, "also print events from this long ago (default: new events only)")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("tail: unexpected argument %q", fs.Arg(0))}
	}
	if *since < 0 {
		return errUsage{fmt.Errorf("--since: must not be negative")}
	}
	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-tail"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if *since > 0 {
		start := time.Now().Add(-*since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	var callKey string // the call's partition is selected; its other calls are dropped
	if *callID != "" {
		callKey = sipmsg.CallKey(*callID)
		cfg.FilterSubjects = bus.CallFilter(callKey)
	}
	cons, err := js.OrderedConsumer(ctx, *stream, cfg)
	if err != nil {
		return fmt.Errorf("--stream %s: %w", *stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); it.Stop() }()
	fmt.Fprintf(stderr, "sipbus tail: %s stream %s\n", *natsURL, *stream)
	for {
		jm, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		if callKey != "" && bus.CallKeyOf(jm.Headers()) != callKey {
			continue
		}
		nm := &nats.Msg{Subject: jm.Subject(), Header: jm.Headers(), Data: jm.Data()}
		if ct := nm.Header.Get(bus.HeaderContentType); ct == events.ContentTypeSIP {
			s, err := events.DecodeSIP(nm)
			if err != nil {
				fmt.Fprintf(stderr, "sipbus tail: %s: %v\n", jm.Subject(), err)
				continue
			}
			if !keepSIP(s, *typePrefix, *callID) {
				continue
			}
			if s.Time.IsZero() {
				// The sent events of tm carry no time attribute (the
				// log stamps them): show when the stream stored it.
				if md, err := jm.Metadata(); err == nil {
					s.Time = md.Timestamp
				}
			}
			if *asJSON {
				b, err := s.JSON()
				if err != nil {
					fmt.Fprintf(stderr, "sipbus tail: %s: %v\n", s.ID, err)
					continue
				}
				fmt.Fprintf(stdout, "%s\n", b)
				continue
			}
			fmt.Fprintln(stdout, sipLine(s))
			continue
		}
		ev, err := bus.Decode(nm)
		if err != nil {
			fmt.Fprintf(stderr, "sipbus tail: %s: %v\n", jm.Subject(), err)
			continue
		}
		if *typePrefix != "" && !strings.HasPrefix(ev.Type, *typePrefix) {
			continue
		}
		if *callID != "" && ev.Subject != *callID {
			continue
		}
		if *asJSON {
			b, err := json.Marshal(toCloudEvent(ev))
			if err != nil {
				fmt.Fprintf(stderr, "sipbus tail: %s: %v\n", ev.ID, err)
				continue
			}
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		fmt.Fprintln(stdout, textLine(ev))
	}
}

// keepSIP applies --type and --call-id to a SIP message event (the Call-ID
// is read from the message: the call key filter can collide).
func keepSIP(s *events.SIP, typePrefix, callID string) bool {
	if typePrefix != "" && !strings.HasPrefix(s.Type, typePrefix) {
		return false
	}
	if callID == "" {
		return true
	}
	m, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
	if err != nil {
		m, err = sipmsg.Parse(s.Raw, sipmsg.Stream)
	}
	return err == nil && m.CallID() == callID
}

// sipLine is the text line of a SIP message event: "time type subject"
// and the start line, Call-ID and where it came from or goes, quoted.
func sipLine(s *events.SIP) string {
	var b strings.Builder
	at := s.Time
	if at.IsZero() {
		at = time.Now()
	}
	b.WriteString(at.Local().Format("15:04:05.000"))
	b.WriteString(" ")
	b.WriteString(s.Type)
	b.WriteString(" ")
	b.WriteString(s.NATSSubject)
	first := s.Raw
	if i := strings.IndexAny(string(first), "\r\n"); i >= 0 {
		first = first[:i]
	}
	fmt.Fprintf(&b, " %q", string(first))
	if m, err := sipmsg.Parse(s.Raw, sipmsg.Datagram); err == nil {
		fmt.Fprintf(&b, " call_id=%q", m.CallID())
	}
	for _, kv := range [][2]string{{"from", s.Remote}, {"dest", s.Dest}, {"edge", s.Edge}, {"reason", s.Reason}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%q", kv[0], kv[1])
		}
	}
	return b.String()
}

// toCloudEvent converts to the SDK's event type for the structured JSON form.
func toCloudEvent(ev *bus.Event) cloudevents.Event {
	ce := cloudevents.NewEvent()
	ce.SetID(ev.ID)
	ce.SetSource(ev.Source)
	ce.SetType(ev.Type)
	if ev.Subject != "" {
		ce.SetSubject(ev.Subject)
	}
	ce.SetTime(ev.Time)
	if ev.DataSchema != "" {
		ce.SetDataSchema(ev.DataSchema)
	}
	if ev.CallKey != "" {
		ce.SetExtension("callkey", ev.CallKey)
	}
	if ev.TraceParent != "" {
		ce.SetExtension("traceparent", ev.TraceParent)
	}
	ce.SetExtension("natssubject", ev.NATSSubject)
	_ = ce.SetData(cloudevents.ApplicationJSON, json.RawMessage(ev.Data))
	return ce
}

// textLine is "time type nats-subject key=value ..." with a few well-known
// data fields; values are quoted, so message content cannot forge lines.
func textLine(ev *bus.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("15:04:05.000"))
	b.WriteString(" ")
	b.WriteString(ev.Type)
	b.WriteString(" ")
	b.WriteString(ev.NATSSubject)
	var data map[string]any
	if json.Unmarshal(ev.Data, &data) == nil {
		for _, k := range []string{"method", "request_uri", "status", "reason", "call_id", "tx_key", "dest"} {
			if v, ok := data[k]; ok && v != "" && v != float64(0) {
				fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(v))
			}
		}
	}
	return b.String()
}
