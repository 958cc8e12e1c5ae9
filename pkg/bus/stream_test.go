package bus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func TestEnsureStreamDefaults(t *testing.T) {
	e := newEnv(t) // EnsureStream with the zero config
	cfg := streamInfo(t, e).Config
	if cfg.MaxAge != 24*time.Hour || cfg.MaxBytes != 1<<30 || cfg.Duplicates != 40*time.Second ||
		cfg.Discard != jetstream.DiscardOld || cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if strings.Join(cfg.Subjects, " ") != strings.Join(bus.StreamSubjects, " ") {
		t.Errorf("subjects %v, want %v", cfg.Subjects, bus.StreamSubjects)
	}
}

func TestEnsureStreamUpdate(t *testing.T) {
	e := newEnv(t)
	s, err := bus.EnsureStream(ctx(t), e.js, bus.StreamConfig{MaxAge: time.Hour, MaxBytes: 10 << 20, DuplicateWindow: time.Minute})
	if err != nil {
		t.Fatalf("EnsureStream update: %v", err)
	}
	info, err := s.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != time.Hour || info.Config.MaxBytes != 10<<20 || info.Config.Duplicates != time.Minute {
		t.Errorf("update not applied: MaxAge %v MaxBytes %d Duplicates %v", info.Config.MaxAge, info.Config.MaxBytes, info.Config.Duplicates)
	}
}

func TestEnsureStreamMemory(t *testing.T) {
	s := testenv.NATS(t)
	_, js := testenv.Connect(t, s.ClientURL())
	st, err := bus.EnsureStream(ctx(t), js, bus.StreamConfig{Name: "MEM", Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().Config.Storage != jetstream.MemoryStorage {
		t.Errorf("storage %v", st.CachedInfo().Config.Storage)
	}
}

func TestStreamConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  bus.StreamConfig
		want []string // substrings of the joined error; nil = valid
	}{
		{"zero", bus.StreamConfig{}, nil},
		{"negative", bus.StreamConfig{MaxAge: -1, MaxBytes: -1, Replicas: -1}, []string{"MaxAge", "MaxBytes", "Replicas"}},
		{"dup window beyond age", bus.StreamConfig{MaxAge: time.Minute, DuplicateWindow: time.Hour}, []string{"DuplicateWindow"}},
		{"bad name", bus.StreamConfig{Name: "a.b"}, []string{"Name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: nil error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestRead: what the stream holds on the filter when Read begins, in
// order, from a time on; a message stored after it began is not read; an
// error from fn stops the read.
func TestRead(t *testing.T) {
	e := newEnv(t)
	put := func(subj, data string) {
		t.Helper()
		if _, err := e.js.Publish(ctx(t), subj, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	put("app.test.a", "a1")
	put("app.other.x", "x1") // another filter
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	for i := 2; i <= 600; i++ { // more than one fetch
		put("app.test.a", fmt.Sprintf("a%d", i))
	}
	read := func(since time.Time, stopAt string) ([]string, int, error) {
		var got []string
		n, err := bus.Read(ctx(t), e.js, bus.DefaultStream, "app.test.*", since, func(m *nats.Msg) error {
			got = append(got, string(m.Data))
			if len(got) == 1 {
				put("app.test.a", "late") // stored after the read began
			}
			if string(m.Data) == stopAt {
				return errStop
			}
			return nil
		})
		return got, n, err
	}
	got, n, err := read(time.Time{}, "")
	if err != nil || n != 600 || len(got) != 600 || got[0] != "a1" || got[599] != "a600" {
		t.Fatalf("from the start: n=%d err=%v first/last %q", n, err, [2]string{got[0], got[len(got)-1]})
	}
	got, n, err = read(mid, "") // a2…a600 and the first read's late one, not its own
	if err != nil || n != 600 || got[0] != "a2" || got[598] != "a600" || got[599] != "late" {
		t.Fatalf("from %v: n=%d err=%v first/last %q", mid, n, err, [2]string{got[0], got[len(got)-1]})
	}
	got, n, err = read(time.Time{}, "a3")
	if !errors.Is(err, errStop) || n != 3 || len(got) != 3 {
		t.Fatalf("stopped at a3: n=%d err=%v got %d", n, err, len(got))
	}
}

var errStop = errors.New("test: stop")
