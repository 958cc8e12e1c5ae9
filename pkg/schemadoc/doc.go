// Package schemadoc generates schemas/EVENTS.md, the contract page: every
// event and command of schemas/*.json with its NATS subject, its schema file
// and an example.
//
// Sources, in this order of authority:
//
//   - The schema files (schemas.FS): title, description, and the example —
//     the schema's own "examples"[0] when it has one, otherwise one
//     synthesized from the schema (const, enum, default, formats, bounds,
//     and a table of realistic values by property name, see hints.go).
//     Commands get an example reply too, from #/$defs/response.
//   - The subject constants and builders of pkg/bus, pkg/events,
//     pkg/regapi, pkg/notifyapi and pkg/tmapi (subjects.go): the subjects
//     on the page are made by the same code the services use, with
//     placeholders (<callkey>, <p>, <METHOD>...) put in afterwards.
//     A schema with no entry there (one added on another branch) still gets
//     a row: its subject is quoted from its description and marked so.
//
// The test in this package fails when the committed page differs from what
// Generate makes now, when an example does not validate against its schema,
// and when a command's description does not name the subject constant.
// Regenerate with
//
//	make schemas-doc        (or: cd pkg && go generate ./schemadoc)
package schemadoc

//go:generate go run ./cmd/schemadoc -o ../../schemas/EVENTS.md
