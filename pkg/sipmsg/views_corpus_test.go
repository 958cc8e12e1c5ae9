package sipmsg

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusMsg is one torture message of a testdata manifest.
type corpusMsg struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	MustParse bool   `json:"must_parse"`
	raw       []byte
}

// loadCorpus reads the manifests of the RFC 4475 and RFC 5118 folders.
func loadCorpus(t *testing.T) []corpusMsg {
	t.Helper()
	var all []corpusMsg
	for _, dir := range []string{"rfc4475", "rfc4475-extra", "rfc5118"} {
		dir = filepath.Join("testdata", dir)
		b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatalf("torture corpus missing: %v", err)
		}
		var man struct {
			Messages []corpusMsg `json:"messages"`
		}
		if err := json.Unmarshal(b, &man); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, m := range man.Messages {
			if m.raw, err = os.ReadFile(filepath.Join(dir, m.File)); err != nil {
				t.Fatal(err)
			}
			all = append(all, m)
		}
	}
	return all
}

// TestViewsOnTortureCorpus runs every view, both transaction keys, the
// signer and Reply over every torture message: nothing panics, a message
// the RFC calls valid gives no view error, and every reply indexes again.
func TestViewsOnTortureCorpus(t *testing.T) {
	s := NewSigner([]byte("k"))
	for _, c := range loadCorpus(t) {
		t.Run(c.Name, func(t *testing.T) {
			raw := c.raw
			if !strings.Contains(string(raw), "\r\n") {
				raw = []byte(strings.ReplaceAll(string(raw), "\n", "\r\n"))
				if !strings.Contains(string(raw), "\r\n\r\n") {
					raw = append(raw, "\r\n"...)
				}
			}
			m, err := Parse(raw, Datagram)
			if err != nil {
				return // Parse's own tests judge this
			}
			errs := map[string]error{}
			if m.Request {
				_, errs["RequestURI"] = m.RequestURIParsed()
			}
			_, errs["Vias"] = m.Vias()
			_, errs["From"] = m.From()
			_, errs["To"] = m.To()
			_, errs["CSeq"] = m.CSeq()
			_, errs["Contacts"] = m.Contacts()
			_, errs["Routes"] = m.Routes()
			_, errs["RecordRoutes"] = m.RecordRoutes()
			_, errs["MaxForwards"] = m.MaxForwards()
			_, errs["Expires"] = m.Expires()
			_ = m.CallID()
			_, _, _, _ = m.Require(), m.ProxyRequire(), m.Supported(), m.ContentType()
			if m.Request {
				_, _ = ServerTxKey(m)
				_ = s.ToTag(m)
				_ = s.IsStatelessACK(m)
				out := Reply(m, 400, "Bad "+c.Name, ReplyOptions{Received: "192.0.2.1", RPort: 1})
				if _, err := Parse(out, Datagram); err != nil {
					t.Errorf("Reply does not index: %v\n%s", err, out)
				}
			} else {
				_, _ = ClientTxKey(m)
			}
			if !c.MustParse {
				return
			}
			for view, err := range errs {
				if err != nil {
					t.Errorf("%s on a valid message: %v", view, err)
				}
			}
		})
	}
}
