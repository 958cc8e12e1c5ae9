package config_test

import (
	"strings"
	"testing"

	"github.com/sipbus/sipbus/services/web/internal/config"
)

func TestValidate(t *testing.T) {
	ok := config.Default()
	ok.SessionKey = make([]byte, 32)
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults with a key: %v", err)
	}
	bad := config.Default()
	bad.HistoryLen, bad.PhonebookMax, bad.LockoutFailures, bad.Consumer = 0, 0, 0, ""
	err := bad.Validate()
	for _, key := range []string{"session key", "history_len", "phonebook_max", "lockout_failures", "consumer"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate = %v, want it to name %s", err, key)
		}
	}
}
