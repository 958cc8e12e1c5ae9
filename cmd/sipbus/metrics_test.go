package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// scrape reads /metrics into name{labels} -> value (histogram buckets
// included, comments dropped).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsAndReadiness runs `sipbus up` on a real Redis, sends calls
// with SIPp (caller and callee both through the edge) and checks that the
// counters on /metrics moved by exactly what the calls carried; then
// stops the redis-server: /readyz turns 503, and 200 again when it is back.
func TestMetricsAndReadiness(t *testing.T) {
	sippPath(t)
	redis := testenv.StartRedis(t)
	sipPort, uasPort, uacPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	base := "http://" + httpAddr
	natsPort := testenv.FreePort(t, "tcp")
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	p := start(t, "up", "--sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "--data", t.TempDir(),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--log-level", "warn",
		"--static", fmt.Sprintf("uas@localhost=sip:uas@127.0.0.1:%d", uasPort),
		"--redis", redis.URL+"?op_timeout=500ms", "--http", httpAddr)
	p.waitLine(t, "ready", 30*time.Second)
	for _, path := range []string{"/healthz", "/readyz"} {
		if c := status(t, base+path); c != http.StatusOK {
			t.Fatalf("%s: %d before any call", path, c)
		}
	}

	before := scrape(t, base)
	const n = 20
	uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(uasPort))
	runSIPp(t, "uac", "uac.xml", fmt.Sprintf("127.0.0.1:%d", sipPort), "-p", strconv.Itoa(uacPort), "-s", "uas",
		"-key", "domain", "localhost", "-m", strconv.Itoa(n), "-r", "10", "-cid_str", "metrics-%u-%p@[local_ip]").wait(t, 60*time.Second)
	uas.stopClean(t)
	after := scrape(t, base)
	delta := func(k string) float64 { return after[k] - before[k] }

	// Per call: the caller sends INVITE, ACK, BYE; the callee answers 180
	// and 200 to the INVITE and 200 to the BYE. The edge sends each request
	// on to the callee, 100 Trying (its own), 180 and both 200s to the caller.
	want := map[string]float64{
		`sipbus_sip_requests_total{direction="in",method="INVITE"}`:  n,
		`sipbus_sip_requests_total{direction="in",method="ACK"}`:     n,
		`sipbus_sip_requests_total{direction="in",method="BYE"}`:     n,
		`sipbus_sip_requests_total{direction="out",method="INVITE"}`: n,
		`sipbus_sip_requests_total{direction="out",method="ACK"}`:    n,
		`sipbus_sip_requests_total{direction="out",method="BYE"}`:    n,
		`sipbus_sip_responses_total{code="180",direction="in"}`:      n,
		`sipbus_sip_responses_total{code="200",direction="in"}`:      2 * n,
		`sipbus_sip_responses_total{code="100",direction="out"}`:     n,
		`sipbus_sip_responses_total{code="180",direction="out"}`:     n,
		`sipbus_sip_responses_total{code="200",direction="out"}`:     2 * n,
		`sipbus_tm_transactions_total`:                               n, // one new server transaction per INVITE; ACK and BYE are in-dialog
		`sipbus_edge_shed_total`:                                     0,
		`sipbus_tm_shed_total`:                                       0,
	}
	for k, v := range want {
		if got := delta(k); got != v {
			t.Errorf("%s moved by %v, want %v", k, got, v)
		}
	}
	// tm decides every message it consumes: INVITE, ACK, BYE, 180, 200, 200.
	if got := delta("sipbus_tm_decision_seconds_count"); got < 6*n {
		t.Errorf("sipbus_tm_decision_seconds_count moved by %v, want at least %d", got, 6*n)
	}
	// The overload control's gauges: 10 calls/s is no overload (everything
	// let through, no detector holding); the latest delays were measured.
	for k, v := range map[string]float64{
		`sipbus_edge_admission_share{service="tm"}`:        1,
		`sipbus_edge_admission_share{service="registrar"}`: 1,
		`sipbus_edge_admission_limit{service="tm"}`:        0,
		`sipbus_edge_overloaded`:                           0,
		`sipbus_edge_replicas_overloaded{service="tm"}`:    0,
		`sipbus_tm_overloaded`:                             0,
	} {
		if got, ok := after[k]; !ok || got != v {
			t.Errorf("%s = %v (exported: %v), want %v", k, got, ok, v)
		}
	}
	// The rate the admission limit would follow: the calls tm answered.
	if got := after[`sipbus_edge_admission_served{service="tm"}`]; got <= 0 || got > 100 {
		t.Errorf(`sipbus_edge_admission_served{service="tm"} = %v, want the calls' rate, about 10 a second`, got)
	}
	for _, k := range []string{"sipbus_edge_queue_delay_seconds", "sipbus_tm_queue_delay_seconds"} {
		if got, ok := after[k]; !ok || got <= 0 || got >= 1 {
			t.Errorf("%s = %v (exported: %v), want a delay above 0 and under a second", k, got, ok)
		}
	}
	if after["sipbus_redis_rtt_seconds_count"] == 0 || after["sipbus_nats_rtt_seconds_count"] == 0 {
		t.Errorf("no Redis or NATS round trip observed (readiness checks ran)")
	}
	if t.Failed() {
		t.Logf("sipp uas logs:\n%s", uas.logs())
	}

	// REGISTER by result: SIPp registers each provisioned user with one
	// MD5 challenge (401, then 200), and one REGISTER for a domain this
	// registrar does not serve is refused unchallenged (RFC 3261 §10.3 step 1).
	const regs = 10
	for i := 1; i <= regs; i++ {
		u := fmt.Sprintf("met%04d", i)
		cli(t, natsURL, "user", "add", u+"@localhost", "--password", "pw-"+u)
	}
	before = scrape(t, base)
	runSIPp(t, "reg_auth", "reg_auth.xml", fmt.Sprintf("127.0.0.1:%d", sipPort), "-p", strconv.Itoa(uacPort),
		"-inf", usersFile(t, "met", regs), "-key", "domain", "localhost", "-m", strconv.Itoa(regs), "-r", "20").wait(t, 60*time.Second)
	runSIPp(t, "reg_refused", "reg_refused.xml", fmt.Sprintf("127.0.0.1:%d", sipPort), "-p", strconv.Itoa(uacPort),
		"-key", "domain", "elsewhere.example", "-m", "1").wait(t, 30*time.Second)
	after = scrape(t, base)
	for k, v := range map[string]float64{
		`sipbus_registrar_registers_total{result="ok"}`:         regs,
		`sipbus_registrar_registers_total{result="challenged"}`: regs,
		`sipbus_registrar_registers_total{result="rejected"}`:   1,
		`sipbus_registrar_registers_total{result="failed"}`:     0,
		`sipbus_registrar_registers_total{result="shed"}`:       0,
	} {
		if got := delta(k); got != v {
			t.Errorf("%s moved by %v, want %v", k, got, v)
		}
	}
	// The registrar's overload detector: twenty REGISTERs are no
	// overload, and the latest one's wait was measured.
	if got, ok := after["sipbus_registrar_overloaded"]; !ok || got != 0 {
		t.Errorf("sipbus_registrar_overloaded = %v (exported: %v), want 0", got, ok)
	}
	if got, ok := after["sipbus_registrar_queue_delay_seconds"]; !ok || got <= 0 || got >= 1 {
		t.Errorf("sipbus_registrar_queue_delay_seconds = %v (exported: %v), want a delay above 0 and under a second", got, ok)
	}

	redis.Stop()
	testenv.Eventually(t, 15*time.Second, func() bool { return status(t, base+"/readyz") == http.StatusServiceUnavailable },
		"/readyz still 200 with Redis stopped")
	if c := status(t, base+"/healthz"); c != http.StatusOK {
		t.Errorf("/healthz %d with Redis stopped: the process is alive", c)
	}
	redis.Start()
	testenv.Eventually(t, 15*time.Second, func() bool { return status(t, base+"/readyz") == http.StatusOK },
		"/readyz not 200 again after Redis returned")
}
