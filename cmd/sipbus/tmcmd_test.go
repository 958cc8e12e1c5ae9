package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tmConfig writes a settings file for `sipbus tm --config` whose static
// location (a map: in the file only) gives each address of record its
// contacts, and returns its path.
func tmConfig(t *testing.T, static map[string][]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("static:\n")
	aors := make([]string, 0, len(static))
	for aor := range static {
		aors = append(aors, aor)
	}
	slices.Sort(aors)
	for _, aor := range aors {
		quoted := make([]string, len(static[aor]))
		for i, c := range static[aor] {
			quoted[i] = fmt.Sprintf("%q", c)
		}
		fmt.Fprintf(&b, "  %q: [%s]\n", aor, strings.Join(quoted, ", "))
	}
	p := filepath.Join(t.TempDir(), "tm.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
