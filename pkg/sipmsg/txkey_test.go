package sipmsg

import (
	"regexp"
	"strings"
	"testing"
)

const inviteMsg = `INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

`

// variant edits inviteMsg: method line, To, CSeq, Via replaced when non-empty.
func variant(t testing.TB, start, via, to, cseq string) *Msg {
	s := inviteMsg
	if start != "" {
		s = strings.Replace(s, "INVITE sip:bob@biloxi.example.com SIP/2.0", start, 1)
	}
	if via != "" {
		s = strings.Replace(s, "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds", via, 1)
	}
	if to != "" {
		s = strings.Replace(s, "To: Bob <sip:bob@biloxi.example.com>", to, 1)
	}
	if cseq != "" {
		s = strings.Replace(s, "CSeq: 314159 INVITE", cseq, 1)
	}
	return mustParse(t, s)
}

var keyRE = regexp.MustCompile(`^[!-z|~]+$`) // printable, no space, no braces

func serverKey(t *testing.T, m *Msg) string {
	t.Helper()
	k, err := ServerTxKey(m)
	if err != nil {
		t.Fatalf("ServerTxKey: %v", err)
	}
	if !keyRE.MatchString(k) || len(k) > maxKeyLen {
		t.Errorf("key %q is not compact printable", k)
	}
	return k
}

func TestServerTxKeyRFC3261(t *testing.T) {
	invite := variant(t, "", "", "", "")
	k := serverKey(t, invite)
	if want := "s:z9hG4bK776asdhds|pc33.atlanta.example.com:5060|INVITE"; k != want {
		t.Errorf("INVITE key = %q, want %q", k, want)
	}
	retrans := variant(t, "", "", "", "")
	ackNon2xx := variant(t, "ACK sip:bob@biloxi.example.com SIP/2.0",
		"", "To: Bob <sip:bob@biloxi.example.com>;tag=8321234356", "CSeq: 314159 ACK")
	cancel := variant(t, "CANCEL sip:bob@biloxi.example.com SIP/2.0", "", "", "CSeq: 314159 CANCEL")
	otherBranch := variant(t, "", "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKother", "", "")
	otherSentBy := variant(t, "", "Via: SIP/2.0/UDP pc34.atlanta.example.com:5060;branch=z9hG4bK776asdhds", "", "")
	caseHost := variant(t, "", "Via: SIP/2.0/UDP PC33.atlanta.example.com:5060;branch=z9hG4bK776asdhds", "", "")

	for _, tt := range []struct {
		name string
		m    *Msg
		same bool
	}{
		{"retransmission", retrans, true},
		{"ACK of non-2xx matches INVITE", ackNon2xx, true},
		{"CANCEL has its own transaction", cancel, false},
		{"other branch", otherBranch, false},
		{"other sent-by", otherSentBy, false},
		{"sent-by host case-insensitive", caseHost, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverKey(t, tt.m); (got == k) != tt.same {
				t.Errorf("key %q vs INVITE %q: same=%v, want %v", got, k, got == k, tt.same)
			}
		})
	}
	// The INVITE a CANCEL targets (RFC 3261 §9.2).
	if ik, err := ServerTxKeyFor(cancel, "INVITE"); err != nil || ik != k {
		t.Errorf("ServerTxKeyFor(cancel, INVITE) = %q, %v; want %q", ik, err, k)
	}
}

