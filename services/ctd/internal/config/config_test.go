package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	c := Default()
	c.ID = "ctd-1"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Default()
	bad.RingTimeout, bad.Fallback = 0, []int{200}
	err := bad.Validate()
	for _, want := range []string{"id: required", "ring_timeout: must be positive", "fallback: 200"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q in it", err, want)
		}
	}
}
