package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/subscriber/subscribertest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// rawClient connects to url, for the engine and for inspecting what it wrote.
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	var n atomic.Int64
	t.Run("OneScript", func(t *testing.T) {
		subscribertest.Run(t, func(t *testing.T) subscriber.Directory {
			return subscriber.NewRedis(c, fmt.Sprintf("t%d", n.Add(1)))
		})
	})
	// The Redis Cluster code path (two commands), on the same server.
	t.Run("TwoCommands", func(t *testing.T) {
		subscribertest.Run(t, func(t *testing.T) subscriber.Directory {
			return subscriber.NewRedisTwoCommands(c, fmt.Sprintf("t%d", n.Add(1)))
		})
	})
}

// dump returns every key of the server with its type, TTL and content.
func dump(t *testing.T, ctx context.Context, c *redis.Client) map[string]string {
	t.Helper()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		typ := c.Type(ctx, k).Val()
		ttl := c.PTTL(ctx, k).Val()
		var content string
		switch typ {
		case "hash":
			content = fmt.Sprint(c.HGetAll(ctx, k).Val())
		case "zset":
			content = fmt.Sprint(c.ZRangeWithScores(ctx, k, 0, -1).Val())
		default:
			content = c.Get(ctx, k).Val()
		}
		out[k] = fmt.Sprintf("%s ttl=%v %s", typ, ttl, content)
	}
	return out
}

func TestRedisKeyLayout(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	d := subscriber.NewRedis(c, "lay")
	s := subscriber.Subscriber{AOR: "sip:Alice@Example.com", Name: "Alice", Email: "alice@example.com", Enabled: true}
	if err := s.SetPassword(subscribertest.Password); err != nil {
		t.Fatal(err)
	}
	if err := d.Add(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(ctx, "Alice@example.com")
	if err != nil {
		t.Fatal(err)
	}

	keys := dump(t, ctx, c)
	if len(keys) != 2 {
		t.Fatalf("keys %v, want the hash and the index", keys)
	}
	const hashKey, indexKey = "lay:sub:{Alice@example.com}", "lay:subs"
	fields, err := c.HGetAll(ctx, hashKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"aor": "Alice@example.com", "ha1_md5": s.HA1MD5, "ha1_sha256": s.HA1SHA256, "name": "Alice",
		"email": "alice@example.com", "enabled": "1", "missed_call": "1", "tz": "", "admin": "0",
		"created": fmt.Sprint(got.Created.UnixMilli()), "updated": fmt.Sprint(got.Updated.UnixMilli()),
	}
	if fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Fatalf("hash %s\n got %v\nwant %v", hashKey, fields, want)
	}
	z, err := c.ZRangeWithScores(ctx, indexKey, 0, -1).Result()
	if err != nil || len(z) != 1 || z[0].Member != "Alice@example.com" || z[0].Score != 0 {
		t.Fatalf("index %s = %v, %v; want [Alice@example.com score 0]", indexKey, z, err)
	}
	// Key names the hash from any spelling, and fails for a bad AOR.
	for _, aor := range []string{"Alice@example.com", "sips:Alice@EXAMPLE.com.;transport=tls"} {
		if k, err := d.Key(aor); k != hashKey || err != nil {
			t.Errorf("Key(%q) = %q, %v; want %q", aor, k, err, hashKey)
		}
	}
	if k, err := d.Key("sip:example.com"); !errors.Is(err, subscriber.ErrInvalid) {
		t.Errorf("Key of an AOR without user = %q, %v; want ErrInvalid", k, err)
	}
	// Provisioning data: no TTL on either key.
	for _, k := range []string{hashKey, indexKey} {
		if ttl := c.PTTL(ctx, k).Val(); ttl != -1*time.Nanosecond && ttl != -1*time.Millisecond {
			t.Errorf("PTTL %s = %v, want none (-1)", k, ttl)
		}
	}
	// The password appears nowhere: no key, field or value holds it.
	for k, v := range keys {
		if strings.Contains(k, subscribertest.Password) || strings.Contains(v, subscribertest.Password) {
			t.Fatalf("the password is stored in %s: %s", k, v)
		}
	}

	// Default prefix.
	if err := subscriber.NewRedis(c, "").Add(ctx, subscriber.Subscriber{AOR: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, "sipbus:sub:{bob@example.com}", "sipbus:subs").Val(); n != 2 {
		t.Fatalf("default prefix: %d of 2 keys exist", n)
	}
}

func TestRedisBadPrefix(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	d := subscriber.NewRedis(c, "a{b}")
	_, getErr := d.Get(ctx, "a@example.com")
	_, _, listErr := d.List(ctx, "", 1)
	_, keyErr := d.Key("a@example.com")
	for op, err := range map[string]error{
		"Add": d.Add(ctx, subscriber.Subscriber{AOR: "a@example.com"}), "Get": getErr, "Key": keyErr,
		"Update": d.Update(ctx, subscriber.Subscriber{AOR: "a@example.com"}), "Remove": d.Remove(ctx, "a@example.com"), "List": listErr,
	} {
		if !errors.Is(err, subscriber.ErrInvalid) || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("%s with prefix a{b} = %v, want ErrInvalid naming the prefix", op, err)
		}
	}
}

