// Package config is ctd's configuration: Config, the settings struct of
// the one service shape (pkg/service: defaults, a YAML file, SIPBUS_CTD_*
// variables and flags), with its defaults and Validate.
package config
