package location

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/groupcommit"
)

// Redis engine constants (see the package doc).
const (
	// DefaultPrefix starts every key when NewRedis gets "".
	DefaultPrefix = "sipbus"
	// ExpiryShards is the number of shards of the expiry index.
	ExpiryShards = 16
	// TTLMargin is added to the remaining life of the latest-expiring
	// binding to make the TTL of an AOR's hash. The hash is normally
	// emptied by Expire long before; the TTL only bounds memory when no
	// replica runs Expire. It must exceed the expiry scan interval.
	TTLMargin = 10 * time.Minute
	// ExpireLease is how long an AOR claimed by one Expire caller is hidden
	// from the others. A caller that dies delays those expiries by at most
	// this.
	ExpireLease = 30 * time.Second
)

// Redis is the Redis engine: single node, Sentinel or Cluster alike. See the
// package doc for the key layout and the atomicity of each operation.
type Redis struct {
	c         redis.UniversalClient
	ordered   bool // one server executes a pipeline in order (not Cluster or Ring)
	prefix    string
	badPrefix error
	rotate    atomic.Uint32                 // first shard of the next Expire
	commits   groupcommit.Group[*applyCall] // Apply's group commit (ordered only)
	now       func() time.Time
	// afterExpireScript, when set (by tests), runs between expireAORScript
	// and the index update that follows it: the window the re-check in
	// expireAOR exists for.
	afterExpireScript func(aor string)
}

var _ Store = (*Redis)(nil)

// NewRedis returns the Redis engine on c with keys under prefix ("" is
// DefaultPrefix). The client belongs to the caller; operations are bounded
// by the caller's context (set go-redis ContextTimeoutEnabled, as store.Open
// does). A prefix holding '{' or '}' makes every operation fail with
// ErrInvalid.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	_, ordered := c.(*redis.Client)
	r := &Redis{c: c, ordered: ordered, prefix: prefix, now: time.Now}
	r.commits.Max = maxCommit
	r.commits.Run = r.send
	r.commits.Skip = func(c *applyCall) bool { return c.ctx.Err() != nil } // gave up while waiting: not sent
	if strings.ContainsAny(prefix, "{}") {
		r.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, prefix)
	}
	return r
}

// LocKey is the hash of an AOR's bindings: <prefix>:loc:{<aor>}.
func LocKey(prefix, aor string) string { return prefix + ":loc:{" + aor + "}" }

// ExpiryKey is shard i of the expiry index: <prefix>:locx:{x<i>}.
func ExpiryKey(prefix string, shard int) string {
	return prefix + ":locx:{x" + strconv.Itoa(shard) + "}"
}

// AORsKey is the lexicographic index of AORs: <prefix>:locaors.
func AORsKey(prefix string) string { return prefix + ":locaors" }

// ExpiryShard is the expiry-index shard of an AOR: FNV-1a 32 of its bytes
// modulo ExpiryShards.
func ExpiryShard(aor string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(aor))
	return int(h.Sum32() % ExpiryShards)
}

