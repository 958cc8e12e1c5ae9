// Package ports is the web service's edge: the HTTP handlers of the page
// (server-rendered html/template, a small script for the live parts), the
// Server-Sent Events hub fed by reg.contact.* and call.* events, and the
// durable consumer that fills the call histories.
//
// Every page and action for a user lives under /u/{aor}/: the signed-in
// user may reach only their own AOR there (another AOR is 403, also for a
// tampered URL), an admin every AOR. Every POST carries the session's CSRF
// token (form field csrf, or header X-CSRF-Token) or is refused with 403.
package ports
