package app

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// dateLayout is the SIP-date of RFC 3261 §20.17 (RFC 1123, always GMT).
const dateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// OK builds the 200 to a REGISTER (RFC 3261 §10.3 step 8) with
// sipmsg.Reply: Via, From, Call-ID, CSeq copied, To with a tag (opt.ToTag,
// or a random one), then
//   - one Contact per binding live at now, in the order given (Apply and
//     Lookup sort by q, then most recent): <uri>;expires=N with N the
//     seconds left rounded up, ;q= when q is not 1, and +sip.instance and
//     reg-id when the binding has them (as Kamailio writes them). A
//     permanent binding (added by ul_add) gets expires=4294967295, the
//     largest delta-seconds: §10.3 requires an expires on every Contact;
//   - Date (RFC 1123 GMT), which lets a UA without a clock set it (§10.3);
//   - the request's Path rows, in order, when it has Supported: path
//     (RFC 3327 §5.3);
//   - opt.Headers, after these.
func OK(m *sipmsg.Msg, bindings []location.Binding, now time.Time, opt sipmsg.ReplyOptions) []byte {
	headers := make([]string, 0, len(bindings)+4+len(opt.Headers))
	for i := range bindings {
		if b := &bindings[i]; b.LiveAt(now) {
			headers = append(headers, contactLine(b, now))
		}
	}
	headers = append(headers, "Date: "+now.UTC().Format(dateLayout))
	if hasTag(m.Supported(), "path") {
		for _, row := range m.Values(sipmsg.HPath) {
			headers = append(headers, "Path: "+row)
		}
	}
	opt.Headers = append(headers, opt.Headers...)
	return sipmsg.Reply(m, 200, "OK", opt)
}

// contactLine renders one binding as a Contact header line.
func contactLine(b *location.Binding, now time.Time) string {
	var sb strings.Builder
	sb.WriteString("Contact: <")
	sb.WriteString(b.Contact)
	sb.WriteString(">;expires=")
	if b.Permanent() {
		sb.WriteString(strconv.Itoa(maxDelta))
	} else {
		sb.WriteString(strconv.FormatInt(seconds(b.Expires.Sub(now)), 10))
	}
	if q := int(b.Q*1000 + 0.5); q != 1000 {
		sb.WriteString(";q=")
		sb.WriteString(formatQ(q))
	}
	if b.InstanceID != "" {
		sb.WriteString(`;+sip.instance="`)
		sb.WriteString(b.InstanceID)
		sb.WriteByte('"')
	}
	if b.RegID > 0 {
		sb.WriteString(";reg-id=")
		sb.WriteString(strconv.Itoa(b.RegID))
	}
	return sb.String()
}

// formatQ writes q*1000 as a qvalue: 500 -> "0.5", 0 -> "0", 1000 -> "1".
func formatQ(milli int) string {
	if milli >= 1000 {
		return "1"
	}
	if milli <= 0 {
		return "0"
	}
	s := strconv.Itoa(1000 + milli)[1:] // three digits
	return "0." + strings.TrimRight(s, "0")
}

func hasTag(tags []string, tag string) bool {
	return slices.ContainsFunc(tags, func(t string) bool { return strings.EqualFold(t, tag) })
}

// Reject builds the reply of a Decision that is neither an Update nor a
// Fetch: d.Reply, d.Reason and d.Headers (before opt.Headers), with
// sipmsg.Reply.
func Reject(m *sipmsg.Msg, d Decision, opt sipmsg.ReplyOptions) []byte {
	opt.Headers = append(append([]string(nil), d.Headers...), opt.Headers...)
	return sipmsg.Reply(m, d.Reply, d.Reason, opt)
}

// FromStoreError maps a (non-nil) error of location.Store.Apply or Lookup
// for aor to a Decision; the one table from location errors to SIP responses:
//
//	ErrOutOfOrder   Fetch: answer 200 with the current bindings, as
//	                Kamailio does (R_OOO): the usual cause is a
//	                retransmission or a late duplicate of a REGISTER that
//	                was applied, whose UA wants the 200; the bindings are
//	                not changed (RFC 3261 §10.3 step 7 "the update MUST be
//	                aborted")
//	ErrTooMany      403 Too many contacts (see Decide)
//	ErrUnavailable  503 Location service unavailable, Retry-After: 5
//	(deadline)      503 as well
//	anything else   500 Server Internal Error (ErrInvalid is a bug)
func FromStoreError(aor string, err error) Decision {
	switch {
	case errors.Is(err, location.ErrOutOfOrder):
		return Decision{Reply: 200, Reason: "OK", Fetch: true, AOR: aor}
	case errors.Is(err, location.ErrTooMany):
		return reject(403, ReasonTooMany).withAOR(aor)
	case errors.Is(err, location.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return reject(503, ReasonUnavailable, retryAfterOnOutage).withAOR(aor)
	}
	return reject(500, ReasonInternal).withAOR(aor)
}