// Apply implements Store.
func (r *Redis) Apply(ctx context.Context, u Update) ([]Binding, []Change, error) {
	es, now, err := prepare(&u)
	if err != nil {
		return nil, nil, err
	}
	if r.badPrefix != nil {
		return nil, nil, r.badPrefix
	}
	args := make([]any, 0, 6+6*len(es))
	args = append(args, now.UnixMilli(), u.CallID, u.CSeq, flag(u.Wildcard), u.MaxContacts, TTLMargin.Milliseconds())
	for i := range es {
		e := &es[i]
		raw := encode(&e.b)
		inst, regID := "", 0
		if outbound(&e.b) {
			inst, regID = e.b.InstanceID, e.b.RegID
		}
		args = append(args, e.field, inst, regID, flag(e.remove), unixMilli(e.b.Expires), raw)
	}
	op := "apply REGISTER of " + u.AOR
	res, indexed, err := r.runApply(ctx, u.AOR, es, args)
	if err != nil {
		return nil, nil, mapErr(ctx, op, err)
	}
	earliest, count, rest, err := counts(res)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if int64(len(rest)) < count || (int64(len(rest))-count)%2 != 0 {
		return nil, nil, fmt.Errorf("%s: location: unexpected script reply of %d elements", op, len(res))
	}
	bindings, err := decodeAll(u.AOR, rest[:count])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	rest = rest[count:]
	changes := make([]Change, 0, len(rest)/2)
	for i := 0; i < len(rest); i += 2 {
		kind, _ := rest[i].(string)
		raw, _ := rest[i+1].(string)
		b, err := decode(u.AOR, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		changes = append(changes, Change{Kind: ChangeKind(kind), Binding: b})
	}
	if !indexed || count == 0 {
		if err := r.index(ctx, u.AOR, earliest, count); err != nil {
			return nil, nil, fmt.Errorf("%s: bindings written, index not updated: %w", op, err)
		}
	}
	sortBindings(bindings)
	SortChanges(changes)
	return bindings, changes, nil
}

// runApply runs applyScript. On one server (not Cluster) it sends the index
// updates in the same pipeline, right behind the script, and reports
// indexed: ZADD LT of the earliest expiry among the request's contacts
// (enough: the index already held at most the earliest expiry of the other
// bindings) and ZADD NX on the AOR list. A server runs a connection's
// commands in order, so they follow the script exactly as index's second
// round trip would: a REGISTER costs one round trip. When the script fails
// (ErrOutOfOrder, ErrTooMany) the early score is harmless and the AOR list
// entry is checked again with unlist.
func (r *Redis) runApply(ctx context.Context, aor string, es []entry, args []any) ([]any, bool, error) {
	keys := []string{LocKey(r.prefix, aor)}
	if !r.ordered {
		res, err := applyScript.Run(ctx, r.c, keys, args...).Slice()
		return res, false, err
	}
	var first int64
	listed := false
	for i := range es {
		if e := &es[i]; !e.remove {
			listed = true
			if x := unixMilli(e.b.Expires); x > 0 && (first == 0 || x < first) {
				first = x
			}
		}
	}
	c := &applyCall{ctx: ctx, keys: keys, args: args, aor: aor, first: first, listed: listed}
	if err := r.commit(c); err != nil {
		return nil, false, err
	}
	res, err := c.script.Slice()
	indexed := c.indexed
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The script cache was flushed (a restarted or failed-over
		// server): this call alone, with EVAL, loads it again.
		var index []redis.Cmder
		_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			index = r.queue(ctx, p, c, true)
			return nil
		})
		res, err = c.script.Slice()
		indexed = allOK(index)
	}
	if err != nil && listed {
		_ = r.unlist(ctx, aor)
	}
	return res, indexed, err
}

// index updates the expiry index and the AOR list after a write to aor's
// hash left count bindings, the earliest expiring at earliest (-1: none).
// This is a second round trip because the indexes live in other Cluster
// slots. It only ever lowers an AOR's expiry score (ZADD LT), so a
// concurrent write cannot make an expiry late; a score that is early only
// costs Expire a look at the AOR. An AOR left empty stays in the expiry
// index until Expire finds it empty.
func (r *Redis) index(ctx context.Context, aor string, earliest, count int64) error {
	if count == 0 {
		return r.unlist(ctx, aor)
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if earliest > 0 {
			p.ZAddLT(ctx, ExpiryKey(r.prefix, ExpiryShard(aor)), redis.Z{Score: float64(earliest), Member: aor})
		}
		p.ZAddNX(ctx, AORsKey(r.prefix), redis.Z{Member: aor})
		return nil
	})
	return mapErr(ctx, "index "+aor, err)
}

// unlist takes an AOR whose hash was found empty off the AOR list: remove,
// then check the hash again and put it back if a concurrent write created
// bindings meanwhile (that write's own ZADD may have run before our ZREM).
func (r *Redis) unlist(ctx context.Context, aor string) error {
	if err := r.c.ZRem(ctx, AORsKey(r.prefix), aor).Err(); err != nil {
		return mapErr(ctx, "unlist "+aor, err)
	}
	n, err := r.c.Exists(ctx, LocKey(r.prefix, aor)).Result()
	if err != nil {
		return mapErr(ctx, "unlist "+aor, err)
	}
	if n > 0 {
		if err := r.c.ZAddNX(ctx, AORsKey(r.prefix), redis.Z{Member: aor}).Err(); err != nil {
			return mapErr(ctx, "relist "+aor, err)
		}
	}
	return nil
}

// Lookup implements Store: one HVALS.
func (r *Redis) Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error) {
	bs, err := r.lookupAll(ctx, aor)
	if err != nil {
		return nil, err
	}
	return live(bs, now), nil
}

// live keeps the bindings of bs live at now, in bs itself.
func live(bs []Binding, now time.Time) []Binding {
	return slices.DeleteFunc(bs, func(b Binding) bool { return !b.LiveAt(now) })
}

