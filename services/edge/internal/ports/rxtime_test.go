package ports

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// The kernel stamps each datagram with the time it reached the socket: a
// datagram read a while after it arrived shows that wait.
func TestRxTime(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !enableRxTime(c) {
		if runtime.GOOS == "linux" {
			t.Fatal("SO_TIMESTAMPNS could not be set on linux")
		}
		return
	}
	out, err := net.DialUDP("udp", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The kernel turns arrival stamping on for every socket when the first
	// asks for it, from a work queue (net_enable_timestamp): a datagram
	// that arrives before that is stamped when it is read. So the first
	// attempts may read as late; one of five must show the arrival time.
	var last string
	for range 5 {
		sent := time.Now()
		if _, err := out.Write([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the datagram waits in the socket buffer
		buf, oob := make([]byte, 1500), make([]byte, oobSize)
		_, oobn, _, _, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		read := time.Now()
		at, ok := rxTime(oob[:oobn])
		if !ok {
			t.Fatal("no kernel timestamp on the datagram")
		}
		if at.Before(sent.Add(-time.Second)) {
			t.Fatalf("kernel time %v, sent %v: not a receive time", at, sent)
		}
		if read.Sub(at) >= 40*time.Millisecond {
			return
		}
		last = fmt.Sprintf("kernel time %v: sent %v, read %v", at, sent, read)
	}
	t.Errorf("%s; want about the send time, 50ms before the read, in one of five datagrams", last)
}
