package bus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func TestEnsureStreamDefaults(t *testing.T) {
	e := newEnv(t) // EnsureStream with the zero config
	cfg := streamInfo(t, e).Config
	if cfg.MaxAge != 24*time.Hour || cfg.MaxBytes != 1<<30 || cfg.Duplicates != 2*time.Minute ||
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
