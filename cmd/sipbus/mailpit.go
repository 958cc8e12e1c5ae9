package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier"
)

// mailpitVersion is the Mailpit `sipbus up --smtp dev` asks for when it
// finds none.
const mailpitVersion = "v1.33.1"

// devMailpit is the Mailpit of `sipbus up --smtp dev`: bound to
// 127.0.0.1 on free ports, its mails in the data folder, stopped (by its
// PID) when sipbus stops.
type devMailpit struct {
	cmd  *exec.Cmd
	done chan struct{}
	smtp string // 127.0.0.1:port
	api  string // http://127.0.0.1:port
}

// findMailpit looks for the mailpit binary: $SIPBUS_MAILPIT, PATH,
// $GOPATH/bin, ~/go/bin.
func findMailpit() (string, error) {
	if p := os.Getenv("SIPBUS_MAILPIT"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	var dirs []string
	if g := os.Getenv("GOPATH"); g != "" {
		dirs = append(dirs, filepath.SplitList(g)...)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("--smtp dev: mailpit not found on PATH nor in $GOPATH/bin: install it with `go install github.com/axllent/mailpit@%s`", mailpitVersion)
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startMailpit starts Mailpit with its database in dataDir and waits until
// it answers (20 s at most).
func startMailpit(dataDir string) (*devMailpit, error) {
	bin, err := findMailpit()
	if err != nil {
		return nil, err
	}
	smtpPort, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	m := &devMailpit{smtp: "127.0.0.1:" + strconv.Itoa(smtpPort), api: "http://127.0.0.1:" + strconv.Itoa(httpPort), done: make(chan struct{})}
	logFile, err := os.OpenFile(filepath.Join(dataDir, "mailpit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--smtp dev: %w", err)
	}
	m.cmd = exec.Command(bin, "--disable-version-check", "--database", filepath.Join(dataDir, "mailpit.db"),
		"--smtp", m.smtp, "--listen", "127.0.0.1:"+strconv.Itoa(httpPort), "--quiet")
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("--smtp dev: start %s: %w", bin, err)
	}
	go func() { _ = m.cmd.Wait(); logFile.Close(); close(m.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("--smtp dev: mailpit exited at start (see %s)", filepath.Join(dataDir, "mailpit.log"))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, errors.New("--smtp dev: mailpit did not answer within 20s")
		}
	}
}

// stop kills Mailpit by its PID and waits for it.
func (m *devMailpit) stop() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// upNotifier starts the notifier of `sipbus up` when --smtp is set: with
// the registrar's directory (in memory, the same one) and its state beside
// the transaction store. It prints the smtp and notifier lines; stop
// shuts it (and a dev Mailpit) down.
func upNotifier(ctx context.Context, f *notifierFlags, dataDir string, nc *nats.Conn, js jetstream.JetStream,
	dir subscriber.Directory, st store.Store, metrics *obs.Metrics, tracer *obs.Tracer, log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	stop = func() {}
	if *f.smtp == "" {
		fmt.Fprintf(stdout, "  notifier  off (no --smtp: missed-call mail needs `--smtp dev` or an SMTP URL)\n")
		return stop, nil
	}
	cfg, err := notifierFile(*f.config)
	if err != nil {
		return stop, errUsage{fmt.Errorf("--notifier-config: %w", err)}
	}
	cfg.ID = "notifier-up"
	var mp *devMailpit
	smtpLine := ""
	if *f.smtp == "dev" {
		if mp, err = startMailpit(dataDir); err != nil {
			return stop, err
		}
		cfg.SMTP = "smtp://" + mp.smtp + "?tls=none"
		smtpLine = fmt.Sprintf("dev: Mailpit on %s (no TLS); read the mails at %s/api/v1/messages", mp.smtp, mp.api)
	} else {
		cfg.SMTP = *f.smtp
	}
	if err := cfg.Validate(); err != nil {
		if mp != nil {
			mp.stop()
		}
		return stop, errUsage{fmt.Errorf("--smtp / --notifier-config: %w", err)}
	}
	n, err := notifier.New(cfg, notifier.Deps{NC: nc, JS: js, Directory: dir, State: notifier.StateFor(st), Log: log, Metrics: metrics, Tracer: tracer})
	if err == nil {
		err = n.Start(ctx)
	}
	if err != nil {
		if mp != nil {
			mp.stop()
		}
		return stop, err
	}
	if smtpLine == "" {
		s, _ := n.SMTPServer()
		smtpLine = s.String()
	}
	fmt.Fprintf(stdout, "  smtp   %s\n", smtpLine)
	fmt.Fprintf(stdout, "  notifier  missed-call mail on (rate limit %d per %v), exec rules %d\n", cfg.RateLimit, cfg.RateWindow, len(cfg.Exec))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(sctx)
		if mp != nil {
			mp.stop()
		}
	}, nil
}
