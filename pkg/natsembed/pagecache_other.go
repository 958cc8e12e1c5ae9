//go:build !linux

package natsembed

import "time"

// dropWritten is Linux only (posix_fadvise, sync_file_range): elsewhere
// the log's pages stay in the page cache, as the kernel decides.
func dropWritten(string, time.Duration, <-chan struct{}) {}
