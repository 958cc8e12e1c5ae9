// Package config is ctd's configuration: Config with its defaults and
// Validate.
package config
