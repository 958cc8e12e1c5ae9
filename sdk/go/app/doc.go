// Package app is the sipbus application SDK: a new feature is a new
// subscriber. An application takes the transactions tm hands to it (a
// route with `app: NAME`: the SEAS idea on the bus), answers each with
// Reply, Relay or Proxy, sends new requests with UAC, and follows call and
// registration events as typed Go values.
//
//	err := app.Run(ctx, app.Options{Name: "screen", NATS: "nats://127.0.0.1:4222"},
//		func(ctx context.Context, r *app.Request) app.Answer {
//			if blocked(r.From()) {
//				return app.Reply(603, "Decline")
//			}
//			return app.ProxyUser(r.RequestURI())
//		})
//
// # Delivery
//
// Requests come from the durable JetStream consumer "app-NAME" on
// app.NAME.> (any number of instances of one application share it), so an
// application that starts late still gets the requests of the last
// seconds; each is handled at least once. tm keeps the transaction: a
// second answer to one (a redelivery after a crash) gets 409 from tm and
// is dropped, so a handler's answer is idempotent by construction; other
// side effects are made so with Once (a marker in a JetStream key-value
// bucket, keyed by the event id). A handler that panics answers 500
// (logged with its stack), never a hung caller; one that runs past
// Options.Timeout answers 500 as well. A tm that is busy (503) gets the
// request again later (nak with a delay).
//
// Call and registration events (Options.OnCall, Options.OnReg) are
// separate durable consumers ("app-NAME-call", "app-NAME-reg") with the
// bus's retries and dead letters: nil acknowledges, an error retries.
//
// # Answers
//
//   - Reply(code, reason, headers...): tm sends the response upstream.
//   - Relay(uri): tm relays the request with this Request-URI.
//   - Proxy(to): tm relays the request unchanged to next hop to.
//   - ProxyUser(aor): the SDK looks the AOR's bindings up (the registrar's
//     ul show) and relays to the best one (highest q); 480 when none.
//
// The request's raw bytes, its header index (package sipmsg: no re-parse)
// and a *sip.Request of github.com/emiago/sipgo on demand (Request.Sipgo)
// are all there.
package app
