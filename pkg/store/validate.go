package store

import (
	"fmt"
	"strings"
	"time"
)

// validKeys checks a (callKey, key) pair; the error wraps ErrInvalid.
func validKeys(callKey, key string) error {
	switch {
	case callKey == "":
		return fmt.Errorf("%w: empty callkey", ErrInvalid)
	case strings.ContainsAny(callKey, "{}"):
		return fmt.Errorf("%w: callkey %q contains '{' or '}' (it is the Redis hash tag)", ErrInvalid, callKey)
	case key == "":
		return fmt.Errorf("%w: empty transaction key (callkey %s)", ErrInvalid, callKey)
	}
	return nil
}

// validCreate checks the arguments of CreateOrGet.
func validCreate(tx *Tx, ttl time.Duration) error {
	if tx == nil {
		return fmt.Errorf("%w: nil transaction", ErrInvalid)
	}
	if err := validKeys(tx.CallKey, tx.Key); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: ttl %v for new transaction %s: must be > 0", ErrInvalid, ttl, tx.Key)
	}
	return nil
}

// validResponse checks the arguments of SetResponse.
func validResponse(callKey, key string, r Response) error {
	if err := validKeys(callKey, key); err != nil {
		return err
	}
	if r.Status < 100 || r.Status > 699 {
		return fmt.Errorf("%w: response status %d for transaction %s: must be 100..699", ErrInvalid, r.Status, key)
	}
	return nil
}

// validExpire checks the arguments of Expire.
func validExpire(callKey, key string, ttl time.Duration) error {
	if err := validKeys(callKey, key); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: ttl %v for transaction %s: must be >= 0", ErrInvalid, ttl, key)
	}
	return nil
}

// isFinal reports whether a status is a final response.
func isFinal(status int) bool { return status >= 200 }

// responseAllowed is the SetResponse rule shared by both engines: once a
// final response is stored, only the same final status may be stored again.
func responseAllowed(stored, status int) bool {
	if !isFinal(stored) {
		return true
	}
	return status == stored
}

// msTime returns t truncated to the millisecond precision that both engines
// store.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// cloneBytes copies b; nil and empty become nil (as in Redis, where an
// empty field reads back as no response).
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// cloneTx returns a copy of tx that shares no memory with it.
func cloneTx(tx *Tx) *Tx {
	c := *tx
	c.LastResponse = cloneBytes(tx.LastResponse)
	return &c
}
