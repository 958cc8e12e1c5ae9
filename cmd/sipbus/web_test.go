package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// chromiumPath finds the browser the web tests drive: $SIPBUS_CHROMIUM, or
// Debian's chromium (or another Chrome) on PATH or where Debian puts it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SIPBUS_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("$SIPBUS_CHROMIUM=%s is not an executable: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium", "/snap/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install the Debian package chromium (apt-get install -y chromium; .ci/run does) or set $SIPBUS_CHROMIUM")
	return ""
}

// browserAt starts a headless chromium with a window width px wide and
// returns a tab's context; everything stops with the test.
func browserAt(t *testing.T, width int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests may run as root, where chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(width, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancel(); cancelAlloc() })
	// Headless chromium keeps windows at least 500 px wide: the viewport
	// is emulated at the width asked.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// readmeWebUser returns the arguments of the `sipbus user add` command of
// the README's "The web page" section, after checking the section signs in
// with the address and password that command sets.
func readmeWebUser(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## The web page")
	if !ok {
		t.Fatal(`README.md has no "## The web page" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	if !strings.Contains(section, "go run ./cmd/sipbus up\n") {
		t.Fatal("README's web page section does not start sipbus up")
	}
	for line := range strings.Lines(section) {
		if _, cmd, ok := strings.Cut(line, "go run ./cmd/sipbus user add "); ok {
			args := append([]string{"user", "add"}, strings.Fields(cmd)...)
			if len(args) != 5 || args[2] != "alice@localhost" || args[3] != "--password" || args[4] != "alice-secret" ||
				!strings.Contains(section, "sign in as `alice@localhost` with\n`alice-secret`") {
				t.Fatalf("README's web page section: the test signs in as alice@localhost with alice-secret, the README says %q", line)
			}
			return args
		}
	}
	t.Fatal("README's web page section has no `sipbus user add` command")
	return nil
}

// webURL is the http line of `sipbus up`.
func (s *upStack) webURL(t *testing.T) string {
	t.Helper()
	for _, l := range s.p.seen {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "http" && strings.HasPrefix(f[1], "http://") {
			return f[1]
		}
	}
	t.Fatalf("sipbus up printed no http line: %q", s.p.seen)
	return ""
}

// page drives one tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, p.text())
	}
}

func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	return s
}

// waitFor evaluates a JavaScript condition every 100 ms until it is true
// (a navigation in between only means evaluating again).
func (p *page) waitFor(what, js string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s: not within %v (last error %v)\npage text:\n%s", what, d, last, p.text())
}

func (p *page) signIn(base, aor, password string) {
	p.t.Helper()
	p.do("open the sign-in page", chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("aor")))
	p.do("sign in as "+aor, chromedp.SendKeys(chromedp.ID("aor"), aor), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin-submit")))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWebPage drives the page in headless chromium at 360 px wide against
// `sipbus up` as a user would, after `sipbus user add`: a wrong password
// is refused; alice signs in, adds a phonebook entry, sees her baresip
// phone's binding appear live, sees bob's unanswered call listed as
// missed, sees the binding vanish when the phone unregisters, changes her
// password and signs in with the new one. It writes docs/web.png.
func TestWebPage(t *testing.T) {
	s := startUp(t)
	base := s.webURL(t)
	cli(t, s.nats, readmeWebUser(t)...) // alice@localhost, alice-secret: as the README says
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret")
	p := &page{t: t, ctx: browserAt(t, 360)}

	p.signIn(base, "alice@localhost", "wrong-password")
	p.waitFor("a wrong password is refused", `(document.getElementById("signin-error")||{}).textContent === "Wrong address or password."`, 10*time.Second)

	p.signIn(base, "alice@localhost", "alice-secret")
	p.waitFor("alice's page", `document.body.dataset.aor === "alice@localhost"`, 10*time.Second)

	p.do("add a phonebook entry", chromedp.SendKeys(chromedp.ID("pb-name"), "Bob Builder"),
		chromedp.SendKeys(chromedp.ID("pb-target"), "sip:bob@localhost"), chromedp.Click(chromedp.ID("pb-add-submit")))
	p.waitFor("the entry is listed", `[...document.querySelectorAll("#pb-list li")].some(li => li.textContent.includes("Bob Builder") && li.textContent.includes("sip:bob@localhost"))`, 10*time.Second)

	// alice's phone registers: the binding appears without a reload.
	account := func(user, display, extra string) string {
		return fmt.Sprintf(`"%s" <sip:%s@localhost>;auth_pass=%s-secret;outbound="sip:%s"%s`, display, user, user, s.sip, extra)
	}
	alice := startBaresip(t, "alice", account("alice", "Alice", ""), "<sip:bob@localhost>")
	p.waitFor("alice's binding appears", `[...document.querySelectorAll("#reg-list li")].some(li => li.textContent.includes(`+jsString("@"+alice.sip)+`) && li.textContent.includes("expires in"))`, 15*time.Second)

	// bob calls alice, she does not answer, bob gives up: a missed call.
	bob := startBaresip(t, "bob", account("bob", "Bob Builder", ""), "<sip:alice@localhost>")
	bob.command("dial", "sip:alice@localhost")
	alice.waitEvent("CALL_INCOMING", 15*time.Second)
	bob.command("hangup", "")
	p.waitFor("the missed call is listed", `[...document.querySelectorAll("#call-list li.missed")].some(li => li.textContent.includes("Bob Builder") && li.textContent.includes("missed (cancelled)"))`, 15*time.Second)
	// It is in the stored history too (a reload shows it).
	p.do("reload", chromedp.Reload())
	p.waitFor("the missed call after a reload", `[...document.querySelectorAll("#call-list li.missed")].some(li => li.textContent.includes("sip:bob@localhost"))`, 10*time.Second)

	// 360 px: nothing wider than the window.
	if w, err := chromedp.Run(p.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || w > 360 {
		t.Errorf("the page is %d px wide at a 360 px window (%v): it must not scroll sideways", w, err)
	}
	shot, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	shot = pngOf(t, shot)
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "web.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// alice's phone unregisters (baresip does on SIGINT): the binding vanishes.
	_ = alice.cmd.Process.Signal(os.Interrupt)
	p.waitFor("alice's binding vanishes", `document.querySelectorAll("#reg-list li[data-expires]").length === 0 && document.querySelector("#reg-list li.empty") !== null`, 15*time.Second)

	// My account: e-mail, missed-call mail off, time zone reach the directory.
	p.do("account", chromedp.SetValue(chromedp.ID("email"), "alice@example.com"), chromedp.SetValue(chromedp.ID("tz"), "Europe/Paris"),
		chromedp.Click(chromedp.ID("missed-call")), chromedp.Click(chromedp.ID("account-save")))
	p.waitFor("account saved", `(document.getElementById("msg")||{}).textContent === "Done: account."`, 10*time.Second)
	var users []regapi.User
	if err := json.Unmarshal([]byte(cli(t, s.nats, "user", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.AOR == "alice@localhost" && (u.Email != "alice@example.com" || u.TZ != "Europe/Paris" || u.MissedCallEmail) {
			t.Errorf("alice in the directory after the account form: %+v", u)
		}
	}

	// Change the password: signed out, the old one is refused, the new one works.
	p.do("change the password", chromedp.SendKeys(chromedp.ID("pw-current"), "alice-secret"),
		chromedp.SendKeys(chromedp.ID("pw-new"), "alice-new-secret"), chromedp.SendKeys(chromedp.ID("pw-confirm"), "alice-new-secret"),
		chromedp.Click(chromedp.ID("pw-save")))
	p.waitFor("back at the sign-in page", `document.getElementById("signin") !== null && document.body.innerText.includes("Your password was changed")`, 10*time.Second)
	p.signIn(base, "alice@localhost", "alice-secret")
	p.waitFor("the old password is refused", `(document.getElementById("signin-error")||{}).textContent === "Wrong address or password."`, 10*time.Second)
	p.signIn(base, "alice@localhost", "alice-new-secret")
	p.waitFor("signed in with the new password", `document.body.dataset.aor === "alice@localhost"`, 10*time.Second)
	if ok, _ := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.getElementById("admin") === null`)); !ok {
		t.Error("alice, no admin, sees the admin section")
	}

	// An admin (sipbus user add --admin on) sees every user.
	cli(t, s.nats, "user", "add", "root@localhost", "--password", "root-secret", "--admin", "on")
	if list := cli(t, s.nats, "user", "list"); !strings.Contains(list, "ADMIN") || !regexp.MustCompile(`(?m)^root@localhost .* on\s*$`).MatchString(list) {
		t.Errorf("user list does not show root as admin:\n%s", list)
	}
	p.do("sign out", chromedp.Click(chromedp.ID("signout")))
	p.waitFor("signed out", `document.getElementById("signin") !== null`, 10*time.Second)
	p.signIn(base, "root@localhost", "root-secret")
	p.waitFor("the admin lists the users", `[...document.querySelectorAll("#user-list li a")].map(a => a.textContent).join(" ") === "alice@localhost bob@localhost root@localhost"`, 10*time.Second)
}

