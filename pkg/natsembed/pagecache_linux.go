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
// Config.KeepPageCache). Every tick it looks at the newest two message
// blocks of every stream (the one being written and the one sealed last;
// the directory is read again each rescanEvery ticks). Once a block has
// grown by dropBatch bytes since the last act on it, or by anything
// dropLinger later, it acts: it drops the range whose writeback it
// started at the act before (posix_fadvise DONTNEED, after
// sync_file_range has waited for what of it is still being written,
// usually nothing), and starts the writeback of what was appended since.
// Only whole pages: the one the block ends in is appended to next, and
// dropped it would be read back from disk before that write.
//
// Why this shape. The pages dropped go to the kernel's per-CPU free
// lists, and the file store's next writes take them from there, warm;
// pages freed in bulk merge into larger free blocks, which a host with
// free page reporting takes back, and the next write into them pays the
// host's fault again. So small batches, often. And never a page still
// dirty or under writeback: FADV_DONTNEED fails on it, and the kernel
// then drains the LRU caches of every CPU (lru_add_drain_all: work
// queued on each CPU and waited for) before it tries again. The first
// version dropped the whole block, from its first byte, a second after
// starting the writeback of the latest second: ~8 % of the CPU of a
// call at 300 calls/s. The writeback is not waited for at once either:
// a goroutine blocked in a system call holds its P until the runtime's
// monitor takes it back, up to 10 ms later when the process is quiet.
func dropWritten(storeDir string, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	d := dropper{seen: map[string]*blockMark{}}
	defer d.closeAll()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if n%rescanEvery == 0 {
				d.rescan(storeDir)
			}
			for _, m := range d.seen {
				d.advise(m, now)
			}
		}
	}
}

const (
	// dropBatch is how much a block grows before its pages are dropped:
	// 64 pages, what a CPU's free list holds warm many times over. At
	// 2,500 calls/s (30 MB/s) that is every tick; at 300 calls/s every
	// ~70 ms.
	dropBatch = 64 << 12
	// dropLinger is how long fewer than dropBatch bytes wait.
	dropLinger = time.Second
	// rescanEvery is how often, in ticks, the stream directories are read
	// again for new blocks.
	rescanEvery = 10
)

// blockMark is an open message block and how far its pages were dropped.
type blockMark struct {
	fd               int
	ino              uint64    // the file fd is open on: a compacted block is a new file under the old name
	dropped, started int64     // pages dropped up to; writeback started up to
	at               time.Time // of the latest act (or of the first look)
}

type dropper struct{ seen map[string]*blockMark }

// rescan finds the newest two blocks of every stream, opens those it did
// not have (or whose name is another file now: the file store compacts a
// block into a new file renamed over the old) and closes those that are
// no longer among them (sealed long ago, or removed by the retention).
func (d *dropper) rescan(storeDir string) {
	dirs, _ := filepath.Glob(filepath.Join(storeDir, "jetstream", "*", "streams", "*", "msgs"))
	live := make(map[string]bool, 2*len(dirs))
	for _, dir := range dirs {
		for _, f := range newestBlocks(dir, 2) {
			var st unix.Stat_t
			if unix.Stat(f, &st) != nil {
				continue
			}
			live[f] = true
			if m := d.seen[f]; m != nil {
				if m.ino == st.Ino {
					continue
				}
				unix.Close(m.fd)
			}
			fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil && unix.Fstat(fd, &st) != nil {
				unix.Close(fd)
				err = unix.EBADF
			}
			if err != nil {
				delete(d.seen, f)
				continue
			}
			d.seen[f] = &blockMark{fd: fd, ino: st.Ino, at: time.Now()}
		}
	}
	for f, m := range d.seen {
		if !live[f] {
			unix.Close(m.fd)
			delete(d.seen, f)
		}
	}
}

func (d *dropper) advise(m *blockMark, now time.Time) {
	var st unix.Stat_t
	if unix.Fstat(m.fd, &st) != nil {
		return
	}
	end := wholePages(st.Size)
	// dropped <= started <= end: nothing new and nothing started, or
	// under a batch within the linger.
	if end == m.dropped || end-m.started < dropBatch && now.Sub(m.at) < dropLinger {
		return
	}
	if n := m.started - m.dropped; n > 0 {
		// Started an act ago: written by now, or this waits for the rest.
		if unix.SyncFileRange(m.fd, m.dropped, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE) != nil {
			return
		}
		_ = unix.Fadvise(m.fd, m.dropped, n, unix.FADV_DONTNEED)
		m.dropped = m.started
	}
	if n := end - m.started; n > 0 {
		_ = unix.SyncFileRange(m.fd, m.started, n, unix.SYNC_FILE_RANGE_WRITE)
		m.started = end
	}
	m.at = now
}

func (d *dropper) closeAll() {
	for f, m := range d.seen {
		unix.Close(m.fd)
		delete(d.seen, f)
	}
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
