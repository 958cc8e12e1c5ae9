module github.com/sipbus/sipbus/services/notifier

go 1.26.0

replace github.com/sipbus/sipbus/pkg => ../../pkg

replace github.com/sipbus/sipbus/schemas => ../../schemas
