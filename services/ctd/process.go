package ctd

// ProcessEnv is what a standalone ctd process (services/ctd/cmd/ctd) reads
// from the environment beyond Config's own env tags (SIPBUS_CTD_ID,
// SIPBUS_CTD_ADMIN_TOKEN): where NATS and Redis are. The k8s/ test checks
// every variable a manifest sets against these tags.
type ProcessEnv struct {
	NATS  string `env:"SIPBUS_NATS_URL"`
	Redis string `env:"REDIS_URL"`
}
