package rawio

import (
	"net"
	"time"
)

// Dialer dials stream connections and wraps them (Wrap). It is a
// nats.CustomDialer: nats.SetCustomDialer(rawio.NewDialer(nats.DefaultTimeout))
// gives a service's NATS connection raw reads and writes (TLS, when the
// server asks for it, still runs on top of it).
type Dialer struct{ d net.Dialer }

// NewDialer returns a Dialer whose connection attempts last at most timeout.
func NewDialer(timeout time.Duration) *Dialer {
	return &Dialer{d: net.Dialer{Timeout: timeout}}
}

// Dial connects to address on network and wraps the connection.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.d.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