// TestRedisTwoCommandsRepair: on Cluster the hash and the index are written
// by separate commands; an interruption between them is repaired as the
// package doc says.
func TestRedisTwoCommandsRepair(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	d := subscriber.NewRedisTwoCommands(c, "rep")
	for _, aor := range []string{"a@x.example", "b@x.example", "c@x.example", "d@x.example"} {
		if err := d.Add(ctx, subscriber.Subscriber{AOR: aor}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(limit int) ([]string, string) {
		t.Helper()
		subs, next, err := d.List(ctx, "", limit)
		if err != nil {
			t.Fatal(err)
		}
		var aors []string
		for _, s := range subs {
			aors = append(aors, s.AOR)
		}
		return aors, next
	}

	// An Add interrupted after the hash: not listed, until Add is repeated.
	c.ZRem(ctx, "rep:subs", "b@x.example")
	if got, _ := list(10); fmt.Sprint(got) != "[a@x.example c@x.example d@x.example]" {
		t.Fatalf("listed %v", got)
	}
	if err := d.Add(ctx, subscriber.Subscriber{AOR: "b@x.example"}); !errors.Is(err, subscriber.ErrExists) {
		t.Fatalf("repeated Add = %v, want ErrExists", err)
	}
	if got, _ := list(10); fmt.Sprint(got) != "[a@x.example b@x.example c@x.example d@x.example]" {
		t.Fatalf("after the repeated Add, listed %v", got)
	}
	// ... or until it is updated.
	c.ZRem(ctx, "rep:subs", "d@x.example")
	if err := d.Update(ctx, subscriber.Subscriber{AOR: "d@x.example", Name: "D"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := list(10); fmt.Sprint(got) != "[a@x.example b@x.example c@x.example d@x.example]" {
		t.Fatalf("after Update, listed %v", got)
	}

	// A Remove interrupted after the hash: List skips the entry and still
	// fills its pages.
	c.Del(ctx, "rep:sub:{a@x.example}", "rep:sub:{b@x.example}")
	if got, next := list(2); fmt.Sprint(got) != "[c@x.example d@x.example]" || next != "" {
		t.Fatalf("with dangling entries, List(2) = %v, %q", got, next)
	}
	if got, next := list(1); fmt.Sprint(got) != "[c@x.example]" || next != "c@x.example" {
		t.Fatalf("with dangling entries, List(1) = %v, %q", got, next)
	}
	// Repeating the Remove drops the entry.
	if err := d.Remove(ctx, "a@x.example"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("repeated Remove = %v, want ErrNotFound", err)
	}
	if n := c.ZCard(ctx, "rep:subs").Val(); n != 3 {
		t.Fatalf("index has %d entries after the repeated Remove, want 3", n)
	}
}

func TestRedisUnavailable(t *testing.T) {
	port := testenv.FreePort(t, "tcp") // nothing listens there
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	ctx := testenv.Context(t, 10*time.Second)
	d := subscriber.NewRedis(c, "")
	_, getErr := d.Get(ctx, "a@example.com")
	_, _, listErr := d.List(ctx, "", 1)
	for op, err := range map[string]error{
		"Add": d.Add(ctx, subscriber.Subscriber{AOR: "a@example.com"}), "Get": getErr,
		"Update": d.Update(ctx, subscriber.Subscriber{AOR: "a@example.com"}), "Remove": d.Remove(ctx, "a@example.com"), "List": listErr,
	} {
		if !errors.Is(err, subscriber.ErrUnavailable) {
			t.Errorf("%s against a dead server = %v, want ErrUnavailable", op, err)
		}
	}
}

// TestRedisCorruptHash: a hash with a non-numeric time is an error, not a
// zero time.
func TestRedisCorruptHash(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	c.HSet(ctx, "bad:sub:{a@example.com}", "aor", "a@example.com", "created", "yesterday", "updated", "1")
	if _, err := subscriber.NewRedis(c, "bad").Get(ctx, "a@example.com"); err == nil || !strings.Contains(err.Error(), "created") {
		t.Fatalf("Get of a corrupt hash = %v, want an error naming the field", err)
	}
}

// TestRedisBeforeNotifications: an entry written before the missed_call
// and tz fields existed reads as mail on, UTC.
func TestRedisBeforeNotifications(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	if err := c.HSet(ctx, "old:sub:{carol@example.com}", "aor", "carol@example.com", "ha1_md5", "", "ha1_sha256", "",
		"name", "Carol", "email", "carol@example.com", "enabled", "1", "created", "1000", "updated", "1000").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := subscriber.NewRedis(c, "old").Get(ctx, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.MissedCallOptOut || got.TZ != "" || !got.MissedCallEmail() {
		t.Errorf("old entry read as %+v, want missed-call mail on and TZ UTC", got)
	}
}
