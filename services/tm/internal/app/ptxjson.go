package app

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// appendJSON appends p as encoding/json would write it, byte for byte
// (TestPtxJSONMatchesEncodingJSON, FuzzPtxJSON): the record's format does
// not change, and encoding/json still reads it. Why by hand: tm writes
// the whole record at every step of a transaction (three times an INVITE
// on the common path), and json.Marshal's reflection, its re-compaction
// of every time.Time and its copy of the result were 3.5 % of `sipbus
// up`'s CPU and 6 % of its allocation at 2,500 calls/s. The fields a
// proxy transaction rarely has (the targets not tried yet, on_failure, a
// branch's resolved target) still go through json.Marshal.
func (p *ptx) appendJSON(b []byte) ([]byte, bool) {
	if !plainTime(p.Created) || p.Call != nil && (!plainTime(p.Call.Started) || !plainTime(p.Call.Answered)) {
		return b, false
	}
	b = appendString(b, `{"id":`, p.ID)
	b = appendString(b, `,"sk":`, p.ServerKey)
	b = appendString(b, `,"m":`, p.Method)
	b = appendString(b, `,"cid":`, p.CallID)
	b = appendBytes(b, `,"req":`, p.Req)
	b = appendString(b, `,"src":{"t":`, p.Src.Transport)
	b = appendString(b, `,"r":`, p.Src.Remote)
	b = appendOptString(b, `,"f":`, p.Src.Flow)
	b = appendOptString(b, `,"e":`, p.Src.Edge)
	b = appendOptString(b, `,"rd":`, p.Src.Reply)
	b = append(b, '}')
	if len(p.Branches) > 0 {
		b = append(b, `,"b":[`...)
		for i, br := range p.Branches {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = br.appendJSON(b); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	var ok bool
	if len(p.Groups) > 0 {
		if b, ok = appendMarshal(b, `,"g":`, p.Groups); !ok {
			return b, false
		}
	}
	if p.OnFailure != nil {
		if b, ok = appendMarshal(b, `,"of":`, p.OnFailure); !ok {
			return b, false
		}
	}
	b = appendOptBool(b, `,"fo":true`, p.Failover)
	b = appendOptInt(b, `,"fin":`, p.Final)
	b = appendOptBool(b, `,"cx":true`, p.Cancelled)
	b = appendOptBool(b, `,"to":true`, p.TimedOut)
	b = appendOptBool(b, `,"rg":true`, p.Ringing)
	if c := p.Call; c != nil {
		b = append(b, `,"call":{"caller":`...)
		b = c.Caller.appendJSON(b)
		b = append(b, `,"callee":`...)
		b = c.Callee.appendJSON(b)
		b = appendString(b, `,"ctag":`, c.CallerTag)
		b = appendOptBool(b, `,"local":true`, c.LocalUser)
		b = appendTime(b, `,"start":`, c.Started)
		b = appendOptBool(b, `,"ring":true`, c.Ringing)
		if !c.Answered.IsZero() {
			b = appendTime(b, `,"ans":`, c.Answered)
		}
		b = append(b, '}')
	}
	b = appendOptString(b, `,"app":`, p.App)
	b = appendTime(b, `,"ct":`, p.Created)
	if len(p.Last) > 0 {
		b = appendBytes(b, `,"last":`, p.Last)
	}
	if len(p.Tmr) > 0 {
		b = append(b, `,"tm":[`...)
		for i, t := range p.Tmr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, `{"t":`, t.T)
			b = appendInt(b, `,"i":`, int64(t.I))
			b = appendInt(b, `,"d":`, t.Due)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// jsonSize is about the length of p's JSON: its messages in base64 and
// a few hundred bytes of the rest.
func (p *ptx) jsonSize() int {
	n := len(p.Req) + len(p.Last)
	for _, br := range p.Branches {
		if br != nil {
			n += len(br.Req) + len(br.Resp) + 200
		}
	}
	return n*4/3 + 512
}

func (br *branch) appendJSON(b []byte) ([]byte, bool) {
	if br == nil {
		return append(b, "null"...), true
	}
	b = appendInt(b, `{"i":`, int64(br.I))
	b = appendString(b, `,"br":`, br.Branch)
	b = appendString(b, `,"t":`, br.Target)
	b = append(b, `,"hop":`...)
	b = br.Hop.appendJSON(b)
	b = appendBytes(b, `,"req":`, br.Req)
	b = appendString(b, `,"s":`, string(br.State))
	b = appendOptInt(b, `,"n":`, br.Attempt)
	b = appendOptInt(b, `,"st":`, br.Status)
	b = appendOptBool(b, `,"lo":true`, br.Local)
	if len(br.Resp) > 0 {
		b = appendBytes(b, `,"r":`, br.Resp)
	}
	b = appendOptBool(b, `,"pv":true`, br.Prov)
	b = appendOptBool(b, `,"cs":true`, br.CancelOut)
	b = appendOptString(b, `,"rs":`, br.Reason)
	if len(br.Alt) > 0 {
		b = append(b, `,"alt":[`...)
		for i, h := range br.Alt {
			if i > 0 {
				b = append(b, ',')
			}
			b = h.appendJSON(b)
		}
		b = append(b, ']')
	}
	if br.Dst != nil {
		var ok bool
		if b, ok = appendMarshal(b, `,"dst":`, br.Dst); !ok {
			return b, false
		}
	}
	b = appendOptBool(b, `,"dns":true`, br.Resolving)
	b = appendOptInt(b, `,"lk":`, br.Lookups)
	return append(b, '}'), true
}

func (h hop) appendJSON(b []byte) []byte {
	b = appendString(b, `{"Transport":`, h.Transport)
	b = appendString(b, `,"Dest":`, h.Dest)
	b = appendString(b, `,"Flow":`, h.Flow)
	b = appendOptString(b, `,"Name":`, h.Name)
	return append(b, '}')
}

func (p party) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if p.Display != "" {
		b = appendString(b, `"d":`, p.Display)
		b = append(b, ',')
	}
	b = appendString(b, `"u":`, p.URI)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string the way encoding/json
// does: printable ASCII that needs no escape as is, anything else
// through json.Marshal (its escapes of <, >, &, U+2028 and invalid
// UTF-8 included).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONBytes appends v as encoding/json writes a []byte: base64 in
// a string, null when nil.
func appendJSONBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// plainTime reports whether time.Time.MarshalJSON writes t as
// appendTime does: a four-digit year, a zone offset in whole minutes
// under a day. Other times go through json.Marshal (marshal falls back
// to it, and it refuses some of them).
func plainTime(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600
}

// appendTime appends key and t as time.Time.MarshalJSON writes a
// plainTime.
func appendTime(b []byte, key string, t time.Time) []byte {
	b = append(append(b, key...), '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendMarshal(b []byte, key string, v any) ([]byte, bool) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	b = append(b, key...)
	return append(b, j...), true
}

// appendString, appendBytes and appendInt append a key (with the
// punctuation before it) and its value; the Opt forms skip a zero value,
// as omitempty does.
func appendString(b []byte, key, s string) []byte {
	return appendJSONString(append(b, key...), s)
}

func appendBytes(b []byte, key string, v []byte) []byte {
	return appendJSONBytes(append(b, key...), v)
}

func appendInt(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(b, key...), n, 10)
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(b, key, s)
}

func appendOptInt(b []byte, key string, n int) []byte {
	if n == 0 {
		return b
	}
	return appendInt(b, key, int64(n))
}

func appendOptBool(b []byte, keyTrue string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, keyTrue...)
}
