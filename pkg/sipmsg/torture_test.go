package sipmsg

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// manifest is a torture-message manifest (testdata/*/manifest.json; the
// format is described in testdata/rfc4475/README.md).
type manifest struct {
	Corpus   string          `json:"corpus"`
	Messages []manifestEntry `json:"messages"`
}

type manifestEntry struct {
	Name                  string `json:"name"`
	File                  string `json:"file"`
	Section               string `json:"section"`
	MessageType           string `json:"message_type"`
	MustParse             bool   `json:"must_parse"`
	Parse                 string `json:"parse"`
	Outcome               string `json:"outcome"`
	ExpectedResponse      *int   `json:"expected_response"`
	ProxyResponse         *int   `json:"proxy_response"`
	AltResponses          []int  `json:"alt_responses"`
	LineEndings           string `json:"line_endings"`
	Size                  *int   `json:"size"`
	SHA256                string `json:"sha256"`
	DeclaredContentLength *int   `json:"declared_content_length"`
	BodyOctets            *int   `json:"body_octets"`
}

// tortureMethods, tortureAccept ... describe the endpoint the manifests'
// expected_response values assume: it implements the RFC 3261 family of
// methods, understands SDP, plain text and the usual multipart types,
// supports a few common extensions and authenticates with Digest.
var (
	tortureMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
		"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}
	tortureAccept = []string{"application/sdp", "text/plain", "multipart/mixed",
		"multipart/alternative", "multipart/signed", "message/sipfrag", "application/pidf+xml"}
	tortureSupported = []string{"100rel", "timer", "replaces", "path", "outbound", "gruu"}
)

// tortureDirs lists the manifest folders: the in-repo copies, the shared
// folder next to the repository when present, and SIPBUS_TORTURE_DIRS.
func tortureDirs(t *testing.T) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatalf("torture dir %s: %v", d, err)
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		dirs = append(dirs, abs)
	}
	for _, d := range []string{"testdata/rfc4475", "testdata/rfc4475-extra", "testdata/rfc5118"} {
		add(d)
	}
	shared, _ := filepath.Glob("../../../shared/testdata/*/manifest.json")
	for _, m := range shared {
		add(filepath.Dir(m))
	}
	for _, d := range strings.Split(os.Getenv("SIPBUS_TORTURE_DIRS"), ":") {
		if d = strings.TrimSpace(d); d != "" {
			if _, err := os.Stat(filepath.Join(d, "manifest.json")); err != nil {
				t.Errorf("SIPBUS_TORTURE_DIRS entry %s has no manifest.json: %v", d, err)
				continue
			}
			add(d)
		}
	}
	return dirs
}

// TestTortureManifests feeds every message of every manifest to Parse and
// Check for the roles the manifest names and compares the outcome.
//
// Reading of the manifest (README.md in each folder):
//   - the "uas" run uses RoleRegistrar for REGISTER and RoleEndpoint
//     otherwise, and is held to expected_response; the "proxy" run uses
//     RoleProxy and is held to proxy_response;
//   - parse "reject" and "no-crash" allow a Parse error (the message is
//     dropped); every other message must parse;
//   - parse "reject-or-tolerate" allows Check to accept the message;
//   - outcome "process" wants no fault, except that an endpoint may answer
//     an unknown method with 501 (RFC 3261 §8.2.1 is normal processing);
//     "error-response" wants expected (or an alt_responses code; any error
//     status when the RFC names none); "discard" wants a drop (Status 0);
//     "role-dependent" is "error-response" for a role with a code and
//     "process" for one without; "process-or-error" takes either.
//   - RFC 5118's LF files whose declared Content-Length differs from the
//     archived body are re-framed with the body's length, as the README
//     there prescribes (the tests are about IPv6, not framing).
func TestTortureManifests(t *testing.T) {
	total := 0
	for _, dir := range tortureDirs(t) {
		raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatalf("read manifest: %v", err)
		}
		var man manifest
		if err := json.Unmarshal(raw, &man); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(man.Messages) == 0 {
			t.Errorf("%s: manifest lists no messages", dir)
		}
		for _, e := range man.Messages {
			total++
			t.Run(filepath.Base(dir)+"/"+e.Name, func(t *testing.T) { runTorture(t, dir, e) })
		}
	}
	if total < 55 {
		t.Errorf("only %d torture messages found; the in-repo sets hold 55", total)
	}
}

