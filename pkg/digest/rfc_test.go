package digest_test

import (
	"testing"

	"github.com/sipbus/sipbus/pkg/digest"
)

// The example of RFC 7616 §3.9.1 (password "Circle of Life", lower-case o,
// errata 4495): the same request answered with MD5 and with SHA-256.
const (
	rfcUser     = "Mufasa"
	rfcRealm    = "http-auth@example.org"
	rfcPassword = "Circle of Life"
	rfcMethod   = "GET"
	rfcURI      = "/dir/index.html"
	rfcNonce    = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
	rfcCNonce   = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	rfcOpaque   = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
	rfcNC       = "00000001"
)

var rfcVectors = []struct {
	alg      digest.Algorithm
	header   string // the Authorization header value, as in the RFC
	response string
}{
	{
		alg: digest.MD5,
		header: `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="8ca523f5e9506fed4657c9700eebdbec",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		response: "8ca523f5e9506fed4657c9700eebdbec",
	},
	{
		alg: digest.SHA256,
		header: `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
	},
}

func TestRFC7616Vectors(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(string(v.alg), func(t *testing.T) {
			cr := parse(t, v.header)
			want := digest.Credentials{
				Scheme: "Digest", Username: rfcUser, Realm: rfcRealm, Nonce: rfcNonce, URI: rfcURI,
				Response: v.response, Algorithm: string(v.alg), CNonce: rfcCNonce, Opaque: rfcOpaque,
				QOP: "auth", NC: rfcNC,
			}
			if cr != want {
				t.Fatalf("ParseCredentials:\n got %+v\nwant %+v", cr, want)
			}
			if got := cr.HashAlgorithm(); got != v.alg {
				t.Errorf("HashAlgorithm = %q, want %q", got, v.alg)
			}
			// The test client reproduces the RFC's response.
			if got := clientResponse(v.alg, rfcUser, rfcRealm, rfcPassword, rfcMethod, rfcURI, rfcNonce, rfcNC, rfcCNonce, "auth"); got != v.response {
				t.Errorf("test client response = %s, want %s", got, v.response)
			}
			// HA1 agrees with the client's H(user:realm:password).
			if got, want := digest.HA1(v.alg, rfcUser, rfcRealm, rfcPassword), hashHex(v.alg, rfcUser+":"+rfcRealm+":"+rfcPassword); got != want {
				t.Errorf("HA1 = %s, want %s", got, want)
			}
		})
	}
}

func TestHA1(t *testing.T) {
	tests := []struct {
		name string
		alg  digest.Algorithm
		want string
	}{
		// echo -n 'Mufasa:http-auth@example.org:Circle of Life' | md5sum / sha256sum
		{"MD5", digest.MD5, "3d78807defe7de2157e2b0b6573a855f"},
		{"SHA-256", digest.SHA256, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"},
		{"unsupported", "SHA-512-256", ""},
		{"sess", "MD5-sess", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := digest.HA1(tt.alg, rfcUser, rfcRealm, rfcPassword)
			if tt.want == "" {
				if got != "" {
					t.Fatalf("HA1(%s) = %q, want empty", tt.alg, got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("HA1(%s) = %s, want %s", tt.alg, got, tt.want)
			}
		})
	}
}
