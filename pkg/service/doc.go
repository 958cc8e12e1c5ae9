// Package service is the one shape every sipbus service runs in: edge,
// tm, registrar, notifier, ctd and web, whether started as `sipbus
// <service>` or as the service's own main (services/<name>/cmd/<name>),
// which are the same call: [Main] with the service's [Spec].
//
// # Settings
//
// A service's settings are one Go struct. Each field has a yaml key and a
// help text; from the key follow the other two names, so every setting
// has the same name in every place:
//
//	yaml key      no_answer
//	flag          --no-answer
//	environment   SIPBUS_TM_NO_ANSWER
//
// A field whose env tag names a variable uses it instead: the few that
// several services share (SIPBUS_NATS_URL, SIPBUS_REDIS_URL, the secrets
// every replica of several services must agree on; [SharedEnv] lists
// them). A field tagged secret:"true" has no flag (a command line is
// visible to every user of the host, in ps): it comes from the file or
// the environment only, and its value is never printed. A field of a type
// a flag cannot hold (a map, a list of structs) is set in the file only.
//
// Precedence, lowest first: the service's defaults, the YAML file
// (--config, or SIPBUS_<NAME>_CONFIG; strict: an unknown key is an error
// with its line), the environment, the flags. A list given as a flag
// replaces the lower layers' list; the flag may be repeated and each
// value may hold several items separated by commas.
//
// Besides its own struct, every service takes the settings of [Common]:
// where NATS and Redis are, its HTTP address (/healthz, /readyz,
// /metrics, and whatever the service mounts), logging, profiling and how
// long a graceful stop may take.
//
// # Running
//
// [Main] loads the settings, validates them (each error names the flag,
// variable or file line), connects to NATS, makes sure the event stream
// exists, serves HTTP, sets up tracing (OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set), builds the service and starts it,
// prints "ready" on stdout, and on SIGINT or SIGTERM turns /readyz
// unready, calls the service's Shutdown (its graceful drain: an edge
// answers new dialogs 503 and finishes what it has, tm hands over its
// work) within ShutdownTimeout, prints "stopped" and returns.
package service
