//go:build !linux

package ports

import (
	"net"
	"time"
)

const oobSize = 0

func enableRxTime(*net.UDPConn) bool { return false }

func rxTime([]byte) (time.Time, bool) { return time.Time{}, false }
