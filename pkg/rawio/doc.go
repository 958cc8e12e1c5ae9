// Package rawio reads and writes non-blocking sockets with raw system
// calls: the same read, write, sendto and recvmsg the standard library
// issues, without the Go runtime's syscall bookkeeping around them.
//
// Why: every system call a goroutine makes through package syscall
// (entersyscall) wakes the runtime's monitor thread, sysmon, when the
// process was idle a moment before, and sysmon then polls every 20 µs for
// a while before it sleeps again. A SIP process at light load goes idle
// between almost every two messages: measured with `sipbus up` at 300
// calls/s on 2 cores, sysmon's 5,500 sleeps a second were half of the
// process's context switches and 16 % of its CPU time (perf), more than
// the SIP parsing. A socket opened by package net is non-blocking: a
// read or write either completes at once or fails with EAGAIN, so it
// never holds the thread long, and the runtime's bookkeeping buys
// nothing. Here the call is raw, and EAGAIN waits on the network poller
// exactly as the standard library does (syscall.RawConn), deadlines
// included.
//
// What it costs: a raw call is not a preemption point, so a call that
// blocked would hold its P; only non-blocking sockets are ever passed
// here (package net opens every socket non-blocking). On other systems
// than Linux the functions are the standard library's.
package rawio
