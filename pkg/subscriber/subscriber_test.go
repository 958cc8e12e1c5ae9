package subscriber_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

func TestSetPassword(t *testing.T) {
	s := subscriber.Subscriber{AOR: "sip:Alice@EXAMPLE.com"}
	if err := s.SetPassword("correct horse"); err != nil {
		t.Fatal(err)
	}
	// Realm = the domain, lower case; username = the user part as it is.
	if want := digest.HA1(digest.MD5, "Alice", "example.com", "correct horse"); s.HA1MD5 != want || s.HA1(digest.MD5) != want {
		t.Errorf("HA1MD5 = %s, want %s", s.HA1MD5, want)
	}
	if want := digest.HA1(digest.SHA256, "Alice", "example.com", "correct horse"); s.HA1SHA256 != want || s.HA1(digest.SHA256) != want {
		t.Errorf("HA1SHA256 = %s, want %s", s.HA1SHA256, want)
	}
	if s.HA1("MD5-sess") != "" {
		t.Errorf("HA1(MD5-sess) = %q, want empty", s.HA1("MD5-sess"))
	}
	if s.AOR != "sip:Alice@EXAMPLE.com" {
		t.Errorf("SetPassword changed the AOR to %q", s.AOR)
	}
}

// TestSetPasswordAuthenticates: a subscriber whose password was set is
// accepted by a digest.Authenticator for its domain.
func TestSetPasswordAuthenticates(t *testing.T) {
	s := subscriber.Subscriber{AOR: "bob@biloxi.example"}
	if err := s.SetPassword("zanzibar"); err != nil {
		t.Fatal(err)
	}
	a, err := digest.New(digest.Options{Realm: "biloxi.example", Secret: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	ch := a.Challenges(false)[0]
	// What a user agent computes (RFC 7616 §3.4.1), from the password.
	ha1 := digest.HA1(ch.Algorithm, "bob", ch.Realm, "zanzibar")
	ha2 := hexHash(ch.Algorithm, "REGISTER:sip:biloxi.example")
	resp := hexHash(ch.Algorithm, ha1+":"+ch.Nonce+":00000001:c0ffee:auth:"+ha2)
	cr := digest.Credentials{Scheme: "Digest", Username: "bob", Realm: ch.Realm, Nonce: ch.Nonce, URI: "sip:biloxi.example",
		Response: resp, Algorithm: string(ch.Algorithm), CNonce: "c0ffee", QOP: "auth", NC: "00000001"}
	res, err := a.Verify(t.Context(), "REGISTER", "sip:biloxi.example", cr, s.HA1(cr.HashAlgorithm()))
	if res != digest.OK || err != nil {
		t.Fatalf("Verify = %v, %v; want ok", res, err)
	}
}

func TestSetPasswordErrors(t *testing.T) {
	const pw = "s3cr3t-password"
	tests := []struct {
		name, aor, password, want string
	}{
		{"bad AOR", "not an aor", pw, "AOR"},
		{"empty AOR", "", pw, "AOR"},
		{"too short", "a@example.com", "five5", "has 5 characters, want 6 to 128"},
		{"empty", "a@example.com", "", "has 0 characters"},
		{"too long", "a@example.com", strings.Repeat("p", 129), "has 129 characters"},
		{"invalid UTF-8", "a@example.com", "passw\xffrd", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := subscriber.Subscriber{AOR: tt.aor, HA1MD5: "keep"}
			err := s.SetPassword(tt.password)
			if !errors.Is(err, subscriber.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetPassword = %v, want ErrInvalid saying %q", err, tt.want)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Fatalf("error %q contains the password", err)
			}
			if s.HA1MD5 != "keep" {
				t.Fatalf("a failed SetPassword changed HA1MD5")
			}
		})
	}
	// Six characters, counted as characters, not bytes.
	s := subscriber.Subscriber{AOR: "a@example.com"}
	if err := s.SetPassword("ééééé"); err == nil {
		t.Errorf("five 2-byte characters accepted")
	}
	if err := s.SetPassword("éééééé"); err != nil {
		t.Errorf("six characters refused: %v", err)
	}
}

func TestValidateJoinsProblems(t *testing.T) {
	err := subscriber.Subscriber{AOR: "nope", Name: "a\x00", Email: "x\r\n", HA1MD5: "zz"}.Validate()
	if !errors.Is(err, subscriber.ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	for _, want := range []string{`AOR "nope"`, "HA1MD5", "Name has control characters", "Email contains CR or LF"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := (subscriber.Subscriber{AOR: "a@example.com", Email: "a.b+tag@sub.example.com", Name: "Ünïcödé ☎ 電話"}).Validate(); err != nil {
		t.Errorf("valid subscriber: %v", err)
	}
}

// hexHash is H(data) of RFC 7616 §3.4, computed by the test.
func hexHash(alg digest.Algorithm, data string) string {
	if alg == digest.MD5 {
		h := md5.Sum([]byte(data))
		return hex.EncodeToString(h[:])
	}
	h := sha256.Sum256([]byte(data))
	return hex.EncodeToString(h[:])
}

func TestNotificationSettings(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    subscriber.Subscriber
		mail bool
		loc  *time.Location
	}{
		{"e-mail set: on by default", subscriber.Subscriber{Email: "a@example.com", Enabled: true}, true, time.UTC},
		{"opted out", subscriber.Subscriber{Email: "a@example.com", Enabled: true, MissedCallOptOut: true}, false, time.UTC},
		{"no e-mail", subscriber.Subscriber{Enabled: true}, false, time.UTC},
		{"disabled", subscriber.Subscriber{Email: "a@example.com"}, false, time.UTC},
		{"zone", subscriber.Subscriber{Email: "a@example.com", Enabled: true, TZ: "Europe/Paris"}, true, paris},
		{"unknown zone read back", subscriber.Subscriber{TZ: "Nowhere/Else"}, false, time.UTC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.MissedCallEmail(); got != tt.mail {
				t.Errorf("MissedCallEmail = %v, want %v", got, tt.mail)
			}
			if got := tt.s.Location(); got.String() != tt.loc.String() {
				t.Errorf("Location = %v, want %v", got, tt.loc)
			}
		})
	}
	for _, tz := range []string{"", "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"} {
		if err := subscriber.CheckTZ(tz); err != nil {
			t.Errorf("CheckTZ(%q) = %v", tz, err)
		}
	}
}
