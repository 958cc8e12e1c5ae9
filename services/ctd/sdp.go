package ctd

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// holdOffer is the SDP of the INVITE to the caller's phones: one audio
// stream, a=inactive at the unspecified address (RFC 3264 §8.4 hold), so
// nothing plays until the phone calls the callee.
func holdOffer(now time.Time) []byte {
	v := now.Unix()
	return fmt.Appendf(nil, "v=0\r\no=sipbus %d %d IN IP4 0.0.0.0\r\ns=click-to-dial\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"+
		"m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=inactive\r\n", v, v)
}

// holdAnswer answers offer with every stream inactive (RFC 3264 §6: as
// many m= lines as the offer), for a 3PCC ACK when the callee gave no
// answer: the caller's phone is then BYEd.
func holdAnswer(offer []byte) []byte {
	if len(offer) == 0 {
		return holdOffer(time.Now())
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.ReplaceAll(string(offer), "\r\n", "\n"), "\n") {
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "a=sendrecv"), strings.HasPrefix(line, "a=sendonly"),
			strings.HasPrefix(line, "a=recvonly"), strings.HasPrefix(line, "a=inactive"):
			continue
		case strings.HasPrefix(line, "c="):
			line = "c=IN IP4 0.0.0.0"
		}
		b.WriteString(line + "\r\n")
		if strings.HasPrefix(line, "m=") {
			b.WriteString("a=inactive\r\n")
		}
	}
	return b.Bytes()
}

// responseBody is the body of a raw SIP response (nil when none or
// unparseable).
func responseBody(raw string) []byte {
	if raw == "" {
		return nil
	}
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil || m.Body.Len == 0 {
		return nil
	}
	return bytes.Clone(m.Bytes(m.Body))
}
