// Package ports is click-to-dial's edge to the world: the HTTP API on the
// process's shared mux (pkg/httpfront), the NATS commands of `sipbus ctd`,
// the in-dialog requests tm hands over, and the interfaces of the state
// it needs (Store, Tokens), which package adapters implements.
package ports
