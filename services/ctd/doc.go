// Package ctd is sipbus's click-to-dial service, the heir of the seeds'
// ctd.sh: an HTTP API (POST /v1/calls, GET, DELETE, Server-Sent Events)
// that makes the caller's registered phones ring, and when one answers,
// asks it with REFER (RFC 3515, RFC 5589) to call the callee, following
// the NOTIFYs until the callee answers. When the phone refuses REFER, it
// falls back to third-party call control (RFC 3725 flow I). Requests go
// out through tm's uac command (pkg/tmapi); the state of every call is a
// versioned record in Redis, so any replica continues a call another one
// started (see README.md).
//
// Shape: internal/app decides (Next, pure), the Service loads a call,
// decides, stores with compare-and-set and then acts: requests through
// tm, ctd.<phase>.<id> CloudEvents. Answers to requests come back to the
// replica that sent them; in-dialog requests (NOTIFY, BYE) come from tm on
// app.ctd.dialog.<dialog> to any replica (queue group sipbus-ctd); due
// deadlines are claimed by any replica's timer loop.
//
// # call.ringing without a round trip
//
// A replica hears every call.ringing of the platform (queue group
// sipbus-ctd), and almost none is a click-to-dial's, so it asks Redis only
// about RingKeys it knows may be one. The replica that creates a call
// records its RingKey in the store (the dialog index, and the sorted set
// of watches), then announces it on SubjectRing (core NATS, outside the
// stream) before the caller's INVITE leaves on the same connection; every
// replica keeps the announced keys for the lifetime of the stored key
// (24 h). A replica cannot know the announcements it missed, so it reads
// the live keys from the store instead of waiting a day: when it starts,
// after a NATS reconnect and after its subscription dropped
// announcements; until that read succeeds it looks up every call.ringing.
// Its subscription to the announcements comes first, so a key is either
// in what it read or in what it hears. At most MaxRingKeys are held; a key
// refused for want of room makes the replica look up every call.ringing
// until that key would have expired, so the cap costs round trips, never
// a call. The memory engine (`sipbus up` without Redis) lists its watches
// with the same lifetime, so the replica behaves the same on both.
package ctd
