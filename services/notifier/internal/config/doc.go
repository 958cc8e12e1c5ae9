// Package config is the configuration of the notifier: where NATS, Redis
// and the mail server are, what the mails look like, the rate limit, the
// retries and the fences, and the exec rules.
//
// Load starts from Default, overlays a YAML file decoded strictly (an
// unknown key is an error with its line) and then the environment (the
// env tags; see the service README for the table). Validate parses the
// SMTP URL (ParseSMTP: never printed with its password) and From, fills
// the exec rules' defaults and reports every problem, each naming its
// key. testdata/notifier.yaml holds every key.
package config
