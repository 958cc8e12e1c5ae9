// Package notifier will be the sipbus service for missed-call e-mail.
//
// Not built yet: this module exists so the workspace layout of
// ARCHITECTURE.md is in place and `make build` covers it. It exports
// nothing until its issue lands.
package notifier
