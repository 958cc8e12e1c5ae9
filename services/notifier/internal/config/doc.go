// Package config is the configuration of the notifier: the mail server,
// what the mails look like, the rate limit, the retries and the fences,
// and the exec rules. Where NATS and Redis are is pkg/service's Common.
//
// Config is the settings struct of the one service shape (pkg/service):
// the shared loader fills it from the defaults (Default), a YAML file
// decoded strictly, SIPBUS_NOTIFIER_* variables and flags; exec rules are
// set in the file only. Validate parses the SMTP URL (ParseSMTP: never
// printed with its password) and From, fills the ID and the exec rules'
// defaults and reports every problem, each naming its key.
// testdata/notifier.yaml holds every key.
package config
