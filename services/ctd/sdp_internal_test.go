package ctd

import (
	"strings"
	"testing"
	"time"
)

// TestHoldSDP: the INVITE's offer is on hold (RFC 3264 §8.4), and the hold
// answer to a 3PCC offer keeps its m= lines with every stream inactive.
func TestHoldSDP(t *testing.T) {
	offer := string(holdOffer(time.Unix(1700000000, 0)))
	for _, want := range []string{"v=0\r\n", "c=IN IP4 0.0.0.0\r\n", "m=audio 9 RTP/AVP 0 8 101\r\n", "a=inactive\r\n"} {
		if !strings.Contains(offer, want) {
			t.Errorf("hold offer lacks %q:\n%s", want, offer)
		}
	}
	phone := "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\nm=video 4002 RTP/AVP 96\r\na=sendonly\r\n"
	ans := string(holdAnswer([]byte(phone)))
	if strings.Count(ans, "m=") != 2 || strings.Count(ans, "a=inactive") != 2 || strings.Contains(ans, "send") || strings.Contains(ans, "10.0.0.1\r\nt=") {
		t.Errorf("hold answer:\n%s", ans)
	}
	if b := responseBody("SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nv=0\r\n"); string(b) != "v=0\r\n" {
		t.Errorf("responseBody %q", b)
	}
	if responseBody("") != nil || responseBody("garbage") != nil {
		t.Error("responseBody of nothing")
	}
}
