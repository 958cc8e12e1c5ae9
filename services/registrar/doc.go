// Package registrar will be the sipbus service for REGISTER, digest authentication, subscriber directory and location, with ul_* management commands (issue 5).
//
// Not built yet: this module exists so the workspace layout of
// ARCHITECTURE.md is in place and `make build` covers it. It exports
// nothing until its issue lands.
package registrar
