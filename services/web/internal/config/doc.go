// Package config is the web service's configuration (see config.go).
package config
