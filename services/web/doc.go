// Package web is the sipbus web page, heir of SER's serweb: a subscriber
// signs in with their SIP address and password and sees, live, their
// registered phones, their calls (missed ones marked), their phonebook
// (click an entry to start a click-to-dial from their phone and watch it
// progress), and their account (password, e-mail, missed-call mail, time
// zone). Admins (the directory's admin flag) manage every subscriber.
//
// The page is server-rendered (html/template) with one small script and
// no build step; it works without the script except for the live parts
// and click-to-dial. See README.md for the routes, the state it keeps and
// the events it consumes.
package web
