// Package ctd will be the sipbus service for click-to-dial: HTTP API, web phonebook and the REFER flow.
//
// Not built yet: this module exists so the workspace layout of
// ARCHITECTURE.md is in place and `make build` covers it. It exports
// nothing until its issue lands.
package ctd
