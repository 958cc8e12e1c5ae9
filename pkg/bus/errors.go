package bus

import "errors"

// ErrBadEvent is returned by Decode for a message that is not a valid CloudEvent.
var ErrBadEvent = errors.New("bus: not a valid CloudEvent")

// ErrBadName is returned by Subscribe for a consumer name outside [A-Za-z0-9_-]+.
var ErrBadName = errors.New("bus: invalid consumer name")

// Permanent marks err as permanent: the event is terminated and copied to the
// dead-letter subject instead of being redelivered. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	return isSafe(s)
}
