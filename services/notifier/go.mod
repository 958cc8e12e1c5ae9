module github.com/sipbus/sipbus/services/notifier

go 1.26.0

replace github.com/sipbus/sipbus/pkg => ../../pkg

replace github.com/sipbus/sipbus/schemas => ../../schemas

require (
	github.com/wneessen/go-mail v0.8.1 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)
