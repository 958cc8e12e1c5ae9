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
	b = append(b, `{"id":`...)
	b = appendJSONString(b, p.ID)
	b = append(b, `,"sk":`...)
	b = appendJSONString(b, p.ServerKey)
	b = append(b, `,"m":`...)
	b = appendJSONString(b, p.Method)
	b = append(b, `,"cid":`...)
	b = appendJSONString(b, p.CallID)
	b = append(b, `,"req":`...)
	b = appendJSONBytes(b, p.Req)
	b = append(b, `,"src":{"t":`...)
	b = appendJSONString(b, p.Src.Transport)
	b = append(b, `,"r":`...)
	b = appendJSONString(b, p.Src.Remote)
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
		b = append(b, `,"ctag":`...)
		b = appendJSONString(b, c.CallerTag)
		b = appendOptBool(b, `,"local":true`, c.LocalUser)
		b = append(b, `,"start":`...)
		if b, ok = appendJSONTime(b, c.Started); !ok {
			return b, false
		}
		b = appendOptBool(b, `,"ring":true`, c.Ringing)
		if !c.Answered.IsZero() {
			b = append(b, `,"ans":`...)
			if b, ok = appendJSONTime(b, c.Answered); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	b = appendOptString(b, `,"app":`, p.App)
	b = append(b, `,"ct":`...)
	if b, ok = appendJSONTime(b, p.Created); !ok {
		return b, false
	}
	if len(p.Last) > 0 {
		b = append(b, `,"last":`...)
		b = appendJSONBytes(b, p.Last)
	}
	if len(p.Tmr) > 0 {
		b = append(b, `,"tm":[`...)
		for i, t := range p.Tmr {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"t":`...)
			b = appendJSONString(b, t.T)
			b = append(b, `,"i":`...)
			b = strconv.AppendInt(b, int64(t.I), 10)
			b = append(b, `,"d":`...)
			b = strconv.AppendInt(b, t.Due, 10)
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
	b = append(b, `{"i":`...)
	b = strconv.AppendInt(b, int64(br.I), 10)
	b = append(b, `,"br":`...)
	b = appendJSONString(b, br.Branch)
	b = append(b, `,"t":`...)
	b = appendJSONString(b, br.Target)
	b = append(b, `,"hop":`...)
	b = br.Hop.appendJSON(b)
	b = append(b, `,"req":`...)
	b = appendJSONBytes(b, br.Req)
	b = append(b, `,"s":`...)
	b = appendJSONString(b, string(br.State))
	b = appendOptInt(b, `,"n":`, br.Attempt)
	b = appendOptInt(b, `,"st":`, br.Status)
	b = appendOptBool(b, `,"lo":true`, br.Local)
	if len(br.Resp) > 0 {
		b = append(b, `,"r":`...)
		b = appendJSONBytes(b, br.Resp)
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
	b = append(b, `{"Transport":`...)
	b = appendJSONString(b, h.Transport)
	b = append(b, `,"Dest":`...)
	b = appendJSONString(b, h.Dest)
	b = append(b, `,"Flow":`...)
	b = appendJSONString(b, h.Flow)
	b = appendOptString(b, `,"Name":`, h.Name)
	return append(b, '}')
}

func (p party) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if p.Display != "" {
		b = append(b, `"d":`...)
		b = appendJSONString(b, p.Display)
		b = append(b, ',')
	}
	b = append(b, `"u":`...)
	b = appendJSONString(b, p.URI)
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

// appendJSONTime appends t as time.Time.MarshalJSON does; false for a
// year it refuses (then json.Marshal of the record fails too).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false // odd zones: json.Marshal says (marshal falls back to it)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

func appendMarshal(b []byte, key string, v any) ([]byte, bool) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	b = append(b, key...)
	return append(b, j...), true
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s)
}

func appendOptInt(b []byte, key string, n int) []byte {
	if n == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendInt(b, int64(n), 10)
}

func appendOptBool(b []byte, keyTrue string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, keyTrue...)
}
