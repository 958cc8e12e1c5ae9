package mgmt

import (
	"testing"

	"github.com/nats-io/nats.go/micro"
)

// FuzzMerge: any answer on the discovery inbox (network input) is filed
// or ignored, and merges into a Found without a panic.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"type":"io.nats.micro.v1.stats_response","id":"x","name":"sipbus-tm","version":"0.4.0","metadata":{"sipbus_service":"tm"},"endpoints":[{"name":"command","data":{"in_flight":3,"last_error":"e"}}]}`),
		[]byte(`{"type":"io.nats.micro.v1.info_response","id":"x","endpoints":[{"name":"command","metadata":{"schema":"s"}}]}`))
	f.Add([]byte(`{"type":"io.nats.micro.v1.stats_response","id":"y","endpoints":[{"data":"not an object"}]}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, stats, info []byte) {
		infos, sts := map[string]*micro.Info{}, map[string]*micro.Stats{}
		collect(stats, infos, sts)
		collect(info, infos, sts)
		for id, st := range sts {
			f := merge(st, infos[id])
			if f.ID == "" || f.Service == "" {
				t.Fatalf("merged %+v from %+v", f, st)
			}
		}
	})
}
