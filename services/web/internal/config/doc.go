// Package config is the web service's configuration: Config, the settings
// struct of the one service shape (pkg/service: defaults, a YAML file,
// SIPBUS_WEB_* variables and flags), with its defaults, DecodeSecret and
// Validate.
package config
