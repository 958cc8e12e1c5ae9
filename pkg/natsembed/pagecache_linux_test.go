package natsembed

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"
)

// TestWrittenPagesLeaveTheCache writes 4 MB into a file-backed stream and
// reads the page cache's residency of its message block (mincore): by
// default the pages are gone within a second or two; with KeepPageCache
// they stay.
func TestWrittenPagesLeaveTheCache(t *testing.T) {
	for _, drop := range []bool{true, false} {
		keep := !drop
		dir := t.TempDir()
		s, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: dir, KeepPageCache: !drop})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.ClientURL(), s.InProcess())
		if err != nil {
			t.Fatal(err)
		}
		js, _ := nc.JetStream()
		if _, err := js.AddStream(&nats.StreamConfig{Name: "LOG", Subjects: []string{"log.>"}, Storage: nats.FileStorage}); err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte("x"), 2048)
		for i := range 2048 {
			if _, err := js.PublishAsync("log.m", payload); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			t.Fatal("stream did not acknowledge 2,048 messages within 10 s")
		}
		blk := newestBlocks(filepath.Join(dir, "jetstream", "$G", "streams", "LOG", "msgs"), 1)
		if len(blk) != 1 {
			t.Fatalf("no message block under %s", dir)
		}
		var res float64
		// The tail under dropBatch waits dropLinger for its writeback to
		// start, and an act more to be dropped.
		within := 2*dropLinger + 10*dropEvery
		for deadline := time.Now().Add(within); ; {
			res = resident(t, blk[0])
			if keep || res < 0.05 || time.Now().After(deadline) {
				break
			}
			time.Sleep(dropEvery)
		}
		if keep && res < 0.5 {
			t.Errorf("KeepPageCache: %.0f %% of %s in the page cache, want most of it", 100*res, blk[0])
		}
		if !keep && res >= 0.05 {
			t.Errorf("default: %.0f %% of %s still in the page cache after %v, want under 5 %%", 100*res, blk[0], within)
		}
		nc.Close()
		s.Shutdown()
	}
}

// resident is the share of f's pages in the page cache.
func resident(t *testing.T, f string) float64 {
	t.Helper()
	fd, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	fi, _ := fd.Stat()
	if fi.Size() == 0 {
		t.Fatalf("%s is empty", f)
	}
	m, err := unix.Mmap(int(fd.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore %s: %v", f, errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}

func TestNewestBlocks(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"9.blk", "10.blk", "2.blk", "index.db", "x.blk"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := newestBlocks(dir, 2)
	want := []string{filepath.Join(dir, "9.blk"), filepath.Join(dir, "10.blk")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("newestBlocks = %v, want %v", got, want)
	}
	if got := newestBlocks(filepath.Join(dir, "none"), 2); len(got) != 0 {
		t.Errorf("newestBlocks of a missing folder = %v, want none", got)
	}
}
