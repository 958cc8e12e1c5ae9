package location

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestExpireRecheck drives the race expireAOR's re-check exists for, on
// both paths (one server: index updates pipelined with the script; Cluster:
// a second round trip): a REGISTER lands after Expire read the AOR and its
// index update runs before Expire's. Without the re-check the new binding
// would be lost from the expiry index and the AOR from the AOR list.
func TestExpireRecheck(t *testing.T) {
	o, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	for _, ordered := range []bool{true, false} {
		name := map[bool]string{true: "pipelined", false: "two round trips"}[ordered]
		t.Run(name, func(t *testing.T) {
			ctx := testenv.Context(t, 10*time.Second)
			r := NewRedis(c, "recheck-"+name)
			r.ordered = ordered
			t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			const aor = "alice@example.com"
			reg := func(cseq uint32, uri string, exp time.Time) {
				t.Helper()
				u := Update{AOR: aor, CallID: "c", CSeq: cseq, Now: t0, Contacts: []Binding{{Contact: uri, Q: 1, Expires: exp}}}
				if _, _, err := r.Apply(ctx, u); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			reg(1, "sip:a@192.0.2.1", t0.Add(time.Minute))
			fired := false
			r.afterExpireScript = func(string) {
				if !fired {
					fired = true
					reg(2, "sip:b@192.0.2.1", t0.Add(5*time.Minute))
				}
			}
			ex, err := r.Expire(ctx, t0.Add(2*time.Minute), 10)
			if err != nil || len(ex) != 1 || ex[0].Contact != "sip:a@192.0.2.1" {
				t.Fatalf("first Expire = %+v, %v", ex, err)
			}
			r.afterExpireScript = nil
			if aors, _, err := r.AORs(ctx, "", 10); err != nil || !slices.Equal(aors, []string{aor}) {
				t.Errorf("AORs = %q, %v; want the AOR of the new binding", aors, err)
			}
			ex, err = r.Expire(context.Background(), t0.Add(6*time.Minute), 10)
			if err != nil || len(ex) != 1 || ex[0].Contact != "sip:b@192.0.2.1" {
				t.Errorf("Expire after the new binding's expiry = %+v, %v; want it", ex, err)
			}
		})
	}
}
