package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sipbus/sipbus/services/tm"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// tmFlags are the transaction manager's flags of `sipbus up` (`sipbus tm`
// takes tm.Spec's settings, pkg/service).
type tmFlags struct {
	domains  listFlag
	statics  listFlag
	routes   *string
	noAnswer *time.Duration
	t1       *time.Duration
	resolver listFlag
	failover *time.Duration
}

func addTMFlags(fs *flag.FlagSet) *tmFlags {
	f := &tmFlags{}
	fs.Var(&f.domains, "domain", "local SIP domain (repeatable; default: localhost and the SIP listen address)")
	fs.Var(&f.statics, "static", "a static location entry AOR=CONTACT[,CONTACT...], e.g. bob@example.com=sip:bob@192.0.2.7:5070 (repeatable)")
	f.routes = fs.String("routes", "", "route table YAML file (default: REGISTER to the registrar, local domains to location, anything else 403)")
	f.noAnswer = fs.Duration("no-answer", 60*time.Second, "no-answer timer for INVITE (fr_inv_timer): CANCEL the branches, 408 upstream")
	f.t1 = fs.Duration("t1", 500*time.Millisecond, "SIP timer T1 (RTT estimate); T2 4s and T4 5s stay")
	fs.Var(&f.resolver, "resolver", "DNS server IP[:PORT] for next hops with a domain name (RFC 3263; repeatable; default: /etc/resolv.conf)")
	f.failover = fs.Duration("failover-timeout", 5*time.Second, "an INVITE that gets no response from a DNS target within this tries the next (0: wait for Timer B)")
	return f
}

// apply fills cfg from the flags that were given (fs.Visit), so a config
// file's values stand unless a flag overrides them; advertise is the SIP
// address.
func (f *tmFlags) apply(fs *flag.FlagSet, cfg *tm.Config, advertise string) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	cfg.Advertise = advertise
	if len(f.domains) > 0 {
		cfg.Domains = nil
		for _, d := range f.domains {
			for _, x := range strings.Split(d, ",") {
				if x = strings.TrimSpace(x); x != "" {
					cfg.Domains = append(cfg.Domains, strings.ToLower(x))
				}
			}
		}
	}
	if set["routes"] {
		cfg.Routes = *f.routes
	}
	if set["no-answer"] {
		cfg.NoAnswer = *f.noAnswer
	}
	if set["t1"] {
		cfg.T1 = *f.t1
	}
	if len(f.resolver) > 0 {
		cfg.Resolver = nonEmpty(strings.Split(strings.Join(f.resolver, ","), ","))
	}
	if set["failover-timeout"] {
		cfg.FailoverTimeout = *f.failover
	}
	for _, s := range f.statics {
		aor, contacts, ok := strings.Cut(s, "=")
		if !ok || aor == "" {
			return errUsage{fmt.Errorf("--static %q: want AOR=CONTACT[,CONTACT...]", s)}
		}
		if cfg.Static == nil {
			cfg.Static = map[string][]string{}
		}
		aor = strings.TrimPrefix(aor, "sip:")
		cfg.Static[aor] = append(cfg.Static[aor], nonEmpty(strings.Split(contacts, ","))...)
	}
	if err := cfg.Validate(); err != nil {
		return errUsage{err}
	}
	return nil
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
