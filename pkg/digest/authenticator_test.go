package digest_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

func TestNewErrors(t *testing.T) {
	good := digest.Options{Realm: testRealm, Secret: testSecret}
	tests := []struct {
		name string
		edit func(*digest.Options)
		want []string // each problem is named
	}{
		{"empty realm", func(o *digest.Options) { o.Realm = "" }, []string{"Options.Realm is empty"}},
		{"realm with CRLF", func(o *digest.Options) { o.Realm = "a\r\nX-Evil: 1" }, []string{"Options.Realm", "control characters"}},
		{"realm invalid UTF-8", func(o *digest.Options) { o.Realm = "a\xff" }, []string{"Options.Realm"}},
		{"no secret", func(o *digest.Options) { o.Secret = nil }, []string{"Options.Secret has 0 bytes, want at least 16"}},
		{"short secret", func(o *digest.Options) { o.Secret = []byte("fifteen bytes!!") }, []string{"Options.Secret has 15 bytes"}},
		{"negative TTL", func(o *digest.Options) { o.NonceTTL = -time.Second }, []string{"Options.NonceTTL"}},
		{"unknown algorithm", func(o *digest.Options) { o.Algorithms = []digest.Algorithm{"MD5-sess"} }, []string{`Options.Algorithms[0] "MD5-sess"`}},
		{"duplicate algorithm", func(o *digest.Options) { o.Algorithms = []digest.Algorithm{digest.MD5, digest.SHA256, digest.MD5} }, []string{"Options.Algorithms[2] MD5 is listed twice"}},
		{"every problem joined", func(o *digest.Options) { o.Realm, o.Secret, o.NonceTTL = "", nil, -1 },
			[]string{"Options.Realm", "Options.Secret", "Options.NonceTTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := good
			tt.edit(&opt)
			a, err := digest.New(opt)
			if err == nil {
				t.Fatalf("New = %v, want an error", a)
			}
			if !errors.Is(err, digest.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestNewCopiesSecret(t *testing.T) {
	secret := bytes.Clone(testSecret)
	a, err := digest.New(digest.Options{Realm: testRealm, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ch := a.Challenges(false)[0]
	secret[0] ^= 0xff // the caller reuses its buffer
	cr := parse(t, newClient(testUser, testPass).authorize(ch, testMethod, testURI))
	if res, _ := a.Verify(t.Context(), testMethod, testURI, cr, ha1MD5); res != digest.OK {
		t.Fatalf("Verify after the caller changed its secret buffer = %v, want ok", res)
	}
}

var base64url = regexp.MustCompile(`^[A-Za-z0-9_-]{75}$`)

func TestChallenges(t *testing.T) {
	a, _ := newAuth(t, nil)
	chs := a.Challenges(false)
	if len(chs) != 2 || chs[0].Algorithm != digest.SHA256 || chs[1].Algorithm != digest.MD5 {
		t.Fatalf("default challenges %+v, want SHA-256 then MD5", chs)
	}
	seen := map[string]bool{}
	for _, ch := range append(chs, a.Challenges(true)...) {
		if ch.Realm != testRealm || ch.QOP != "auth" || ch.Opaque != "" {
			t.Errorf("challenge %+v: want realm %s, qop auth, no opaque", ch, testRealm)
		}
		if !base64url.MatchString(ch.Nonce) {
			t.Errorf("nonce %q is not 75 base64url characters", ch.Nonce)
		}
		if seen[ch.Nonce] {
			t.Errorf("nonce %q issued twice", ch.Nonce)
		}
		seen[ch.Nonce] = true
	}
	if st := a.Challenges(true); !st[0].Stale || !st[1].Stale {
		t.Errorf("Challenges(true) = %+v, want stale", st)
	}
	// The default is one MD5 challenge, which every user agent answers.
	def, _ := newAuth(t, func(o *digest.Options) { o.Algorithms = nil })
	if chs := def.Challenges(false); len(chs) != 1 || chs[0].Algorithm != digest.MD5 {
		t.Errorf("default challenges = %+v, want one MD5", chs)
	}
	if def.Accepts(digest.SHA256) || !def.Accepts(digest.MD5) {
		t.Error("the default accepts SHA-256, or not MD5")
	}
	if a.Realm() != testRealm {
		t.Errorf("Realm() = %q", a.Realm())
	}
}

// TestChallengesFor: a per-client set is offered in its own order, limited
// to what the Authenticator accepts; nothing acceptable falls back to the
// default set.
func TestChallengesFor(t *testing.T) {
	md5First, _ := newAuth(t, func(o *digest.Options) { o.Algorithms = []digest.Algorithm{digest.MD5, digest.SHA256} })
	md5Only, _ := newAuth(t, func(o *digest.Options) { o.Algorithms = []digest.Algorithm{digest.MD5} })
	tests := []struct {
		name  string
		a     *digest.Authenticator
		algs  []digest.Algorithm
		stale bool
		want  []digest.Algorithm
	}{
		{"SHA-256 first", md5First, []digest.Algorithm{digest.SHA256, digest.MD5}, false, []digest.Algorithm{digest.SHA256, digest.MD5}},
		{"SHA-256 only", md5First, []digest.Algorithm{digest.SHA256}, true, []digest.Algorithm{digest.SHA256}},
		{"repeats dropped", md5First, []digest.Algorithm{digest.MD5, digest.MD5}, false, []digest.Algorithm{digest.MD5}},
		{"not accepted skipped", md5Only, []digest.Algorithm{digest.SHA256, digest.MD5}, false, []digest.Algorithm{digest.MD5}},
		{"nothing accepted: default", md5Only, []digest.Algorithm{digest.SHA256, "MD5-sess"}, true, []digest.Algorithm{digest.MD5}},
		{"none asked: default", md5First, nil, false, []digest.Algorithm{digest.MD5, digest.SHA256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chs := tt.a.ChallengesFor(tt.stale, tt.algs)
			var got []digest.Algorithm
			nonces := map[string]bool{}
			for _, ch := range chs {
				got = append(got, ch.Algorithm)
				if ch.Stale != tt.stale || ch.QOP != "auth" || ch.Realm != testRealm || nonces[ch.Nonce] {
					t.Errorf("challenge %+v", ch)
				}
				nonces[ch.Nonce] = true
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("algorithms %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChallengeString(t *testing.T) {
	tests := []struct {
		name string
		ch   digest.Challenge
		want string
	}{
		{"full", digest.Challenge{Realm: "example.com", Nonce: "abc", Opaque: "xyz", Algorithm: digest.SHA256, QOP: "auth", Stale: true},
			`Digest realm="example.com", nonce="abc", opaque="xyz", algorithm=SHA-256, qop="auth", stale=true`},
		{"not stale, no opaque", digest.Challenge{Realm: "example.com", Nonce: "abc", Algorithm: digest.MD5, QOP: "auth"},
			`Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth"`},
		{"minimal", digest.Challenge{Realm: "r", Nonce: "n"}, `Digest realm="r", nonce="n"`},
		{"escapes", digest.Challenge{Realm: `a "quoted" \ realm`, Nonce: `n\"`},
			`Digest realm="a \"quoted\" \\ realm", nonce="n\\\""`},
		{"control characters dropped", digest.Challenge{Realm: "evil\r\nWWW-Authenticate: Basic\x00", Nonce: "n\tx"},
			`Digest realm="evilWWW-Authenticate: Basic", nonce="n` + "\t" + `x"`},
		{"UTF-8 kept", digest.Challenge{Realm: "zoë.example", Nonce: "n"}, `Digest realm="zoë.example", nonce="n"`},
		{"odd algorithm quoted", digest.Challenge{Realm: "r", Nonce: "n", Algorithm: "a b"}, `Digest realm="r", nonce="n", algorithm="a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ch.String(); got != tt.want {
				t.Fatalf("String()\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestChallengeHeaderQuoting: the header a client receives parses back to
// the same realm and nonce.
func TestChallengeHeaderQuoting(t *testing.T) {
	a, err := digest.New(digest.Options{Realm: `we "quote" \ realms`, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ch := a.Challenges(false)[0]
	// A challenge has the same auth-param syntax as credentials, so reuse
	// the credentials parser by adding the parameters it requires.
	v := strings.Replace(ch.String(), "Digest ", `Digest username="u", uri="sip:x", response="ab", nc=00000001, cnonce="c", `, 1)
	cr := parse(t, v)
	if cr.Realm != ch.Realm || cr.Nonce != ch.Nonce {
		t.Fatalf("parsed realm %q nonce %q, want %q %q", cr.Realm, cr.Nonce, ch.Realm, ch.Nonce)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const secret = "do-not-print-this-secret-0123456789"
	opt := digest.Options{Realm: testRealm, Secret: []byte(secret), Counter: digest.NewMemoryCounter(nil)}
	a, err := digest.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range []any{opt, &opt, a} {
		out = append(out, fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "v", v)
		out = append(out, text.String(), js.String())
	}
	f, _ := reflect.TypeFor[digest.Options]().FieldByName("Secret")
	if tag := f.Tag; tag.Get("json") != "-" || tag.Get("yaml") != "-" {
		t.Errorf("Options.Secret tag %q: want json:\"-\" yaml:\"-\"", tag)
	}
	for _, o := range out {
		for _, leak := range []string{secret, fmt.Sprint([]byte(secret)), fmt.Sprintf("%x", secret), "ZG8tbm90LXByaW50"} {
			if strings.Contains(o, leak) {
				t.Fatalf("output leaks the secret: %s", o)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(opt), "redacted") || !strings.Contains(fmt.Sprint(a), testRealm) {
		t.Errorf("String() = %s / %s: want the realm and a redaction note", opt, a)
	}
}
