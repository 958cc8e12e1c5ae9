package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sipbus/sipbus/services/edge"
)

// floodFlags are the edge's flood control flags of `up` (the edge's
// config keys flood_*, which `sipbus edge` takes as they are; defaults in services/edge/internal/config).
type floodFlags struct {
	limit, sources *int
	window, block  *time.Duration
	allow          *string
}

func addFloodFlags(fs *flag.FlagSet) *floodFlags {
	return &floodFlags{
		limit:   fs.Int("flood-limit", 1000, "flood control: requests one source (an IPv4 address, an IPv6 /64) may send per --flood-window; -1 turns flood control off"),
		window:  fs.Duration("flood-window", 2*time.Second, "flood control: the sliding window of --flood-limit"),
		block:   fs.Duration("flood-block", time.Minute, "flood control: how long a source past its limit is blocked (datagrams dropped, TCP closed)"),
		allow:   fs.String("flood-allow", "127.0.0.1/32,::1/128", "flood control: sources never limited, comma-separated CIDR prefixes or addresses (trunks, an SBC); \"none\" exempts nothing"),
		sources: fs.Int("flood-sources", 100000, "flood control: sources tracked at most (about 100 bytes each)"),
	}
}

// apply sets the flood control fields of cfg and checks them, naming the
// flag at fault.
func (f *floodFlags) apply(cfg *edge.Config) error {
	cfg.FloodLimit, cfg.FloodWindow, cfg.FloodBlock, cfg.FloodSources = *f.limit, *f.window, *f.block, *f.sources
	cfg.FloodAllow = []string{}
	for _, p := range strings.Split(*f.allow, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.FloodAllow = append(cfg.FloodAllow, p)
		}
	}
	if len(cfg.FloodAllow) == 0 {
		cfg.FloodAllow = []string{"none"}
	}
	var bad []string
	for _, z := range []struct {
		flag string
		zero bool
	}{{"--flood-limit", *f.limit == 0}, {"--flood-window", *f.window == 0}, {"--flood-block", *f.block == 0}, {"--flood-sources", *f.sources == 0}} {
		if z.zero {
			bad = append(bad, z.flag+": must not be 0")
		}
	}
	for _, line := range strings.Split(fmt.Sprint(cfg.Defaults().Validate()), "\n") {
		if key, _, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(key, "flood_") {
			bad = append(bad, "--"+strings.ReplaceAll(key, "_", "-")+line[len(key):])
		}
	}
	if len(bad) > 0 {
		return errUsage{fmt.Errorf("%s", strings.Join(bad, "; "))}
	}
	return nil
}
