//go:build linux

package ports

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Kernel receive timestamps (SO_TIMESTAMPNS): the time a datagram reached
// the socket, so that the queueing delay the edge measures for overload
// control includes the socket's own buffer, not only its worker queues.
// Past capacity a 4 MiB receive buffer holds seconds of datagrams that the
// reader has not touched yet. The kernel switches arrival stamping on from
// a work queue when the first socket asks for it, so the datagrams of the
// first moments after start may carry the time they were read instead.

const oobSize = 64

// enableRxTime asks the kernel to timestamp received datagrams; false when
// it cannot (the reader then uses the time it read them).
func enableRxTime(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// rxTime reads the kernel timestamp from a datagram's control data; ok is
// false when there is none.
func rxTime(oob []byte) (time.Time, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
		}
	}
	return time.Time{}, false
}