// TestWebClickToDial: alice clicks a phonebook entry on the page and
// watches the click-to-dial progress live (ctd's event stream), with two
// baresip phones: alice's answers by itself and follows the REFER to bob;
// bob's rings and answers: the panel goes trying ... callee_ringing ...
// connected. A second click, and the hang-up button while bob's phone
// rings, ends that call (bob's phone stops ringing, the panel says so).
func TestWebClickToDial(t *testing.T) {
	s := startUp(t)
	base := s.webURL(t)
	for _, u := range []string{"alice", "bob"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", u+"-secret")
	}
	alice := startBaresip(t, "alice", readmeAccount(t, "alice", s.sip)+";answermode=auto", "<sip:bob@localhost>")
	bobAccount := strings.Replace(readmeAccount(t, "bob", s.sip), ";answermode=auto", "", 1) // bob answers by hand
	bob := startBaresip(t, "bob", bobAccount, "<sip:alice@localhost>")
	waitRegistered(t, s.nats, "alice@localhost")
	waitRegistered(t, s.nats, "bob@localhost")

	p := &page{t: t, ctx: browserAt(t, 360)}
	p.signIn(base, "alice@localhost", "alice-secret")
	p.waitFor("alice's page", `document.body.dataset.aor === "alice@localhost"`, 10*time.Second)
	p.do("add bob", chromedp.SendKeys(chromedp.ID("pb-name"), "Bob"),
		chromedp.SendKeys(chromedp.ID("pb-target"), "sip:bob@localhost"), chromedp.Click(chromedp.ID("pb-add-submit")))
	p.waitFor("bob is listed", `document.querySelector("#pb-list li[data-id] button.dial") !== null`, 10*time.Second)
	watch := func() {
		p.do("watch the phases", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { window.phases = []; const el = document.getElementById("dial-phase");
				if (!window.phaseObserver) { window.phaseObserver = new MutationObserver(() => {
					if (window.phases[window.phases.length-1] !== el.textContent) window.phases.push(el.textContent); });
				window.phaseObserver.observe(el, {childList: true, characterData: true, subtree: true}); } return true })()`))
			return err
		}))
	}
	phases := func() string {
		v, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`window.phases.join(" ")`))
		return v
	}

	watch()
	p.do("click bob", chromedp.Click(chromedp.CSS("#pb-list li[data-id] button.dial")))
	bob.waitEvent("CALL_INCOMING", 30*time.Second)
	p.waitFor("the panel shows bob ringing", `document.getElementById("dial-phase").textContent === "callee_ringing"`, 15*time.Second)
	bob.command("accept", "")
	p.waitFor("the progress reaches connected", `document.getElementById("dial-phase").textContent === "connected"`, 30*time.Second)
	if got := phases(); !strings.HasPrefix(got, "starting trying") || !strings.Contains(got, "callee_ringing") || !strings.HasSuffix(got, "connected") {
		t.Errorf("the panel showed %q, want starting trying ... callee_ringing connected", got)
	}
	bob.waitEvent("CALL_ESTABLISHED", 10*time.Second)
	alice.command("hangup", "") // a connected call ends on a phone
	bob.waitEvent("CALL_CLOSED", 15*time.Second)

	watch()
	p.do("click bob again", chromedp.Click(chromedp.CSS("#pb-list li[data-id] button.dial")))
	bob.waitEvent("CALL_INCOMING", 30*time.Second)
	p.waitFor("bob rings again", `document.getElementById("dial-phase").textContent === "callee_ringing"`, 15*time.Second)
	p.do("hang up", chromedp.Click(chromedp.ID("dial-hangup")))
	p.waitFor("the panel shows the call cancelled", `document.getElementById("dial-phase").textContent === "cancelled" && document.getElementById("dial-hangup").hidden`, 15*time.Second)
	// ctd has ended its part. (In the REFER flow the call now ringing at
	// bob's is alice's phone's own, which ctd does not cancel: see the report.)
	bob.command("hangup", "")
}

// TestWebUsageErrors: a bad --admin value and a bad $SIPBUS_WEB_SECRET are
// refused with a message naming them.
func TestWebUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"user", "add", "x@localhost", "--password", "secret1", "--admin", "maybe", "--nats", "nats://127.0.0.1:1"}, "", `--admin: want on or off, got "maybe"`},
		{[]string{"up", "--sip", fmt.Sprintf("127.0.0.1:%d", freeSIPPort(t)), "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", freeSIPPort(t))},
			"SIPBUS_WEB_SECRET=not-hex", "$SIPBUS_WEB_SECRET: want at least 32 bytes in hex"},
	} {
		cmd := exec.Command(sipbusBinary(t), c.args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "SIPBUS_NATS_URL=", "SIPBUS_REDIS_URL=", c.env)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%v %s: %v\n%s\nwant an error with %q", c.args, c.env, err, out, c.want)
		}
	}
}

// TestWebCommand: `sipbus web` runs the page as its own process (the web's
// own main, web.Spec) next to `sipbus up` on a shared Redis: settings from
// flags and the secret from $SIPBUS_WEB_SECRET; it serves the page and
// /readyz, prints its banner, and stops on SIGINT with "stopped".
func TestWebCommand(t *testing.T) {
	redis := testenv.RedisURL(t)
	s := startUp(t, "--redis", redis, "--http", "off")
	t.Setenv("SIPBUS_WEB_SECRET", strings.Repeat("5a", 32))
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := start(t, "web", "--nats", s.nats, "--redis", redis, "--http", addr, "--domains", "localhost", "--log-level", "warn")
	p.waitLine(t, "ready", 30*time.Second)
	if seen := strings.Join(p.seen, "\n"); !strings.Contains(seen, "sipbus web\n  web    id web, history consumers web-history, web-history-missed\n  http   http://"+addr) {
		t.Errorf("banner:\n%s", seen)
	}
	for _, path := range []string{"/signin", "/readyz"} {
		if code, body := testenv.HTTPGet("http://" + addr + path); code != 200 {
			t.Errorf("GET %s: %d %.200s", path, code, body)
		}
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "stopped", 20*time.Second)
}
