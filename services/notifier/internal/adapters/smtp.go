package adapters

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/sipbus/sipbus/services/notifier/internal/app"
	"github.com/sipbus/sipbus/services/notifier/internal/config"
)

// SMTP sends mails through one server with github.com/wneessen/go-mail: a
// connection per mail (a notifier sends a few a minute), STARTTLS or TLS
// as configured, AUTH when a user is set.
type SMTP struct {
	Server  config.SMTP
	TLS     *tls.Config // nil: go-mail's defaults (system roots, TLS 1.2+)
	From    *mail.Address
	ReplyTo string // bare address or ""
	Timeout time.Duration
}

// Send delivers m. A failure is an *app.SendError saying whether a retry
// may help.
func (s *SMTP) Send(ctx context.Context, m *app.Mail) error {
	msg, err := s.message(m)
	if err != nil {
		return &app.SendError{Text: "compose: " + err.Error()}
	}
	c, err := gomail.NewClient(s.Server.Host, s.options()...)
	if err != nil {
		return &app.SendError{Text: "smtp client: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	return classify(c.DialAndSendWithContext(ctx, msg))
}

func (s *SMTP) options() []gomail.Option {
	o := []gomail.Option{gomail.WithPort(s.Server.Port), gomail.WithTimeout(s.Timeout)}
	switch s.Server.TLS {
	case config.TLSImplicit:
		o = append(o, gomail.WithSSL())
	case config.TLSStartTLS:
		o = append(o, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case config.TLSOpportunistic:
		o = append(o, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		o = append(o, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.TLS != nil {
		o = append(o, gomail.WithTLSConfig(s.TLS))
	}
	if s.Server.HELO != "" {
		o = append(o, gomail.WithHELO(s.Server.HELO))
	}
	if s.Server.User != "" {
		clear := s.Server.TLS == config.TLSNone || s.Server.TLS == config.TLSOpportunistic // loopback only (config)
		auth := map[string]gomail.SMTPAuthType{
			config.AuthAuto: gomail.SMTPAuthAutoDiscover, config.AuthPlain: gomail.SMTPAuthPlain,
			config.AuthLogin: gomail.SMTPAuthLogin, config.AuthCRAMMD5: gomail.SMTPAuthCramMD5,
		}[s.Server.Auth]
		if clear && (auth == gomail.SMTPAuthPlain || auth == gomail.SMTPAuthAutoDiscover) {
			// go-mail's discovery refuses every mechanism without TLS;
			// the configuration allows clear text only to loopback.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		if clear && auth == gomail.SMTPAuthLogin {
			auth = gomail.SMTPAuthLoginNoEnc
		}
		o = append(o, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.Server.User), gomail.WithPassword(s.Server.Password))
	}
	return o
}

// message builds the MIME message: one To, the subject as encoded words
// when it is not plain ASCII, a text part and an HTML alternative.
func (s *SMTP) message(m *app.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.SetMessageIDWithValue(m.MessageID)
	msg.FromMailAddress(s.From)
	if s.ReplyTo != "" {
		if err := msg.ReplyTo(s.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to: %w", err)
		}
	}
	to, err := mail.ParseAddress(m.To.Addr)
	if err != nil || to.Address != m.To.Addr {
		return nil, fmt.Errorf("recipient %q is not a bare address", m.To.Addr)
	}
	// net/mail.Address.String quotes an ASCII name and encodes any other:
	// whatever it holds, it stays one display name.
	msg.ToMailAddress(&mail.Address{Name: phrase(m.To.Name), Address: to.Address})
	msg.Subject(app.EncodeHeader(m.Subject))
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	msg.SetGenHeader("X-Sipbus-Key", app.EncodeHeader(app.Text(m.Key, 200)))
	if m.EventID != "" {
		msg.SetGenHeader("X-Sipbus-Event", app.EncodeHeader(app.Text(m.EventID, 200)))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// phrase makes a display name safe for net/mail.Address.String: a name
// that is not ASCII is Q-encoded there, and the encoder leaves RFC 5322
// specials ("<>@,;:\\.[]()) as they are, which a reader's parser may take
// for address syntax; they become spaces in such a name.
func phrase(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return strings.Map(func(r rune) rune {
				if strings.ContainsRune(`"<>@,;:\.[]()`, r) {
					return ' '
				}
				return r
			}, name)
		}
	}
	return name
}

// classify maps go-mail's error to an *app.SendError: a reply code 5xx
// is permanent, 4xx temporary; without a code (no connection, a timeout,
// TLS, the connection lost mid-DATA) it is temporary, but for the errors
// about the message itself.
func classify(err error) error {
	if err == nil {
		return nil
	}
	text := app.Text(err.Error(), 1000)
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code >= 500:
			return &app.SendError{Code: code, Text: text}
		case code >= 400:
			return &app.SendError{Temporary: true, Code: code, Text: text}
		case se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts:
			return &app.SendError{Text: text}
		}
		return &app.SendError{Temporary: true, Text: text}
	}
	return &app.SendError{Temporary: true, Text: text}
}
