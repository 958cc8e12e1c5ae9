package digest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/digest"
)

const md5Resp = "6629fae49393a05397450978507c4ef1"

func TestParseCredentials(t *testing.T) {
	base := digest.Credentials{
		Scheme: "Digest", Username: "bob", Realm: "biloxi.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		URI: "sip:bob@biloxi.com", Response: md5Resp,
	}
	with := func(f func(*digest.Credentials)) digest.Credentials {
		c := base
		f(&c)
		return c
	}
	const minimal = `username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", response="` + md5Resp + `"`
	tests := []struct {
		name  string
		value string
		want  digest.Credentials
	}{
		{"minimal", "Digest " + minimal, base},
		{"scheme any case", "dIgEsT " + minimal, base},
		{"RFC 3261 example with qop", `Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="` + md5Resp + `", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			with(func(c *digest.Credentials) {
				c.QOP, c.NC, c.CNonce, c.Opaque = "auth", "00000001", "0a4f113b", "5ccc069c403ebaf9f0171e9517f40e41"
			})},
		{"case-insensitive names", `Digest USERNAME="bob", Realm="biloxi.com", NONCE="dcd98b7102dd2f0e8b11d0f600bfb0c093", Uri="sip:bob@biloxi.com", Response="` + md5Resp + `"`, base},
		{"white space everywhere", "  Digest\t username = \"bob\" ,realm=\"biloxi.com\" ,\r\n nonce= \"dcd98b7102dd2f0e8b11d0f600bfb0c093\",uri =\"sip:bob@biloxi.com\"\t, response=\"" + md5Resp + "\"  ", base},
		{"quoted comma and equals", `Digest username="bob, the=builder", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com;a=b,c", response="` + md5Resp + `"`,
			with(func(c *digest.Credentials) { c.Username, c.URI = "bob, the=builder", "sip:bob@biloxi.com;a=b,c" })},
		{"escapes", `Digest username="b\"o\\b\x", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", response="` + md5Resp + `"`,
			with(func(c *digest.Credentials) { c.Username = `b"o\bx` })},
		{"UTF-8 username", `Digest username="zoë", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", response="` + md5Resp + `"`,
			with(func(c *digest.Credentials) { c.Username = "zoë" })},
		{"empty username", `Digest username="", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", response="` + md5Resp + `"`,
			with(func(c *digest.Credentials) { c.Username = "" })},
		{"empty list elements", "Digest ," + minimal + ",, ,", base},
		{"unknown parameters ignored", "Digest " + minimal + `, domain="sip:x", foo=bar`, base},
		{"algorithm canonical spelling", "Digest " + minimal + ", algorithm=sha-256", with(func(c *digest.Credentials) { c.Algorithm = "SHA-256" })},
		{"algorithm quoted", "Digest " + minimal + `, algorithm="md5"`, with(func(c *digest.Credentials) { c.Algorithm = "MD5" })},
		{"algorithm sess kept", "Digest " + minimal + ", algorithm=md5-SESS", with(func(c *digest.Credentials) { c.Algorithm = "MD5-sess" })},
		{"algorithm unknown kept", "Digest " + minimal + ", algorithm=SHA3", with(func(c *digest.Credentials) { c.Algorithm = "SHA3" })},
		{"qop quoted and upper case", "Digest " + minimal + `, qop="AUTH", nc=0000000A, cnonce="x"`,
			with(func(c *digest.Credentials) { c.QOP, c.NC, c.CNonce = "auth", "0000000A", "x" })},
		{"qop auth-int", "Digest " + minimal + `, qop=auth-int, nc=00000001, cnonce="x"`,
			with(func(c *digest.Credentials) { c.QOP, c.NC, c.CNonce = "auth-int", "00000001", "x" })},
		{"userhash", "Digest " + minimal + ", userhash=TRUE", with(func(c *digest.Credentials) { c.Userhash = true })},
		{"userhash false", "Digest " + minimal + ", userhash=false", base},
		{"unquoted token values", `Digest username=bob, realm=biloxi.com, nonce=dcd98b7102dd2f0e8b11d0f600bfb0c093, uri="sip:bob@biloxi.com", response=` + md5Resp, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := digest.ParseCredentials(tt.value)
			if err != nil {
				t.Fatalf("ParseCredentials(%q): %v", tt.value, err)
			}
			if got != tt.want {
				t.Fatalf("ParseCredentials(%q)\n got %+v\nwant %+v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseCredentialsErrors(t *testing.T) {
	const (
		user  = `username="bob"`
		realm = `realm="biloxi.com"`
		nonce = `nonce="abc"`
		uri   = `uri="sip:bob@biloxi.com"`
		resp  = `response="` + md5Resp + `"`
	)
	join := func(p ...string) string { return "Digest " + strings.Join(p, ", ") }
	tests := []struct {
		name  string
		value string
		want  string // the error names this
	}{
		{"empty", "", "no auth scheme"},
		{"blank", "   ", "no auth scheme"},
		{"basic scheme", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", `"Basic"`},
		{"scheme glued to params", `Digestusername="bob"`, `"Digestusername"`},
		{"no params", "Digest", `missing parameter "username"`},
		{"missing username", join(realm, nonce, uri, resp), `missing parameter "username"`},
		{"missing realm", join(user, nonce, uri, resp), `missing parameter "realm"`},
		{"missing nonce", join(user, realm, uri, resp), `missing parameter "nonce"`},
		{"missing uri", join(user, realm, nonce, resp), `missing parameter "uri"`},
		{"missing response", join(user, realm, nonce, uri), `missing parameter "response"`},
		{"empty nonce", join(user, realm, `nonce=""`, uri, resp), `empty parameter "nonce"`},
		{"empty uri", join(user, realm, nonce, `uri=""`, resp), `empty parameter "uri"`},
		{"qop without nc", join(user, realm, nonce, uri, resp, "qop=auth", `cnonce="x"`), `missing parameter "nc"`},
		{"qop without cnonce", join(user, realm, nonce, uri, resp, "qop=auth", "nc=00000001"), `missing parameter "cnonce"`},
		{"qop with empty cnonce", join(user, realm, nonce, uri, resp, "qop=auth", "nc=00000001", `cnonce=""`), `empty parameter "cnonce"`},
		{"unknown qop", join(user, realm, nonce, uri, resp, "qop=integrity", "nc=00000001", `cnonce="x"`), `"qop"`},
		{"qop list", join(user, realm, nonce, uri, resp, `qop="auth,auth-int"`, "nc=00000001", `cnonce="x"`), `"qop"`},
		{"nc short", join(user, realm, nonce, uri, resp, "qop=auth", "nc=0001", `cnonce="x"`), `"nc"`},
		{"nc long", join(user, realm, nonce, uri, resp, "qop=auth", "nc=000000001", `cnonce="x"`), `"nc"`},
		{"nc not hex", join(user, realm, nonce, uri, resp, "qop=auth", "nc=0000000g", `cnonce="x"`), `"nc"`},
		{"response not hex", join(user, realm, nonce, uri, `response="xyz"`), `"response"`},
		{"response empty", join(user, realm, nonce, uri, `response=""`), `"response"`},
		{"userhash garbage", join(user, realm, nonce, uri, resp, "userhash=yes"), `"userhash"`},
		{"duplicate", join(user, realm, nonce, uri, resp, `username="eve"`), `duplicate parameter "username"`},
		{"duplicate other case", join(user, realm, nonce, uri, resp, `NONCE="x"`), `duplicate parameter "nonce"`},
		{"duplicate unknown", join(user, realm, nonce, uri, resp, "x=1", "X=2"), `duplicate parameter "x"`},
		{"unterminated quote", join(user, realm, nonce, uri, `response="abc`), `"response": unterminated`},
		{"dangling escape", join(user, realm, nonce, uri, resp, `opaque="abc\`), `"opaque": unterminated`},
		{"escaped CR", join(user, realm, nonce, uri, resp, "opaque=\"a\\\rb\""), `"opaque": escaped CR`},
		{"raw LF in quotes", join(user, realm, nonce, uri, resp, "opaque=\"a\nb\""), `"opaque": control character`},
		{"NUL in quotes", join(user, realm, nonce, uri, resp, "opaque=\"a\x00b\""), `"opaque": control character`},
		{"invalid UTF-8", join("username=\"b\xffb\"", realm, nonce, uri, resp), `"username": invalid UTF-8`},
		{"no value", join(user, realm, nonce, uri, resp, "opaque"), `"opaque" has no value`},
		{"no value at end", join(user, realm, nonce, uri, resp, "opaque="), `"opaque" has no value`},
		{"missing comma", `Digest username="bob" realm="biloxi.com"`, `"username": want ','`},
		{"garbage value", join(user, realm, nonce, uri, resp, "opaque=<x>"), `"opaque": value starts with '<'`},
		{"garbage name", join(user, realm, nonce, uri, resp, "=x"), "want a parameter name"},
		{"too many parameters", join(user, realm, nonce, uri, resp) + manyParams(70), "more than 64 parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr, err := digest.ParseCredentials(tt.value)
			if err == nil {
				t.Fatalf("ParseCredentials(%q) = %+v, want an error naming %s", tt.value, cr, tt.want)
			}
			if !errors.Is(err, digest.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if cr != (digest.Credentials{}) {
				t.Errorf("Credentials %+v returned with the error, want zero", cr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(", p")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("=1")
	}
	return b.String()
}

func TestHashAlgorithm(t *testing.T) {
	tests := []struct {
		alg  string
		want digest.Algorithm
	}{
		{"", digest.MD5},
		{"MD5", digest.MD5},
		{"md5", digest.MD5},
		{"SHA-256", digest.SHA256},
		{"sha-256", digest.SHA256},
		{"MD5-sess", ""},
		{"SHA-256-sess", ""},
		{"SHA-512-256", ""},
		{"bogus", ""},
	}
	for _, tt := range tests {
		if got := (digest.Credentials{Algorithm: tt.alg}).HashAlgorithm(); got != tt.want {
			t.Errorf("HashAlgorithm(%q) = %q, want %q", tt.alg, got, tt.want)
		}
	}
}

// FuzzParseCredentials: ParseCredentials never panics, and whatever it
// accepts survives a round trip through the test client's formatter.
func FuzzParseCredentials(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(v.header)
	}
	f.Add(`Digest username="b\"o\\b", realm="biloxi.com", nonce="n", uri="sip:b@x", response="abcdef", qop=auth, nc=00000001, cnonce="c", userhash=true`)
	f.Add("Digest ,,")
	f.Add(`Digest username="a`)
	f.Add("Basic x")
	f.Fuzz(func(t *testing.T, value string) {
		cr, err := digest.ParseCredentials(value)
		if err != nil {
			if !errors.Is(err, digest.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := digest.ParseCredentials(format(cr))
		if err != nil {
			t.Fatalf("ParseCredentials(%q) = %+v, but its formatted form %q fails: %v", value, cr, format(cr), err)
		}
		if again != cr {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", value, again, cr)
		}
	})
}
