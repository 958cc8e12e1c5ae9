// Package schemas embeds the JSON Schema (2020-12) files that define every
// sipbus CloudEvent type and command. The .json files in this directory are
// the source of truth: Go types in pkg/events follow them, and tests validate
// every event the services emit against them. See README.md for how a type
// evolves.
package schemas

import "embed"

// FS holds every schema file, by file name: the CloudEvent type (or command
// name) plus ".json", e.g. "sipbus.sip.request.received.v1.json".
//
//go:embed *.json
var FS embed.FS
