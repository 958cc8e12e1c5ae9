module github.com/sipbus/sipbus/cmd/sipbus

go 1.26.0

require (
	github.com/sipbus/sipbus/pkg v0.0.0
	github.com/sipbus/sipbus/schemas v0.0.0
	github.com/sipbus/sipbus/services/edge v0.0.0
)

replace (
	github.com/sipbus/sipbus/pkg => ../../pkg
	github.com/sipbus/sipbus/services/edge => ../../services/edge
)

replace github.com/sipbus/sipbus/schemas => ../../schemas
