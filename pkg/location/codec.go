package location

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// record is the stored form of a Binding in Redis: a JSON object per hash
// field. The AOR is not stored (it is in the key); times are Unix
// milliseconds (expires 0 = permanent), q is q*1000. The Lua scripts read
// expires, callid, cseq, instance and regid.
type record struct {
	Contact    string   `json:"contact"`
	Q          int      `json:"q"`
	Expires    int64    `json:"expires"`
	CallID     string   `json:"callid"`
	CSeq       uint32   `json:"cseq"`
	Path       []string `json:"path,omitempty"`
	Received   string   `json:"received,omitempty"`
	Transport  string   `json:"transport,omitempty"`
	Edge       string   `json:"edge,omitempty"`
	UserAgent  string   `json:"ua,omitempty"`
	InstanceID string   `json:"instance,omitempty"`
	RegID      int      `json:"regid,omitempty"`
	Updated    int64    `json:"updated"`
}

// encode returns the stored form of a normalised binding.
func encode(b *Binding) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Path values hold <>: keep them readable in redis-cli
	err := enc.Encode(record{
		Contact:    b.Contact,
		Q:          qMilli(b.Q),
		Expires:    unixMilli(b.Expires),
		CallID:     b.CallID,
		CSeq:       b.CSeq,
		Path:       b.Path,
		Received:   b.Received,
		Transport:  b.Transport,
		Edge:       b.Edge,
		UserAgent:  b.UserAgent,
		InstanceID: b.InstanceID,
		RegID:      b.RegID,
		Updated:    unixMilli(b.Updated),
	})
	if err != nil {
		return "", fmt.Errorf("location: encode binding %s: %w", b.Contact, err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// decode parses a stored binding of aor.
func decode(aor, raw string) (Binding, error) {
	var r record
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return Binding{}, fmt.Errorf("location: decode binding of %s: %w", aor, err)
	}
	return Binding{
		AOR:        aor,
		Contact:    r.Contact,
		Q:          float64(r.Q) / 1000,
		Expires:    fromMilli(r.Expires),
		CallID:     r.CallID,
		CSeq:       r.CSeq,
		Path:       r.Path,
		Received:   r.Received,
		Transport:  r.Transport,
		Edge:       r.Edge,
		UserAgent:  r.UserAgent,
		InstanceID: r.InstanceID,
		RegID:      r.RegID,
		Updated:    fromMilli(r.Updated),
	}, nil
}
