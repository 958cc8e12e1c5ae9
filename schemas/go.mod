module github.com/sipbus/sipbus/schemas

go 1.26.0
