package config

import "github.com/sipbus/sipbus/pkg/confload"

// Load returns Default() overlaid with the YAML file at path (skipped when
// path is "") and then with the environment (FromEnv with os.Getenv). The
// file is decoded strictly: an unknown key is an error naming its line.
// Errors name the file. Load does not validate.
func Load(path string) (Config, error) {
	c := Default()
	err := confload.Load(path, &c)
	return c, err
}

// FromEnv overrides the fields of c from the environment variables named
// in their env tags: SIPBUS_REGISTRAR_ID, SIPBUS_NATS_URL, REDIS_URL,
// SIPBUS_DOMAINS (a comma-separated list), SIPBUS_REGISTRAR_AUTH,
// SIPBUS_AUTH_SECRET, SIPBUS_REGISTRAR_AUTH_ALGORITHMS,
// SIPBUS_REGISTRAR_AUTH_SHA256_DOMAINS and
// SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS (comma-separated lists),
// SIPBUS_REGISTRAR_AUTH_FAIL_WINDOW, SIPBUS_REGISTRAR_AUTH_FAIL_PER_USER,
// SIPBUS_REGISTRAR_AUTH_FAIL_PER_SOURCE, SIPBUS_REGISTRAR_AUTH_FAIL_BLOCK,
// SIPBUS_REGISTRAR_NONCE_TTL, SIPBUS_REGISTRAR_MIN_EXPIRES,
// SIPBUS_REGISTRAR_MAX_EXPIRES, SIPBUS_REGISTRAR_DEFAULT_EXPIRES (Go
// durations such as 60s), SIPBUS_REGISTRAR_MAX_CONTACTS,
// SIPBUS_REGISTRAR_EXPIRY_SCAN and SIPBUS_REGISTRAR_WORKERS. An empty or
// unset variable changes nothing. getenv nil means os.Getenv. Every value
// that does not parse is reported, naming its variable (never quoting the
// secret).
func (c *Config) FromEnv(getenv func(string) string) error { return confload.FromEnv(c, getenv) }
