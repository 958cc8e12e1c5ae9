package ports

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeStructured: any JSON a client sends as a replayed event
// decodes or is refused with a reason, never a panic; an accepted event
// has an id and a type.
func FuzzDecodeStructured(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"e1","source":"sipbus/tm/1","type":"sipbus.call.missed.v1","time":"2026-12-02T10:00:00Z","data":{"call_id":"c"}}`))
	f.Add([]byte(`{"id":"","type":"x"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := decodeStructured(json.RawMessage(raw))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a reason")
			}
			return
		}
		if ev.ID == "" || ev.Type == "" || ev.Delivery != 1 {
			t.Fatalf("accepted %+v", ev)
		}
	})
}
