package main

import (
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/confload"
	"github.com/sipbus/sipbus/services/registrar"
)

// regFlags are the registrar's flags of `sipbus up` (`sipbus registrar`
// takes registrar.Spec's settings, pkg/service). The defaults are
// registrar.DefaultConfig's.
type regFlags struct {
	auth          *string
	algorithms    *string
	sha256Domains listFlag
	sha256UAs     listFlag
	failWindow    *time.Duration
	failPerUser   *int
	failPerSource *int
	failBlock     *time.Duration
	minExpires    *time.Duration
}

func addRegFlags(fs *flag.FlagSet) *regFlags {
	d := registrar.DefaultConfig()
	f := &regFlags{}
	f.auth = fs.String("auth", d.Auth, "digest authentication of REGISTER: required or off")
	f.algorithms = fs.String("auth-algorithms", strings.Join(d.AuthAlgorithms, ","),
		"digest algorithms every client is offered, one challenge each, in order (MD5: every client answers it)")
	fs.Var(&f.sha256Domains, "auth-sha256-domain", "a local domain whose clients are offered SHA-256 first, then --auth-algorithms (RFC 8760; repeatable)")
	fs.Var(&f.sha256UAs, "auth-sha256-ua", "a regular expression (RE2): a REGISTER whose User-Agent matches is offered SHA-256 first (repeatable)")
	f.failWindow = fs.Duration("auth-fail-window", d.AuthFailWindow, "how long failed authentications count, per user and source address and per source address")
	f.failPerUser = fs.Int("auth-fail-per-user", d.AuthFailPerUser, "failures of one user from one address that block that user from that address (0: off)")
	f.failPerSource = fs.Int("auth-fail-per-source", d.AuthFailPerSource, "failures from one address, any users, that block the address (0: off)")
	f.failBlock = fs.Duration("auth-fail-block", d.AuthFailBlock, "how long a block after failed authentications lasts")
	f.minExpires = fs.Duration("min-expires", d.MinExpires, "shortest registration accepted (shorter: 423 with Min-Expires)")
	return f
}

// check validates the flags before `up` starts anything, with the local
// domains it will serve: the --domain values, else localhost and the host
// of sipAddr.
func (f *regFlags) check(domains []string, sipAddr string) error {
	cfg := registrar.DefaultConfig()
	for _, d := range domains {
		cfg.Domains = append(cfg.Domains, confload.List(d)...)
	}
	if len(cfg.Domains) == 0 {
		host, _, _ := net.SplitHostPort(sipAddr)
		cfg.Domains = []string{"localhost", host}
	}
	return f.apply(&cfg)
}

// regFlagOf names the flag of a config key, in Validate's errors.
var regFlagOf = map[string]string{
	"auth": "--auth", "auth_algorithms": "--auth-algorithms", "auth_sha256_domains": "--auth-sha256-domain",
	"auth_sha256_user_agents": "--auth-sha256-ua", "auth_fail_window": "--auth-fail-window",
	"auth_fail_per_user": "--auth-fail-per-user", "auth_fail_per_source": "--auth-fail-per-source",
	"auth_fail_block": "--auth-fail-block", "min_expires": "--min-expires", "domains": "--domain",
}

// apply sets cfg from the flags and validates it; the error names the
// flag of each problem (or the config key, for a key without a flag).
func (f *regFlags) apply(cfg *registrar.Config) error {
	cfg.Auth = *f.auth
	cfg.AuthAlgorithms = confload.List(*f.algorithms)
	cfg.AuthSHA256Domains = nil
	for _, d := range f.sha256Domains {
		cfg.AuthSHA256Domains = append(cfg.AuthSHA256Domains, confload.List(d)...)
	}
	cfg.AuthSHA256UserAgents = append([]string(nil), f.sha256UAs...) // one pattern per flag: it may hold commas
	cfg.AuthFailWindow = *f.failWindow
	cfg.AuthFailPerUser = *f.failPerUser
	cfg.AuthFailPerSource = *f.failPerSource
	cfg.AuthFailBlock = *f.failBlock
	cfg.MinExpires = *f.minExpires
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if key, rest, ok := strings.Cut(l, ": "); ok && regFlagOf[key] != "" {
			lines[i] = regFlagOf[key] + ": " + rest
		}
	}
	return errUsage{fmt.Errorf("registrar: %s", strings.Join(lines, "\n"))}
}
