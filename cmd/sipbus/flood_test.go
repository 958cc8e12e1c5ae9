package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// Flood test parameters: the numbers.
const (
	floodRate   = 20_000 // OPTIONS/s from the flooding source
	legitRate   = 100    // calls/s from the legitimate source
	legitCalls  = 1000   // 10 s of calls
	minComplete = 0.99
)

// TestFloodLeavesCallsCompleting: `sipbus up` with flood control's default
// limits and nothing exempt (--flood-allow none, so the legitimate caller
// is limited like the flooder) takes a flood of 20,000 OPTIONS/s from
// 127.0.0.2 (a Go sender in this process) while SIPp on 127.0.0.1 calls a
// SIPp callee at 100 calls/s through it for 10 s. At least 99 % of the
// calls complete (INVITE, 200, ACK, BYE, 200); the flooder is blocked (one
// sipbus.edge.blocked event) and most of its flood is dropped unread.
func TestFloodLeavesCallsCompleting(t *testing.T) {
	sippPath(t)
	sipPort, natsPort, uasPort, uacPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp"), testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	target := fmt.Sprintf("127.0.0.1:%d", sipPort)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	up := start(t, "up", "--sip", target, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--edge-id", "flood", "--log-level", "warn", "--flood-allow", "none",
		"--static", fmt.Sprintf("uas@localhost=sip:uas@127.0.0.1:%d", uasPort))
	up.waitLine(t, "ready", 30*time.Second)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	blocked := make(chan *events.EdgeBlocked, 16)
	if _, err := nc.Subscribe("edge.blocked.>", func(m *nats.Msg) {
		ev, err := bus.Decode(m)
		if err != nil || events.Validate(ev) != nil {
			t.Errorf("blocked event does not decode or validate: %v", err)
			return
		}
		var d events.EdgeBlocked
		_ = json.Unmarshal(ev.Data, &d)
		blocked <- &d
	}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()

	uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(uasPort))
	ctx, stopFlood := context.WithCancel(context.Background())
	defer stopFlood()
	var fl floodResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fl = floodOPTIONS(ctx, t, "127.0.0.2", target, floodRate) }()
	time.Sleep(500 * time.Millisecond) // the flood is on before the first call

	uac := runSIPp(t, "uac", "uac.xml", target, "-p", strconv.Itoa(uacPort), "-s", "uas", "-key", "domain", "localhost",
		"-m", strconv.Itoa(legitCalls), "-r", strconv.Itoa(legitRate), "-cid_str", "flood-legit-%u-%p@[local_ip]",
		"-trace_stat", "-stf", "stats.csv")
	uacErr := uac.exit(t, 90*time.Second)
	stopFlood()
	wg.Wait()
	uas.stopQuiet()

	rate := float64(fl.sent) / fl.took.Seconds()
	t.Logf("flood: %d OPTIONS in %v from 127.0.0.2: %.0f/s (target %d/s); %d send errors", fl.sent, fl.took.Round(time.Millisecond), rate, floodRate, fl.errors)
	ok, failed := uac.callCounts(t)
	t.Logf("legitimate calls: %d successful, %d failed of %d at %d/s (SIPp exit: %v)", ok, failed, legitCalls, legitRate, uacErr)
	if float64(ok) < minComplete*legitCalls {
		t.Errorf("%d of %d calls completed under a flood of %.0f OPTIONS/s: want at least %.0f %%\n%s", ok, legitCalls, rate, minComplete*100, uac.logs())
	}
	if rate < 0.9*floodRate {
		t.Errorf("the flood reached %.0f OPTIONS/s only; this machine cannot show the %d/s the test is about", rate, floodRate)
	}

	var c edge.Counters
	m, err := nc.Request(edgeapi.EdgeStatsSubject("flood"), nil, 5*time.Second)
	if err != nil || json.Unmarshal(m.Data, &c) != nil {
		t.Fatalf("edge stats: %v", err)
	}
	t.Logf("edge: received %d, flooded %d, blocks %d, published %d, dropped %d", c.Received, c.Flooded, c.Blocks, c.Published, c.Dropped)
	if c.Blocks != 1 || float64(c.Flooded) < 0.5*float64(fl.sent) {
		t.Errorf("flood control: %d blocks, %d of %d flood datagrams dropped unread; want 1 block and most of the flood", c.Blocks, c.Flooded, fl.sent)
	}
	select {
	case b := <-blocked:
		if b.Source != "127.0.0.2" || b.Edge != "flood" || b.Transport != "udp" {
			t.Errorf("blocked event %+v, want 127.0.0.2 over udp at edge flood", b)
		}
	case <-time.After(5 * time.Second):
		t.Error("no sipbus.edge.blocked event for the flooder")
	}
	if len(blocked) > 0 {
		t.Errorf("%d more blocked events: the legitimate caller was blocked too?", len(blocked))
	}
}

