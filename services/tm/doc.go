// Package tm will be the sipbus service for the transaction manager: route table, stateful relay, timers, CANCEL/ACK, failure handling, and requests on behalf of apps (issue 4).
//
// Not built yet: this module exists so the workspace layout of
// ARCHITECTURE.md is in place and `make build` covers it. It exports
// nothing until its issue lands.
package tm
