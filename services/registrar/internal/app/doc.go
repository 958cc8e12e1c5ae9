// Package app holds the registrar's decisions: what to do with a REGISTER,
// and the replies. It reads a *sipmsg.Msg and returns values; it has no
// NATS, Redis or sipgo in it. The shell (internal/ports) runs Decide,
// executes the Decision against the location store (location.Store.Apply
// for an Update, Lookup for a Fetch) and sends OK, Reject or the reply of
// FromStoreError.
//
//	d := app.Decide(m, src, now, opt)
//	switch {
//	case d.Update != nil:
//		bs, changes, err := loc.Apply(ctx, *d.Update)
//		if err != nil { d = app.FromStoreError(d.AOR, err); ... }
//		reply = app.OK(m, bs, now, ropt) // and publish changes
//	case d.Fetch:
//		bs, err := loc.Lookup(ctx, d.AOR, now)
//		reply = app.OK(m, bs, now, ropt)
//	default:
//		reply = app.Reject(m, d, ropt)
//	}
//
// Authentication (RFC 3261 §10.3 steps 2-4) happens before Decide; Decide
// covers steps 5-7 and OK step 8. See Decide for the rules and the
// decisions taken where the RFCs leave a choice.
package app