type floodResult struct {
	sent, errors int
	took         time.Duration
}

// floodOPTIONS sends OPTIONS from ip to target at rate per second until ctx
// ends, each a new transaction (its own Call-ID and branch), paced against
// the clock: a late tick sends what is due.
func floodOPTIONS(ctx context.Context, t *testing.T, ip, target string, rate int) floodResult {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Errorf("flood: bind %s: %v", ip, err)
		return floodResult{}
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", target)
	_ = c.SetWriteBuffer(4 << 20)
	from := c.LocalAddr().String()
	head := []byte("OPTIONS sip:" + target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";rport;branch=z9hG4bK-fl")
	tail := []byte("@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	mid := []byte("\r\nMax-Forwards: 70\r\nFrom: <sip:flood@" + ip + ">;tag=fl\r\nTo: <sip:" + target + ">\r\nCall-ID: fl")
	buf := make([]byte, 0, 512)
	var r floodResult
	begin := time.Now()
	for ctx.Err() == nil {
		due := int(time.Since(begin).Seconds() * float64(rate))
		for r.sent+r.errors < due {
			n := strconv.Itoa(r.sent + r.errors)
			buf = append(append(append(append(append(buf[:0], head...), n...), mid...), n...), tail...)
			if _, err := c.WriteToUDP(buf, to); err != nil {
				r.errors++
				continue
			}
			r.sent++
		}
		time.Sleep(time.Millisecond)
	}
	r.took = time.Since(begin)
	return r
}

// exit waits for SIPp to end and returns its exit error (a call that
// failed makes it exit 1: the caller judges the counts).
func (s *sipp) exit(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(d):
		_ = s.cmd.Process.Kill()
		t.Fatalf("sipp %s did not finish within %v\n%s", s.name, d, s.logs())
		return nil
	}
}

// stopQuiet stops a callee SIPp.
func (s *sipp) stopQuiet() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

var statHeader = regexp.MustCompile(`(^|;)SuccessfulCall\(C\);`)

// callCounts reads the cumulative successful and failed calls from the
// last line of SIPp's statistics file (-trace_stat -stf stats.csv).
func (s *sipp) callCounts(t *testing.T) (ok, failed int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "stats.csv"))
	if err != nil {
		t.Fatalf("sipp %s statistics: %v", s.name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 || !statHeader.MatchString(lines[0]) {
		t.Fatalf("sipp %s statistics file has no data:\n%s", s.name, b)
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	col := func(name string) int {
		for i, h := range head {
			if h == name && i < len(last) {
				n, err := strconv.Atoi(strings.TrimSpace(last[i]))
				if err != nil {
					t.Fatalf("sipp %s statistics: %s = %q", s.name, name, last[i])
				}
				return n
			}
		}
		t.Fatalf("sipp %s statistics: no column %s", s.name, name)
		return 0
	}
	return col("SuccessfulCall(C)"), col("FailedCall(C)")
}