func runTorture(t *testing.T, dir string, e manifestEntry) {
	file := e.File
	if file == "" {
		file = e.Name + ".dat"
	}
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if e.Size != nil && *e.Size != len(raw) {
		t.Fatalf("size %d, manifest says %d (line ends converted?)", len(raw), *e.Size)
	}
	if e.SHA256 != "" {
		sum := sha256.Sum256(raw)
		if hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Fatalf("sha256 mismatch: the file is not byte-exact")
		}
	}
	if e.LineEndings == "LF" && e.DeclaredContentLength != nil && e.BodyOctets != nil &&
		*e.DeclaredContentLength != *e.BodyOctets {
		raw = reframe(t, raw, *e.BodyOctets)
	}
	var m Msg
	if err := m.Parse(raw, Datagram); err != nil {
		if e.Parse == "reject" || e.Parse == "no-crash" {
			t.Logf("dropped by Parse: %v", err)
			return
		}
		t.Fatalf("Parse: %v (parse=%s must_parse=%v)", err, e.Parse, e.MustParse)
	}
	if wantReq := e.MessageType != "response"; e.MessageType != "" && m.Request != wantReq {
		t.Fatalf("Request=%v, manifest says %s", m.Request, e.MessageType)
	}
	uas := CheckOptions{Role: RoleEndpoint, Methods: tortureMethods, Accept: tortureAccept,
		Supported: tortureSupported, AuthSchemes: []string{"Digest"}}
	if m.Request && m.MethodID == REGISTER {
		uas.Role = RoleRegistrar
	}
	proxy := CheckOptions{Role: RoleProxy, Supported: tortureSupported}
	judgeTorture(t, e, &m, uas, e.ExpectedResponse)
	judgeTorture(t, e, &m, proxy, e.ProxyResponse)
}

// judgeTorture checks one role's outcome.
func judgeTorture(t *testing.T, e manifestEntry, m *Msg, opt CheckOptions, want *int) {
	t.Helper()
	f := Check(m, opt)
	got := "accept"
	if f != nil {
		got = strconv.Itoa(f.Status) + " " + f.Reason
	}
	outcome := e.Outcome
	if outcome == "role-dependent" {
		outcome = "process"
		if want != nil {
			outcome = "error-response"
		}
	}
	tolerate := e.Parse == "reject-or-tolerate"
	isErr := f != nil && f.Status >= 400
	ok := false
	switch outcome {
	case "process":
		ok = f == nil || (tolerate && isErr) ||
			(opt.Role == RoleEndpoint && f.Status == 501 && !containsExact(opt.Methods, m.Str(m.Method)))
	case "error-response":
		switch {
		case f == nil:
			ok = tolerate
		case want == nil:
			ok = isErr
		default:
			ok = f.Status == *want || containsInt(e.AltResponses, f.Status)
		}
	case "discard":
		ok = f != nil && f.Status == 0
	case "process-or-error":
		ok = f == nil || isErr || (want != nil && f.Status == *wantOr(want, 0))
	default:
		t.Errorf("%s: unknown outcome %q", opt.Role, e.Outcome)
		return
	}
	wantS := "none"
	if want != nil {
		wantS = strconv.Itoa(*want)
	}
	if !ok {
		t.Errorf("%s: got %s; manifest: parse=%s outcome=%s response=%s alt=%v",
			opt.Role, got, e.Parse, e.Outcome, wantS, e.AltResponses)
		return
	}
	t.Logf("%s: %s (outcome=%s response=%s)", opt.Role, got, e.Outcome, wantS)
}

func wantOr(p *int, d int) *int {
	if p == nil {
		return &d
	}
	return p
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// reframe replaces the Content-Length value of raw with n.
func reframe(t *testing.T, raw []byte, n int) []byte {
	t.Helper()
	var m Msg
	if err := m.Parse(raw, Datagram); err != nil {
		t.Fatalf("reframe: %v", err)
	}
	h, ok := m.Get(HContentLength)
	if !ok {
		return raw
	}
	out := append([]byte(nil), raw[:h.Value.Off]...)
	out = strconv.AppendInt(out, int64(n), 10)
	return append(out, raw[h.Value.Off+h.Value.Len:]...)
}
