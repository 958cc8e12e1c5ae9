package app

import (
	"sync/atomic"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// SIP message counts by direction, request method and response status,
// for the metrics endpoint. Counting reads the start line of the raw
// message (no parse, no allocation) or the index of one already parsed,
// and adds to a fixed array of atomics.

// Directions of SIPCounts.
const (
	DirIn  = 0 // received from a peer
	DirOut = 1 // written to a socket
)

// CountedMethods are the request methods counted by name; any other is
// counted as "other" (a method token is unbounded: no label per value).
var CountedMethods = [...]string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "UPDATE",
	"INFO", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", "other"}

const nMethods = len(CountedMethods)

// SIPCounts counts SIP messages per direction: requests by method,
// responses by status code (100-699).
type SIPCounts struct {
	req [2][nMethods]atomic.Uint64
	res [2][600]atomic.Uint64
}

// Count adds one message, given its raw bytes, in direction dir.
// Bytes that do not start with a request or status line count nothing.
func (c *SIPCounts) Count(dir int, b []byte) {
	if len(b) >= 12 && string(b[:8]) == "SIP/2.0 " {
		code := int(b[8]-'0')*100 + int(b[9]-'0')*10 + int(b[10]-'0')
		if code >= 100 && code <= 699 && b[9] >= '0' && b[9] <= '9' && b[10] >= '0' && b[10] <= '9' {
			c.res[dir][code-100].Add(1)
		}
		return
	}
	sp := -1
	for i := 0; i < len(b) && i < 32; i++ {
		if b[i] == ' ' {
			sp = i
			break
		}
	}
	if sp <= 0 {
		return
	}
	c.req[dir][methodIndex(b[:sp])].Add(1)
}

// CountMsg adds one parsed message in direction dir from the index the
// caller already has (the edge's received messages: no second scan).
func (c *SIPCounts) CountMsg(dir int, m *sipmsg.Msg) {
	if !m.Request {
		if m.StatusCode >= 100 && m.StatusCode <= 699 {
			c.res[dir][m.StatusCode-100].Add(1)
		}
		return
	}
	c.req[dir][methodIndex(m.Bytes(m.Method))].Add(1)
}

// methodIndex is tok's slot in CountedMethods ("other" for the rest).
func methodIndex(tok []byte) int {
	for i := 0; i < nMethods-1; i++ {
		if string(tok) == CountedMethods[i] {
			return i
		}
	}
	return nMethods - 1
}

// Each calls f for every non-zero count: a request (method set, code 0)
// or a response (code set, method "").
func (c *SIPCounts) Each(f func(dir int, method string, code int, n uint64)) {
	for d := range 2 {
		for i := range nMethods {
			if n := c.req[d][i].Load(); n > 0 {
				f(d, CountedMethods[i], 0, n)
			}
		}
		for i := range 600 {
			if n := c.res[d][i].Load(); n > 0 {
				f(d, "", i+100, n)
			}
		}
	}
}