func TestServerTxKeyRFC2543(t *testing.T) {
	const via2543 = "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060"
	invite := variant(t, "", via2543, "", "")
	k := serverKey(t, invite)
	if !strings.HasPrefix(k, "s2:") || len(k) != 35 {
		t.Errorf("2543 key %q", k)
	}
	for _, tt := range []struct {
		name string
		m    *Msg
		same bool
	}{
		{"stable for retransmission", variant(t, "", via2543, "", ""), true},
		{"ACK with To tag matches INVITE", variant(t, "ACK sip:bob@biloxi.example.com SIP/2.0", via2543,
			"To: Bob <sip:bob@biloxi.example.com>;tag=x1", "CSeq: 314159 ACK"), true},
		{"CANCEL differs", variant(t, "CANCEL sip:bob@biloxi.example.com SIP/2.0", via2543, "", "CSeq: 314159 CANCEL"), false},
		{"other CSeq", variant(t, "", via2543, "", "CSeq: 314160 INVITE"), false},
		{"other Request-URI", variant(t, "INVITE sip:carol@biloxi.example.com SIP/2.0", via2543, "", ""), false},
		{"non-2543 branch", variant(t, "", via2543+";branch=1234", "", ""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverKey(t, tt.m); (got == k) != tt.same {
				t.Errorf("key %q vs INVITE %q: same=%v, want %v", got, k, got == k, tt.same)
			}
		})
	}
	// Non-INVITE: the To tag is part of the key.
	bye1 := variant(t, "BYE sip:bob@biloxi.example.com SIP/2.0", via2543, "To: <sip:bob@b>;tag=1", "CSeq: 1 BYE")
	bye2 := variant(t, "BYE sip:bob@biloxi.example.com SIP/2.0", via2543, "To: <sip:bob@b>;tag=2", "CSeq: 1 BYE")
	if serverKey(t, bye1) == serverKey(t, bye2) {
		t.Error("2543 BYE keys ignore the To tag")
	}
}

func TestServerTxKeyHashedWhenUnsafe(t *testing.T) {
	long := "z9hG4bK" + strings.Repeat("a", 120)
	m := variant(t, "", "Via: SIP/2.0/UDP h;branch="+long, "", "")
	k := serverKey(t, m)
	if !strings.HasPrefix(k, "sh:") {
		t.Errorf("long key not hashed: %q", k)
	}
	for _, in := range []string{"s:z9hG4bK{x}|h|INVITE", "s:z9hG4bK x|h|INVITE", "s:z9hG4bK\xff|h|INVITE"} {
		if k := finishKey([]byte(in), "sh:"); !strings.HasPrefix(k, "sh:") || len(k) != 35 {
			t.Errorf("unsafe key %q not hashed: %q", in, k)
		}
	}
}

func TestServerTxKeyErrors(t *testing.T) {
	resp := mustParse(t, "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCSeq: 1 INVITE\n\n")
	if _, err := ServerTxKey(resp); err != ErrNotRequest {
		t.Errorf("response: %v", err)
	}
	noVia := mustParse(t, "INVITE sip:a@b SIP/2.0\nCSeq: 1 INVITE\n\n")
	if _, err := ServerTxKey(noVia); err == nil {
		t.Error("request without Via has a key")
	}
	req := mustParse(t, inviteMsg)
	if _, err := ClientTxKey(req); err != ErrNotResponse {
		t.Errorf("ClientTxKey(request): %v", err)
	}
}

func TestClientTxKey(t *testing.T) {
	resp := func(branch, cseq string) *Msg {
		return mustParse(t, "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h:5060;branch="+branch+
			"\nVia: SIP/2.0/UDP other;branch=z9hG4bKx\nCSeq: "+cseq+"\nContent-Length: 0\n\n")
	}
	branch := NewBranch()
	for _, tt := range []struct {
		name   string
		m      *Msg
		method string
	}{
		{"INVITE", resp(branch, "1 INVITE"), "INVITE"},
		{"ACK request shares the INVITE transaction", resp(branch, "1 INVITE"), "ACK"},
		{"CANCEL", resp(branch, "1 CANCEL"), "CANCEL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClientTxKey(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if want := RequestClientTxKey(branch, tt.method); got != want {
				t.Errorf("ClientTxKey = %q, RequestClientTxKey = %q", got, want)
			}
		})
	}
	inv, _ := ClientTxKey(resp(branch, "1 INVITE"))
	can, _ := ClientTxKey(resp(branch, "1 CANCEL"))
	if inv == can {
		t.Error("CANCEL and INVITE client keys are equal")
	}
	if _, err := ClientTxKey(resp("", "1 INVITE")); err == nil {
		t.Error("response without branch has a client key")
	}
}

func TestCallKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "0000000000000000"},
		{"a", "af63dc4c8601ec8c"},      // FNV-1a 64 test vector
		{"foobar", "85944171f73967e8"}, // FNV-1a 64 test vector
		{"a84b4c76e66710@pc33.atlanta.example.com", CallKey("a84b4c76e66710@pc33.atlanta.example.com")},
	} {
		if got := CallKey(tt.in); got != tt.want || len(got) != 16 {
			t.Errorf("CallKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewBranchAndTag(t *testing.T) {
	branchRE := regexp.MustCompile(`^z9hG4bK[a-z2-7]{22}$`)
	tagRE := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		b, tg := NewBranch(), NewTag()
		if !branchRE.MatchString(b) || !tagRE.MatchString(tg) {
			t.Fatalf("NewBranch %q, NewTag %q", b, tg)
		}
		if seen[b] || seen[tg] {
			t.Fatalf("repeated value")
		}
		seen[b], seen[tg] = true, true
	}
}

func TestSigner(t *testing.T) {
	s := NewSigner([]byte("edge secret"))
	invite := mustParse(t, inviteMsg)
	tag := s.ToTag(invite)
	if !regexp.MustCompile(`^sl-[0-9a-f]{20}$`).MatchString(tag) || tag != s.ToTag(invite) {
		t.Fatalf("ToTag = %q (not stable or bad form)", tag)
	}
	ack := func(tagLine, cseq, via string) *Msg {
		return variant(t, "ACK sip:bob@biloxi.example.com SIP/2.0", via,
			"To: Bob <sip:bob@biloxi.example.com>;tag="+tagLine, cseq)
	}
	for _, tt := range []struct {
		name string
		s    *Signer
		m    *Msg
		want bool
	}{
		{"round trip", s, ack(tag, "CSeq: 314159 ACK", ""), true},
		{"tampered tag", s, ack(tag[:len(tag)-1]+"0", "CSeq: 314159 ACK", ""), tag[len(tag)-1] == '0'},
		{"other CSeq number", s, ack(tag, "CSeq: 314160 ACK", ""), false},
		{"other branch", s, ack(tag, "CSeq: 314159 ACK", "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKzzz"), false},
		{"other secret", NewSigner([]byte("other")), ack(tag, "CSeq: 314159 ACK", ""), false},
		{"not an ACK", s, variant(t, "", "", "To: <sip:bob@b>;tag="+tag, ""), false},
		{"foreign tag", s, ack("8321234356", "CSeq: 314159 ACK", ""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.IsStatelessACK(tt.m); got != tt.want {
				t.Errorf("IsStatelessACK = %v, want %v", got, tt.want)
			}
		})
	}
	// A nil Signer and an empty secret work, and agree.
	var nilS *Signer
	empty := NewSigner(nil)
	nt := nilS.ToTag(invite)
	if nt != empty.ToTag(invite) || nt == tag {
		t.Errorf("nil signer tag %q, empty %q, keyed %q", nt, empty.ToTag(invite), tag)
	}
	if !nilS.IsStatelessACK(ack(nt, "CSeq: 314159 ACK", "")) {
		t.Error("nil signer does not recognise its own tag")
	}
	// A request missing everything still gets a tag.
	bare := mustParse(t, "INVITE sip:a@b SIP/2.0\n\n")
	if !strings.HasPrefix(s.ToTag(bare), "sl-") {
		t.Error("no tag for a bare request")
	}
}

// TestSignerConcurrent exercises the pooled HMACs from many goroutines
// (run with -race).
func TestSignerConcurrent(t *testing.T) {
	s := NewSigner([]byte("k"))
	m := mustParse(t, inviteMsg)
	want := s.ToTag(m)
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				if got := s.ToTag(m); got != want {
					errs <- got
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if got := <-errs; got != "" {
			t.Errorf("concurrent ToTag = %q, want %q", got, want)
		}
	}
}