// lookupAll reads every binding of aor, live or not, sorted as Lookup's.
func (r *Redis) lookupAll(ctx context.Context, aor string) ([]Binding, error) {
	if err := validAOR(aor); err != nil {
		return nil, err
	}
	if r.badPrefix != nil {
		return nil, r.badPrefix
	}
	vals, err := r.c.HVals(ctx, LocKey(r.prefix, aor)).Result()
	if err != nil {
		return nil, mapErr(ctx, "lookup "+aor, err)
	}
	out := make([]Binding, 0, len(vals))
	for _, raw := range vals {
		b, err := decode(aor, raw)
		if err != nil {
			return nil, fmt.Errorf("lookup %s: %w", aor, err)
		}
		out = append(out, b)
	}
	sortBindings(out)
	return out, nil
}

// Add implements Store.
func (r *Redis) Add(ctx context.Context, b Binding) error {
	if b.Updated.IsZero() {
		b.Updated = r.now()
	}
	field, err := prepareAdd(&b)
	if err != nil {
		return err
	}
	if r.badPrefix != nil {
		return r.badPrefix
	}
	raw := encode(&b)
	op := "add binding " + b.Contact + " to " + b.AOR
	res, err := addScript.Run(ctx, r.c, []string{LocKey(r.prefix, b.AOR)}, field, raw, b.Updated.UnixMilli(), TTLMargin.Milliseconds()).Slice()
	if err != nil {
		return mapErr(ctx, op, err)
	}
	earliest, count, _, err := counts(res)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := r.index(ctx, b.AOR, earliest, count); err != nil {
		return fmt.Errorf("%s: binding written, index not updated: %w", op, err)
	}
	return nil
}

