package notifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestTLS: submission with STARTTLS required (smtp://) and with TLS from
// the first byte (smtps://), both with AUTH, to a server whose certificate
// a private CA signed (smtp_ca). Without that CA the certificate is
// refused: no mail goes out in clear text instead, the event waits.
func TestTLS(t *testing.T) {
	cert, key := testenv.SelfSigned(t)
	for _, tc := range []struct {
		name   string
		opts   testenv.MailpitOptions
		scheme string
	}{
		{"STARTTLS", testenv.MailpitOptions{TLSCert: cert, TLSKey: key, RequireSTARTTLS: true}, "smtp"},
		{"implicit TLS", testenv.MailpitOptions{TLSCert: cert, TLSKey: key, ImplicitTLS: true}, "smtps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t)
			b.mp = testenv.StartMailpitWith(t, tc.opts)
			cfg := b.config("n1")
			cfg.SMTP = tc.scheme + "://mailer:s3cret@" + b.mp.SMTP

			untrusting := b.start(cfg)
			b.missed("bob@localhost", alice, events.MissedBusy, 486)
			testenv.Eventually(t, 20*time.Second, func() bool { return untrusting.Stats().Temporary >= 1 }, "a refused certificate; log:\n%s", b.logs)
			if !strings.Contains(b.logs.String(), "certificate") {
				t.Errorf("the failure does not name the certificate:\n%s", b.logs)
			}
			if len(b.mp.Messages(t)) != 0 {
				t.Fatal("a mail went out without a trusted certificate")
			}
			cfg.SMTPCA = cert
			cfg.ID = "n2"
			trusting := b.start(cfg)
			testenv.Eventually(t, 30*time.Second, func() bool { return len(b.mp.Messages(t)) == 1 }, "the mail over TLS; log:\n%s", b.logs)
			testenv.Eventually(t, 5*time.Second, func() bool { return untrusting.Stats().Sent+trusting.Stats().Sent == 1 },
				"one sent: %+v %+v", untrusting.Stats(), trusting.Stats())
		})
	}
}
