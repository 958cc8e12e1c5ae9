// Package app holds the web service's decisions, free of HTTP, NATS and
// Redis: what a phonebook entry may hold, which history lines a call event
// makes and for whom, how a binding is shown.
package app
