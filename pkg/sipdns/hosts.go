package sipdns

import (
	"bufio"
	"io"
	"net/netip"
	"os"
	"strings"
)

// readHosts reads a hosts(5) file: name (lower case) -> addresses in
// file order. A file that cannot be read is no hosts at all.
func readHosts(path string) map[string][]netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseHosts(io.LimitReader(f, 1<<20))
}

// parseHosts parses "address name [alias...]" lines; '#' starts a
// comment; lines that do not parse are skipped.
func parseHosts(r io.Reader) map[string][]netip.Addr {
	m := map[string][]netip.Addr{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		for _, name := range fields[1:] {
			name = canonical(name)
			if validName(name) {
				m[name] = append(m[name], a.Unmap())
			}
		}
	}
	return m
}
