package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/ctd"
	"github.com/sipbus/sipbus/services/edge"
	"github.com/sipbus/sipbus/services/notifier"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
	"github.com/sipbus/sipbus/services/web"
)

// TestReadmeServiceRows: the commands table of the top README matches the
// services: the row of each service command names only flags and
// variables that service reads (a pattern SIPBUS_<NAME>_* stands for
// them all) and links to the settings table of its README, which each
// service's own test checks against its code (servicetest.Readme).
func TestReadmeServiceRows(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	type svc struct {
		row        string // how the row starts
		flags, env map[string]bool
		client     []string // flags of the client subcommands in the same row
	}
	mk := func(row string, flags, env map[string]bool, client ...string) svc {
		return svc{row, flags, env, client}
	}
	var services = map[string]svc{}
	{
		f, e := service.Names(edge.Spec)
		services["edge"] = mk("| `sipbus edge ", f, e)
		f, e = service.Names(tm.Spec)
		services["tm"] = mk("| `sipbus tm ", f, e)
		f, e = service.Names(registrar.Spec)
		services["registrar"] = mk("| `sipbus registrar ", f, e)
		f, e = service.Names(notifier.Spec)
		services["notifier"] = mk("| `sipbus notifier ", f, e, "json")
		f, e = service.Names(ctd.Spec)
		services["ctd"] = mk("| `sipbus ctd ", f, e, "json")
		f, e = service.Names(web.Spec)
		services["web"] = mk("| `sipbus web ", f, e)
	}
	flagRE := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	envRE := regexp.MustCompile(`\$?(SIPBUS_[A-Z0-9_]+)(\*)?`)
	for name, s := range services {
		var row string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, s.row) {
				row = l
			}
		}
		if row == "" {
			t.Errorf("%s: no row starting %q in the README's commands table", name, s.row)
			continue
		}
		if !strings.Contains(row, "services/"+name+"/README.md#settings") {
			t.Errorf("%s: the row does not link to services/%s/README.md#settings", name, name)
		}
		for _, m := range flagRE.FindAllStringSubmatch(row, -1) {
			if !s.flags[m[1]] && m[1] != "key" && !slices.Contains(s.client, m[1]) {
				t.Errorf("%s: the README row names --%s, which the service does not take", name, m[1])
			}
		}
		for _, m := range envRE.FindAllStringSubmatch(row, -1) {
			if m[2] == "*" || strings.HasSuffix(m[1], "_") {
				if want := "SIPBUS_" + strings.ToUpper(name) + "_"; m[1] != want {
					t.Errorf("%s: the README row names %s*, want %s*", name, m[1], want)
				}
				continue
			}
			if !s.env[m[1]] {
				t.Errorf("%s: the README row names %s, which the service does not read", name, m[1])
			}
		}
	}
}
