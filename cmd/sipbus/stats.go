package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/store"
)

// busStats and storeStats are what `sipbus stats` prints: the servers' own
// counters, so a script can diff two readings (make bench counts the
// per-registration and per-call cost this way).
type busStats struct {
	Stream       string `json:"stream"`
	StreamMsgs   uint64 `json:"stream_msgs"`
	StreamBytes  uint64 `json:"stream_bytes"`
	InMsgs       int64  `json:"in_msgs,omitempty"` // from the monitoring endpoint
	OutMsgs      int64  `json:"out_msgs,omitempty"`
	InBytes      int64  `json:"in_bytes,omitempty"`
	OutBytes     int64  `json:"out_bytes,omitempty"`
	MonitorError string `json:"monitor_error,omitempty"`
}

type storeStats struct {
	Commands   int64 `json:"commands"` // total_commands_processed
	Scripts    int64 `json:"scripts"`  // EVAL, EVALSHA and FCALL calls (each one round trip, many commands)
	UsedMemory int64 `json:"used_memory"`
	Keys       int64 `json:"keys"`
}

type statsOut struct {
	Time  time.Time   `json:"time"`
	Bus   *busStats   `json:"bus,omitempty"`
	Store *storeStats `json:"store,omitempty"`
}

// cmdStats prints one JSON line of bus and store counters.
func cmdStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("stats", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL; empty: no bus figures")
	monitor := fs.String("nats-monitor", "", "NATS monitoring URL (http://ip:port) for the server's message counters")
	redisURL := fs.String("redis", "", "Redis URL for the store's counters; empty: none")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	instances := fs.Bool("instances", false, "the stats of every service instance (micro $SRV.STATS), one JSON line each; SERVICE or ID arguments select some")
	wait := fs.Duration("wait", mgmt.DefaultWait, "with --instances: how long to wait for answers")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *instances || len(names) > 0 {
		f := false
		return instanceStats(ctx, &mgmtFlags{nats: natsURL, wait: wait, asJSON: &f}, names, stdout)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out := statsOut{Time: time.Now().UTC()}
	if *natsURL != "" {
		b, err := readBusStats(ctx, *natsURL, *monitor, *stream)
		if err != nil {
			return err
		}
		out.Bus = b
	}
	if *redisURL != "" {
		s, err := readStoreStats(ctx, *redisURL)
		if err != nil {
			return err
		}
		out.Store = s
	}
	return json.NewEncoder(stdout).Encode(out)
}

func readBusStats(ctx context.Context, natsURL, monitor, stream string) (*busStats, error) {
	nc, err := nats.Connect(natsURL, nats.Name("sipbus-stats"))
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("--stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("--stream %s: %w", stream, err)
	}
	b := &busStats{Stream: stream, StreamMsgs: info.State.Msgs, StreamBytes: info.State.Bytes}
	if monitor != "" {
		if err := readVarz(ctx, monitor, b); err != nil {
			b.MonitorError = err.Error()
		}
	}
	return b, nil
}

func readVarz(ctx context.Context, monitor string, b *busStats) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(monitor, "/")+"/varz", nil)
	if err != nil {
		return fmt.Errorf("--nats-monitor: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("--nats-monitor: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("--nats-monitor: /varz: %s", res.Status)
	}
	var v struct {
		InMsgs   int64 `json:"in_msgs"`
		OutMsgs  int64 `json:"out_msgs"`
		InBytes  int64 `json:"in_bytes"`
		OutBytes int64 `json:"out_bytes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		return fmt.Errorf("--nats-monitor: /varz: %w", err)
	}
	b.InMsgs, b.OutMsgs, b.InBytes, b.OutBytes = v.InMsgs, v.OutMsgs, v.InBytes, v.OutBytes
	return nil
}

func readStoreStats(ctx context.Context, url string) (*storeStats, error) {
	c, _, err := store.OpenRedisClient(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	defer c.Close()
	info, err := c.Info(ctx, "stats", "memory", "commandstats", "keyspace").Result()
	if err != nil {
		return nil, fmt.Errorf("--redis: INFO: %w", err)
	}
	return parseRedisInfo(info), nil
}

// parseRedisInfo reads the counters storeStats holds from INFO's text.
func parseRedisInfo(info string) *storeStats {
	s := &storeStats{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "total_commands_processed":
			s.Commands, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_memory":
			s.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "db"):
			if keys, _, ok := strings.Cut(strings.TrimPrefix(v, "keys="), ","); ok {
				n, _ := strconv.ParseInt(keys, 10, 64)
				s.Keys += n
			}
		case k == "cmdstat_evalsha" || k == "cmdstat_eval" || k == "cmdstat_fcall":
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			n, _ := strconv.ParseInt(calls, 10, 64)
			s.Scripts += n
		}
	}
	return s
}
