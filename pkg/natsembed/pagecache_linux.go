package natsembed

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dropWritten keeps the log's page cache from growing with the log (see
// Config.DropPageCache). Each tick, for the newest two message blocks of
// every stream (the one being written and the one sealed last), it drops
// the whole pages whose writeback it started at the tick before (the one
// the block ends in is appended to next: dropped, it would be read back
// from disk before that write), and starts the
// writeback of what was appended since. Both calls are advice: a page
// still dirty or under writeback stays and is dropped a tick later;
// nothing waits for the disk.
func dropWritten(storeDir string, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	d := dropper{seen: map[string]blockMark{}}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.tick(storeDir)
		}
	}
}

// blockMark is how far a block's pages were dropped and how far its
// writeback was started.
type blockMark struct{ dropped, started int64 }

type dropper struct{ seen map[string]blockMark }

func (d *dropper) tick(storeDir string) {
	dirs, _ := filepath.Glob(filepath.Join(storeDir, "jetstream", "*", "streams", "*", "msgs"))
	live := make(map[string]bool, 2*len(dirs))
	for _, dir := range dirs {
		for _, f := range newestBlocks(dir, 2) {
			live[f] = true
			d.advise(f)
		}
	}
	for f := range d.seen {
		if !live[f] {
			delete(d.seen, f) // sealed long ago, or removed by the retention
		}
	}
}

func (d *dropper) advise(f string) {
	fi, err := os.Stat(f)
	if err != nil {
		return
	}
	m := d.seen[f]
	if fi.Size() == m.started && m.dropped == wholePages(m.started) {
		return
	}
	fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	// Only whole pages: the one the block ends in is appended to next,
	// and dropped it would be read back from disk before that write.
	if end := wholePages(m.started); end > m.dropped {
		_ = unix.Fadvise(fd, 0, end, unix.FADV_DONTNEED)
		m.dropped = end
	}
	if size := fi.Size(); size > m.started {
		_ = unix.SyncFileRange(fd, m.started, size-m.started, unix.SYNC_FILE_RANGE_WRITE)
		m.started = size
	}
	d.seen[f] = m
}

// newestBlocks returns the paths of the n message blocks with the highest
// index in dir (the file store names them <index>.blk).
func newestBlocks(dir string, n int) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var idx []int
	for _, e := range ents {
		if num, ok := strings.CutSuffix(e.Name(), ".blk"); ok {
			if i, err := strconv.Atoi(num); err == nil {
				idx = append(idx, i)
			}
		}
	}
	slices.Sort(idx)
	out := make([]string, 0, n)
	for _, i := range idx[max(len(idx)-n, 0):] {
		out = append(out, filepath.Join(dir, strconv.Itoa(i)+".blk"))
	}
	return out
}

// wholePages is n rounded down to a page boundary.
func wholePages(n int64) int64 { return n &^ int64(os.Getpagesize()-1) }
