package ports

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

// source is where a REGISTER came from, in the form the location service
// stores (location.Binding.Received): "udp:ip:port"; for a connection
// "tcp:<flow id>" (tm sends back on it), or "tcp:ip:port" without a flow.
func source(n *events.SIP) app.Source {
	src := app.Source{Transport: n.Transport, Edge: n.Edge}
	switch {
	case n.Transport == "":
	case n.Transport != "udp" && n.Flow != "":
		src.Received = n.Transport + ":" + n.Flow
	case n.Remote != "":
		src.Received = n.Transport + ":" + n.Remote
	}
	return src
}

// remoteAddr is the address the message came from (for a connection, its
// peer); invalid when the event does not say.
func remoteAddr(s *events.SIP) netip.Addr {
	ap, err := netip.ParseAddrPort(s.Remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// replyOptions are the sipmsg.ReplyOptions of every reply to m: a To tag
// derived from the server transaction (a reply built twice for one
// request, after a redelivery, is the same reply), and received / rport on
// the top Via as the edge's own replies have them (RFC 3261 §18.2.1, RFC
// 3581 §4).
func replyOptions(s *events.SIP, m *sipmsg.Msg, txKey string) sipmsg.ReplyOptions {
	opt := sipmsg.ReplyOptions{ToTag: tagFor(txKey)}
	remote, err := netip.ParseAddrPort(s.Remote)
	if err != nil {
		return opt
	}
	if v, err := m.TopVia(); err == nil {
		src := remote.Addr().Unmap()
		if a, err := netip.ParseAddr(v.Host); err != nil || a.Unmap() != src || v.RPort == 0 {
			opt.Received = src.String()
		}
		if v.RPort == 0 {
			opt.RPort = int(remote.Port())
		}
	}
	return opt
}

// tagFor is the To tag of the replies to the server transaction txKey:
// stable, so every reply to one REGISTER carries the same tag.
func tagFor(txKey string) string {
	if txKey == "" {
		return sipmsg.NewTag()
	}
	sum := sha256.Sum256([]byte("registrar-tag|" + txKey))
	return hex.EncodeToString(sum[:8])
}

// truncate cuts s to n bytes for a reason phrase or a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// quote is a value quoted for a reason: %q of at most 200 bytes.
func quote(s string) string { return strconv.Quote(truncate(s, 200)) }
