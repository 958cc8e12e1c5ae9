package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func TestOpenRedisClient(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	tests := []struct {
		name, url, prefix string
	}{
		{"no prefix", url, ""},
		{"prefix and op_timeout", url + "?prefix=tenant1&op_timeout=250ms", "tenant1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, prefix, err := store.OpenRedisClient(ctx, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if prefix != tc.prefix {
				t.Errorf("prefix %q, want %q", prefix, tc.prefix)
			}
			if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
				t.Errorf("client does not work: %v", err)
			}
		})
	}
}

func TestOpenRedisClientErrors(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	tests := []struct {
		name, url string
		want      error
	}{
		{"memory", "memory://", store.ErrInvalid},
		{"empty", "", store.ErrInvalid},
		{"bad scheme", "mysql://u:s3cret@h", store.ErrInvalid},
		{"bad prefix", "redis://u:s3cret@127.0.0.1:1?prefix={x}", store.ErrInvalid},
		{"nobody listening", "redis://u:s3cret@127.0.0.1:1/0?dial_timeout=200ms", store.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := store.OpenRedisClient(ctx, tc.url)
			if c != nil || !errors.Is(err, tc.want) {
				t.Fatalf("OpenRedisClient = %v, %v; want %v", c, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
