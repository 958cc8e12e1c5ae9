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
// in their env tags: SIPBUS_TM_ID, SIPBUS_NATS_URL, REDIS_URL,
// SIPBUS_ADVERTISE, SIPBUS_DOMAINS (a comma-separated list), SIPBUS_ROUTES,
// SIPBUS_T1, SIPBUS_T2, SIPBUS_T4, SIPBUS_NO_ANSWER (Go durations such as
// 500ms) and SIPBUS_TM_WORKERS. An empty or unset variable changes
// nothing. getenv nil means os.Getenv. Every value that does not parse is
// reported, naming its variable.
func (c *Config) FromEnv(getenv func(string) string) error { return confload.FromEnv(c, getenv) }
