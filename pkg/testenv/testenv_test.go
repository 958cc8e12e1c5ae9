package testenv

import (
	"testing"
	"time"
)

func TestServersStart(t *testing.T) {
	url := RedisURL(t)
	if err := redisPing(url[len("redis://") : len(url)-2]); err != nil {
		t.Fatalf("redis %s: %v", url, err)
	}
	s := NATS(t)
	nc, js := Connect(t, s.ClientURL())
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
	ctx := Context(t, 5*time.Second)
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}
}
