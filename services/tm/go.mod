module github.com/sipbus/sipbus/services/tm

go 1.26.0

replace github.com/sipbus/sipbus/pkg => ../../pkg

replace github.com/sipbus/sipbus/schemas => ../../schemas
