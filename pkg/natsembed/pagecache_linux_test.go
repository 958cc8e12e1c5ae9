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
		diskBacked(t, dir)
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

// diskBacked fails the test when dir is on a file system whose pages are
// not a cache of a disk (tmpfs: posix_fadvise drops nothing there).
func diskBacked(t *testing.T, dir string) {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC {
		t.Fatalf("%s is on tmpfs or ramfs: its pages cannot be dropped; run the test with TMPDIR on a disk", dir)
	}
}

// resident is the share of f's pages in the page cache.
func resident(t *testing.T, f string) float64 {
	t.Helper()
	vec := residentPages(t, f)
	n := 0
	for _, in := range vec {
		if in {
			n++
		}
	}
	return float64(n) / float64(len(vec))
}

// residentPages says for each page of f whether it is in the page cache
// (mincore).
func residentPages(t *testing.T, f string) []bool {
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
	in := make([]bool, len(vec))
	for i, v := range vec {
		in[i] = v&1 == 1
	}
	return in
}

// TestDropperActs drives the dropper by hand over a block written through
// the page cache: under dropBatch and within dropLinger nothing happens;
// past dropBatch the writeback of the whole pages starts and nothing is
// dropped yet; at the next act those pages leave the page cache, and the
// page the block ends in stays; a block compacted into a new file under
// the same name is opened again and started from its first byte.
func TestDropperActs(t *testing.T) {
	store := t.TempDir()
	diskBacked(t, store)
	msgs := filepath.Join(store, "jetstream", "$G", "streams", "LOG", "msgs")
	if err := os.MkdirAll(msgs, 0o700); err != nil {
		t.Fatal(err)
	}
	blk := filepath.Join(msgs, "1.blk")
	page := os.Getpagesize()
	appendTo := func(n int) {
		f, err := os.OpenFile(blk, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(bytes.Repeat([]byte("m"), n)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	countIn := func() (in, out int, last bool) {
		vec := residentPages(t, blk)
		for _, r := range vec[:len(vec)-1] {
			if r {
				in++
			} else {
				out++
			}
		}
		return in, out, vec[len(vec)-1]
	}

	d := dropper{seen: map[string]*blockMark{}}
	defer d.closeAll()
	appendTo(dropBatch / 4)
	d.rescan(store)
	m := d.seen[blk]
	if m == nil {
		t.Fatalf("rescan did not open %s", blk)
	}
	t0 := m.at
	d.advise(m, t0.Add(dropEvery))
	if m.started != 0 || m.dropped != 0 {
		t.Fatalf("under dropBatch within dropLinger: started %d, dropped %d, want nothing", m.started, m.dropped)
	}

	appendTo(dropBatch + 100) // the block now ends 100 bytes into a page
	whole := wholePages(int64(dropBatch/4 + dropBatch + 100))
	d.advise(m, t0.Add(2*dropEvery))
	if m.started != whole || m.dropped != 0 {
		t.Fatalf("past dropBatch: started %d, dropped %d, want %d and 0", m.started, m.dropped, whole)
	}
	if in, out, _ := countIn(); out != 0 {
		t.Errorf("writeback started: %d pages out of the page cache (%d in), want none out yet", out, in)
	}

	d.advise(m, t0.Add(2*dropEvery+dropLinger)) // nothing appended: the linger drops what was started
	if m.dropped != whole {
		t.Fatalf("after dropLinger: dropped %d, want %d", m.dropped, whole)
	}
	if in, out, last := countIn(); in != 0 || !last {
		t.Errorf("after the drop: %d whole pages in the page cache (%d out), the last (partial) page in: %v; want 0 and true", in, out, last)
	}
	if int(m.dropped)%page != 0 {
		t.Errorf("dropped up to %d, not a page boundary", m.dropped)
	}

	// Compaction: a new file renamed over the block.
	tmp := blk + ".tmp"
	if err := os.WriteFile(tmp, bytes.Repeat([]byte("c"), 2*page), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, blk); err != nil {
		t.Fatal(err)
	}
	d.rescan(store)
	if n := d.seen[blk]; n == nil || n == m || n.dropped != 0 || n.started != 0 {
		t.Fatalf("after the block was replaced: %+v (was %+v), want a fresh mark", n, m)
	}
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
