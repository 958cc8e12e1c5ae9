package k8s

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardMetricsExist: every sipbus_ metric the Grafana dashboard
// queries is one the code registers (its name, without the sipbus_ prefix
// and a histogram's _bucket, is a string literal of a metrics file).
func TestDashboardMetricsExist(t *testing.T) {
	b, err := os.ReadFile("grafana/sipbus-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	files, _ := filepath.Glob("../services/*/metrics.go")
	more, _ := filepath.Glob("../pkg/obs/metrics.go")
	var src strings.Builder
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	name := regexp.MustCompile(`sipbus_([a-z_]+)`)
	seen := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllStringSubmatch(tg.Expr, -1) {
				n := strings.TrimSuffix(m[1], "_bucket")
				seen++
				if !strings.Contains(src.String(), `"`+n+`"`) && !strings.Contains(src.String(), `"sipbus_`+n+`"`) {
					t.Errorf("panel %q queries sipbus_%s, which no metrics.go registers", p.Title, m[1])
				}
			}
		}
	}
	if seen < 10 {
		t.Errorf("the dashboard queries %d sipbus metrics; want the set pkg/obs documents", seen)
	}
}
