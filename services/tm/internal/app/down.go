package app

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// How long a target is passed over after it failed (Kamailio's
// dst_blacklist): one that sent nothing at all, downTime; one that
// answered 503 with Retry-After, that long, at most maxRetryAfter.
const (
	downTime      = 60 * time.Second
	maxRetryAfter = 5 * time.Minute
	maxDown       = 4096 // targets remembered at most
)

// downList remembers, in this replica's memory, the DNS targets that
// failed lately, so that the next calls do not wait for them again: when
// a next hop resolves to several targets, those down go last (they are
// still tried when every other one failed). Each replica learns on its
// own; nothing is written.
type downList struct {
	mu    sync.Mutex
	until map[string]time.Time // hop.dest() -> until
}

// mark passes h over until until.
func (d *downList) mark(h hop, until time.Time, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.until == nil {
		d.until = map[string]time.Time{}
	}
	if len(d.until) >= maxDown {
		for k, u := range d.until {
			if !u.After(now) {
				delete(d.until, k)
			}
		}
		if len(d.until) >= maxDown {
			return
		}
	}
	if until.After(d.until[h.dest()]) {
		d.until[h.dest()] = until
	}
}

// order returns hops with the targets that are down moved to the end,
// each group in its order.
func (d *downList) order(hops []hop, now time.Time) []hop {
	if len(hops) < 2 {
		return hops
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.until) == 0 {
		return hops
	}
	up := make([]hop, 0, len(hops))
	var down []hop
	for _, h := range hops {
		if u, ok := d.until[h.dest()]; ok && u.After(now) {
			down = append(down, h)
		} else {
			up = append(up, h)
		}
	}
	return append(up, down...)
}

// retryAfter reads a Retry-After value (RFC 3261 §20.33: seconds, then
// an optional comment and parameters); ok is false without a number.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	end := 0
	for end < len(v) && end < 10 && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil || n <= 0 {
		return 0, false
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter), true
}
