package web

// ProcessEnv is what a standalone web process (services/web/cmd/web) reads
// from the environment: where NATS and Redis are, and the session key
// (hex, at least 32 bytes, the same on every replica). The k8s/ test
// checks every variable a manifest sets against these tags.
type ProcessEnv struct {
	NATS   string `env:"SIPBUS_NATS_URL"`
	Redis  string `env:"REDIS_URL"`
	Secret string `env:"SIPBUS_WEB_SECRET"`
}
