package events

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON renders the event in the CloudEvents JSON format (structured mode):
// the attributes as members, the SIP message as "data" when it is valid
// UTF-8, else as "data_base64". It is what `sipbus tail --json` prints and
// what the schemas in schemas/ describe.
func (s *SIP) JSON() ([]byte, error) {
	m := map[string]any{
		"specversion": "1.0", "id": s.ID, "source": s.Source, "type": s.Type,
		"datacontenttype": ContentTypeSIP, "callkey": s.CallKey,
	}
	if !s.Time.IsZero() {
		m["time"] = s.Time.UTC().Format(time.RFC3339Nano)
	}
	opt := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	opt("traceparent", s.TraceParent)
	opt("siptransport", s.Transport)
	opt("siplocal", s.Local)
	opt("sipremote", s.Remote)
	opt("sipflow", s.Flow)
	opt("sipedge", s.Edge)
	opt("sipdest", s.Dest)
	opt("siptxkey", s.TxKey)
	if s.Status != 0 {
		m["sipstatus"] = strconv.Itoa(s.Status)
	}
	opt("sipreason", s.Reason)
	opt("sipheader", s.Header)
	if s.Backlog > 0 {
		m["sipbacklog"] = micros(s.Backlog)
	}
	if utf8.Valid(s.Raw) {
		m["data"] = string(s.Raw)
	} else {
		m["data_base64"] = base64.StdEncoding.EncodeToString(s.Raw)
	}
	return json.Marshal(m)
}

// ValidateSIP checks a SIP message event against the schema of its type,
// in its JSON form. It is meant for tests and diagnostics.
func ValidateSIP(s *SIP) error {
	if !IsSIPType(s.Type) {
		return fmt.Errorf("%w %q", ErrUnknownType, s.Type)
	}
	b, err := s.JSON()
	if err != nil {
		return err
	}
	if err := ValidateData(SchemaURL(s.Type), b); err != nil {
		return fmt.Errorf("event %s: %w", s.ID, err)
	}
	return nil
}
