package rediserr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverErr stands for an error reply from Redis (go-redis's redis.Error).
type serverErr string

func (e serverErr) Error() string { return string(e) }
func (serverErr) RedisError()     {}

// pastDeadline is a context whose deadline has passed while its Err is
// still nil: the instant between a connection's deadline and the context's
// timer.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

var (
	errNotFound    = errors.New("not found")
	errUnavailable = errors.New("unavailable")
	test           = Errors{Pkg: "test", NotFound: errNotFound, Unavailable: errUnavailable}
)

func mapErr(ctx context.Context, op string, err error) error { return test.Map(ctx, op, err) }

// Every failure go-redis reports lands in one class: store, location,
// subscriber and digest map their errors with Map.
func TestMap(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	bg := context.Background()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want []error // every one must match with errors.Is
		not  []error // none may match
	}{
		{"nil reply", bg, redis.Nil, []error{errNotFound}, []error{errUnavailable}},
		{"dial refused", bg, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, []error{errUnavailable}, []error{errNotFound}},
		{"connection reset", bg, fmt.Errorf("read: %w", syscall.ECONNRESET), []error{errUnavailable}, nil},
		{"eof", bg, io.EOF, []error{errUnavailable}, nil},
		{"client closed", bg, redis.ErrClosed, []error{errUnavailable}, nil},
		{"pool timeout", bg, redis.ErrPoolTimeout, []error{errUnavailable}, nil},
		{"deadline", bg, context.DeadlineExceeded, []error{errUnavailable, context.DeadlineExceeded}, nil},
		{"op deadline passed", expired, errors.New("i/o timeout"), []error{errUnavailable, context.DeadlineExceeded}, nil},
		{"net timeout at the deadline, context timer not yet fired", pastDeadline{bg}, os.ErrDeadlineExceeded, []error{errUnavailable, context.DeadlineExceeded}, nil},
		{"caller canceled", bg, context.Canceled, []error{context.Canceled}, []error{errUnavailable}},
		{"caller canceled, net error", canceled, errors.New("use of closed network connection"), []error{context.Canceled}, []error{errUnavailable}},
		{"loading", bg, serverErr("LOADING Redis is loading the dataset in memory"), []error{errUnavailable}, nil},
		{"cluster down", bg, serverErr("CLUSTERDOWN The cluster is down"), []error{errUnavailable}, nil},
		{"try again", bg, serverErr("TRYAGAIN Multiple keys request during rehashing of slot"), []error{errUnavailable}, nil},
		{"master down", bg, serverErr("MASTERDOWN Link with MASTER is down"), []error{errUnavailable}, nil},
		{"read only replica", bg, serverErr("READONLY You can't write against a read only replica."), []error{errUnavailable}, nil},
		{"busy script", bg, serverErr("BUSY Redis is busy running a script."), []error{errUnavailable}, nil},
		{"max clients", bg, serverErr("ERR max number of clients reached"), []error{errUnavailable}, nil},
		{"auth", bg, serverErr("NOAUTH Authentication required."), []error{errUnavailable}, nil},
		{"wrong type is a bug", bg, serverErr("WRONGTYPE Operation against a key holding the wrong kind of value"), nil, []error{errUnavailable, errNotFound}},
		{"script error is a bug", bg, serverErr("ERR user_script:1: Script attempted to access nonexistent global variable"), nil, []error{errUnavailable, errNotFound}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.ctx, "op", tc.err)
			if got == nil {
				t.Fatal("mapErr returned nil")
			}
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("mapErr(%v) = %v; does not match %v", tc.err, got, w)
				}
			}
			for _, n := range tc.not {
				if errors.Is(got, n) {
					t.Errorf("mapErr(%v) = %v; matches %v", tc.err, got, n)
				}
			}
		})
	}
	if mapErr(bg, "op", nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
	// Without a NotFound, redis.Nil is an answer the caller did not expect:
	// wrapped as it is.
	if err := (Errors{Pkg: "x", Unavailable: errUnavailable}).Map(bg, "op", redis.Nil); !errors.Is(err, redis.Nil) || errors.Is(err, errUnavailable) {
		t.Errorf("redis.Nil without NotFound: %v", err)
	}
}
