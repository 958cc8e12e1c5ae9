package main

import "testing"

func TestParseRedisInfo(t *testing.T) {
	info := "# Stats\r\ntotal_commands_processed:1234\r\n# Memory\r\nused_memory:98765\r\n" +
		"# Commandstats\r\ncmdstat_evalsha:calls=40,usec=9,usec_per_call=0.2\r\ncmdstat_eval:calls=2,usec=1\r\ncmdstat_hset:calls=7,usec=1\r\n" +
		"# Keyspace\r\ndb0:keys=10,expires=3,avg_ttl=0\r\ndb5:keys=5,expires=0,avg_ttl=0\r\n"
	got := *parseRedisInfo(info)
	want := storeStats{Commands: 1234, Scripts: 42, UsedMemory: 98765, Keys: 15}
	if got != want {
		t.Errorf("parseRedisInfo = %+v, want %+v", got, want)
	}
}