// Remove implements Store.
func (r *Redis) Remove(ctx context.Context, aor, contact string) ([]Binding, error) {
	key, err := prepareRemove(aor, contact)
	if err != nil {
		return nil, err
	}
	if r.badPrefix != nil {
		return nil, r.badPrefix
	}
	op := fmt.Sprintf("remove %q from %s", contact, aor)
	res, err := removeScript.Run(ctx, r.c, []string{LocKey(r.prefix, aor)}, key).Slice()
	if err != nil {
		return nil, mapErr(ctx, op, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("%s: location: empty script reply", op)
	}
	left, _ := res[0].(int64)
	out, err := decodeAll(aor, res[1:])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if left == 0 && len(out) > 0 {
		if err := r.unlist(ctx, aor); err != nil {
			return nil, fmt.Errorf("%s: bindings removed, index not updated: %w", op, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	sortBindings(out)
	return out, nil
}

// AORs implements Store: ZRANGEBYLEX on the AOR list.
func (r *Redis) AORs(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	if err := validAORs(limit); err != nil {
		return nil, "", err
	}
	if r.badPrefix != nil {
		return nil, "", r.badPrefix
	}
	from := "-"
	if cursor != "" {
		from = "(" + cursor
	}
	aors, err := r.c.ZRangeByLex(ctx, AORsKey(r.prefix), &redis.ZRangeBy{Min: from, Max: "+", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", mapErr(ctx, "list AORs", err)
	}
	if len(aors) <= limit {
		return aors, "", nil
	}
	aors = aors[:limit]
	return aors, aors[limit-1], nil
}

// Expire implements Store. It walks the shards of the expiry index (starting
// at a rotating one so no shard starves), claims the AORs due in each with
// claimScript and expires each AOR with expireAORScript, which alone
// decides what is returned: it deletes each binding atomically, so a
// binding is returned by exactly one caller even when two claim the same
// AOR (after a lease ran out). On an error, the bindings already removed are
// returned with it.
func (r *Redis) Expire(ctx context.Context, now time.Time, max int) ([]Binding, error) {
	if err := validExpire(now, max); err != nil {
		return nil, err
	}
	if r.badPrefix != nil {
		return nil, r.badPrefix
	}
	nowMs := msTime(now).UnixMilli()
	start := int(r.rotate.Add(1))
	var out []Binding
	for i := 0; i < ExpiryShards && len(out) < max; i++ {
		shard := (start + i) % ExpiryShards
		skey := ExpiryKey(r.prefix, shard)
		due, err := claimScript.Run(ctx, r.c, []string{skey}, nowMs, nowMs+ExpireLease.Milliseconds(), max-len(out)).StringSlice()
		if err != nil {
			return out, mapErr(ctx, "claim expiry shard "+strconv.Itoa(shard), err)
		}
		for j := 0; j+1 < len(due); j += 2 {
			if len(out) >= max {
				r.release(ctx, skey, due[j:])
				break
			}
			got, err := r.expireAOR(ctx, skey, due[j], nowMs, max-len(out))
			out = append(out, got...)
			if err != nil {
				return out, err
			}
		}
	}
	sortExpired(out)
	return out, nil
}

// NextExpiry implements Store: one pipeline of ZRANGE <shard> 0 0
// WITHSCORES over the expiry shards (on Cluster, one per node), the lowest
// score of the answers.
func (r *Redis) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	if r.badPrefix != nil {
		return time.Time{}, false, r.badPrefix
	}
	var heads [ExpiryShards]*redis.ZSliceCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range heads {
			heads[i] = p.ZRangeWithScores(ctx, ExpiryKey(r.prefix, i), 0, 0)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, mapErr(ctx, "next expiry", err)
	}
	next, ok := int64(0), false
	for _, h := range heads {
		for _, z := range h.Val() {
			if ms := int64(z.Score); !ok || ms < next {
				next, ok = ms, true
			}
		}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next), true, nil
}

// release gives back claimed AORs this caller has no budget left for: their
// scores go back to what they were (ZADD LT: never above a score a
// concurrent write set). Failures are ignored; the lease ends anyway.
func (r *Redis) release(ctx context.Context, skey string, due []string) {
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j := 0; j+1 < len(due); j += 2 {
			score, err := strconv.ParseFloat(due[j+1], 64)
			if err == nil {
				p.ZAddLT(ctx, skey, redis.Z{Score: score, Member: due[j]})
			}
		}
		return nil
	})
}

// expireAOR expires up to budget bindings of one claimed AOR and puts the
// AOR back in the indexes with its new earliest expiry.
//
// A write to the AOR that ran after expireAORScript but whose own index
// update (ZADD LT) ran before ours would be overwritten, so after updating
// the indexes we peek at the hash again and lower the score (and re-list
// the AOR) when it changed meanwhile: the index never holds a score later
// than the AOR's earliest expiry.
func (r *Redis) expireAOR(ctx context.Context, skey, aor string, nowMs int64, budget int) ([]Binding, error) {
	op := "expire " + aor
	hkey := LocKey(r.prefix, aor)
	res, err := expireAORScript.Run(ctx, r.c, []string{hkey}, nowMs, budget).Slice()
	if err != nil {
		return nil, mapErr(ctx, op, err)
	}
	earliest, count, raws, err := counts(res)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, decErr := decodeAll(aor, raws)
	if r.afterExpireScript != nil {
		r.afterExpireScript(aor)
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if earliest < 0 {
			p.ZRem(ctx, skey, aor)
		} else {
			p.ZAdd(ctx, skey, redis.Z{Score: float64(earliest), Member: aor})
		}
		if count == 0 {
			p.ZRem(ctx, AORsKey(r.prefix), aor)
		}
		return nil
	})
	if err != nil {
		return out, mapErr(ctx, op+": index", err)
	}
	res, err = expireAORScript.Run(ctx, r.c, []string{hkey}, nowMs, 0).Slice()
	if err != nil {
		return out, mapErr(ctx, op+": recheck", err)
	}
	again, left, _, err := counts(res)
	if err != nil {
		return out, fmt.Errorf("%s: recheck: %w", op, err)
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if again >= 0 && (earliest < 0 || again < earliest) {
			p.ZAddLT(ctx, skey, redis.Z{Score: float64(again), Member: aor})
		}
		if count == 0 && left > 0 {
			p.ZAddNX(ctx, AORsKey(r.prefix), redis.Z{Member: aor})
		}
		return nil
	})
	if err != nil {
		return out, mapErr(ctx, op+": reindex", err)
	}
	if decErr != nil {
		return out, fmt.Errorf("%s: %w", op, decErr)
	}
	return out, nil
}

// counts splits a script reply {earliest, count, rest...}.
func counts(res []any) (earliest, count int64, rest []any, err error) {
	if len(res) < 2 {
		return 0, 0, nil, fmt.Errorf("location: unexpected script reply %v", res)
	}
	e, ok1 := res[0].(int64)
	c, ok2 := res[1].(int64)
	if !ok1 || !ok2 || c < 0 {
		return 0, 0, nil, fmt.Errorf("location: unexpected script reply %v", res[:2])
	}
	return e, c, res[2:], nil
}

// decodeAll decodes stored bindings of aor; a bad one is skipped and
// reported after the others are decoded.
func decodeAll(aor string, raws []any) ([]Binding, error) {
	out := make([]Binding, 0, len(raws))
	var first error
	for _, v := range raws {
		raw, _ := v.(string)
		b, err := decode(aor, raw)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		out = append(out, b)
	}
	return out, first
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
