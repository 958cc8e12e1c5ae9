package sipmsg
import ("testing";"strings")
func TestDbg(t *testing.T){
	for _, c := range loadCorpus(t) {
		if c.MustParse { continue }
		raw := c.raw
		if !strings.Contains(string(raw), "\r\n") { raw = []byte(strings.ReplaceAll(string(raw), "\n", "\r\n")) }
		m, err := Parse(raw, Datagram)
		if err != nil { t.Log(c.Name, "PARSE", err); continue }
		var out []string
		if m.Request { if _, err := m.RequestURIParsed(); err != nil { out = append(out, "ruri: "+err.Error()) } }
		if _, err := m.Vias(); err != nil { out = append(out, err.Error()) }
		if _, err := m.From(); err != nil { out = append(out, "from: "+err.Error()) }
		if _, err := m.To(); err != nil { out = append(out, "to: "+err.Error()) }
		if _, err := m.CSeq(); err != nil { out = append(out, err.Error()) }
		if _, err := m.Contacts(); err != nil { out = append(out, err.Error()) }
		if _, err := m.MaxForwards(); err != nil { out = append(out, err.Error()) }
		if _, err := m.Expires(); err != nil { out = append(out, err.Error()) }
		t.Log(c.Name, out)
	}
}
