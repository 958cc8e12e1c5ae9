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
package ctd
