// Package regapi is the contract of the registrar's management commands,
// the heirs of SER's FIFO ul_show / ul_add / ul_rm / ul_dump and serctl's
// add / passwd / rm, for the sipbus CLI and any other client (the wire
// format is JSON, described by schemas/sipbus.registrar.*.v1.json: the
// request at the top level, the reply under #/$defs/response).
//
// Subjects (NATS request/reply, queue group QueueGroup: any registrar
// replica answers; nats.go/micro service ServiceName, so `sipbus ps` finds
// it):
//
//	sipbus.registrar.user.add     UserAddRequest    -> UserReply
//	sipbus.registrar.user.passwd  UserPasswdRequest -> UserReply
//	sipbus.registrar.user.set     UserSetRequest    -> UserReply
//	sipbus.registrar.user.rm      UserRemoveRequest -> Reply
//	sipbus.registrar.user.list    UserListRequest   -> UserListReply
//	sipbus.registrar.ul.show      ULShowRequest     -> ULShowReply
//	sipbus.registrar.ul.add       ULAddRequest      -> ULShowReply (bindings after the add)
//	sipbus.registrar.ul.rm        ULRemoveRequest   -> ULShowReply (bindings left)
//	sipbus.registrar.ul.dump      ULDumpRequest     -> ULDumpReply
//
// Replies carry a status like the FIFO server's: 200 done; 400 the request
// is wrong, the reason names the field and quotes the bad value (for
// example `aor: "sip:@x" is not a SIP URI: empty user part`; a password is
// never quoted); 404 not found; 409 already exists; 500 a server bug; 503
// the subscriber directory or the location service cannot answer now.
//
// The request types are aliases of the pkg/events command types, which
// package events maps from the command names (events.ByType). Passwords
// are never printed: UserAddRequest and UserPasswdRequest implement
// fmt.Stringer, fmt.GoStringer and slog.LogValuer without them.
package regapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/internal/natsrpc"
)

// Service, queue group and subjects.
const (
	ServiceName = "sipbus-registrar"
	QueueGroup  = "sipbus-registrar"

	SubjectUserAdd    = "sipbus.registrar.user.add"
	SubjectUserList   = "sipbus.registrar.user.list"
	SubjectUserRemove = "sipbus.registrar.user.rm"
	SubjectUserPasswd = "sipbus.registrar.user.passwd"
	SubjectUserSet    = "sipbus.registrar.user.set"
	SubjectULShow     = "sipbus.registrar.ul.show"
	SubjectULAdd      = "sipbus.registrar.ul.add"
	SubjectULRemove   = "sipbus.registrar.ul.rm"
	SubjectULDump     = "sipbus.registrar.ul.dump"
)

// Requests (schemas/sipbus.registrar.<user|ul>.<cmd>.v1.json, top level).
type (
	// UserAddRequest creates a subscriber in a local domain; the password
	// becomes its HA1 digests (realm = the AOR's domain).
	UserAddRequest = events.RegistrarUserAdd
	// UserPasswdRequest replaces a subscriber's password.
	UserPasswdRequest = events.RegistrarUserPasswd
	// UserSetRequest changes a subscriber's profile (nil fields stay).
	UserSetRequest = events.RegistrarUserSet
	// UserRemoveRequest removes a subscriber and its bindings.
	UserRemoveRequest = events.RegistrarUserRemove
	// UserListRequest asks for one page of subscribers after Cursor.
	UserListRequest = events.RegistrarUserList
	// ULShowRequest asks for the bindings of one AOR.
	ULShowRequest = events.RegistrarULShow
	// ULAddRequest binds Contact to AOR; Expires 0 is permanent, Q nil is 1.0.
	ULAddRequest = events.RegistrarULAdd
	// ULRemoveRequest removes the binding of Contact, or all when "".
	ULRemoveRequest = events.RegistrarULRemove
	// ULDumpRequest asks for one page of AORs with their bindings.
	ULDumpRequest = events.RegistrarULDump
)

// Reply is the status every reply carries: 200 ok; 400 bad input (the
// reason names the field and quotes the bad value); 404 not found; 409
// exists; 500 server error; 503 store unavailable.
type Reply struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	// Field names the request's field at fault when Status is 400.
	Field string `json:"field,omitempty"`
}

func (r *Reply) reply() *Reply { return r }

// User is a subscriber as the commands show it: never a password or HA1.
type User struct {
	AOR     string    `json:"aor"`
	Name    string    `json:"name,omitempty"`
	Email   string    `json:"email,omitempty"`
	Enabled bool      `json:"enabled"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// MissedCallEmail: a missed call is mailed (when Email is set).
	MissedCallEmail bool   `json:"missed_call_email"`
	TZ              string `json:"tz,omitempty"`    // IANA zone of notifications; "" = UTC
	Admin           bool   `json:"admin,omitempty"` // admin of the web page
}

// UserReply answers user add and user passwd.
type UserReply struct {
	Reply
	User *User `json:"user,omitempty"`
}

// UserListReply answers user list; Next is the cursor of the next page
// ("" after the last).
type UserListReply struct {
	Reply
	Users []User `json:"users"`
	Next  string `json:"next,omitempty"`
}

// Binding is one contact bound to an AOR.
type Binding struct {
	Contact   string    `json:"contact"`
	Q         float64   `json:"q"`
	Expires   int       `json:"expires"` // seconds left, rounded up; 0 = permanent
	Permanent bool      `json:"permanent"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	CallID    string    `json:"call_id,omitempty"`
	CSeq      uint32    `json:"cseq,omitempty"`
	Path      []string  `json:"path,omitempty"`
	Received  string    `json:"received,omitempty"` // "udp:ip:port", "tcp:<flow>" or "tcp:ip:port"
	Transport string    `json:"transport,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Edge      string    `json:"edge,omitempty"`
}

// AORBindings is an AOR (canonical "user@domain") with its live bindings,
// highest q first, then the most recently updated.
type AORBindings struct {
	AOR      string    `json:"aor"`
	Bindings []Binding `json:"bindings"`
}

// ULShowReply answers ul show, ul add and ul rm.
type ULShowReply struct {
	Reply
	AORBindings
}

// ULDumpReply answers ul dump; Next is the cursor of the next page ("" after
// the last).
type ULDumpReply struct {
	Reply
	AORs []AORBindings `json:"aors"`
	Next string        `json:"next,omitempty"`
}

// Error is a reply whose status is 300 or more, as an error.
type Error struct{ Reply }

func (e *Error) Error() string { return fmt.Sprintf("registrar: %d %s", e.Status, e.Reason) }

// ErrNoRegistrar means no registrar answered in time (none running, or none
// reachable); Client methods wrap it.
var ErrNoRegistrar = errors.New("regapi: no registrar answered")

// DefaultTimeout bounds a request when Client.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Client calls the registrar's commands over NATS. Every method returns
// the reply and, when its status is 300 or more, an *Error as well; when
// nobody answers, an error wrapping ErrNoRegistrar.
type Client struct {
	NC      *nats.Conn
	Timeout time.Duration // per request; default 5s
}

// UserAdd creates a subscriber.
func (c *Client) UserAdd(ctx context.Context, req UserAddRequest) (*UserReply, error) {
	return call(ctx, c, SubjectUserAdd, req, new(UserReply))
}

// UserPasswd replaces a subscriber's password.
func (c *Client) UserPasswd(ctx context.Context, req UserPasswdRequest) (*UserReply, error) {
	return call(ctx, c, SubjectUserPasswd, req, new(UserReply))
}

// UserSet changes a subscriber's profile.
func (c *Client) UserSet(ctx context.Context, req UserSetRequest) (*UserReply, error) {
	return call(ctx, c, SubjectUserSet, req, new(UserReply))
}

// UserRemove removes a subscriber and its bindings.
func (c *Client) UserRemove(ctx context.Context, req UserRemoveRequest) (*Reply, error) {
	return call(ctx, c, SubjectUserRemove, req, new(Reply))
}

// UserList returns one page of subscribers.
func (c *Client) UserList(ctx context.Context, req UserListRequest) (*UserListReply, error) {
	return call(ctx, c, SubjectUserList, req, new(UserListReply))
}

// ULShow returns the bindings of one AOR.
func (c *Client) ULShow(ctx context.Context, req ULShowRequest) (*ULShowReply, error) {
	return call(ctx, c, SubjectULShow, req, new(ULShowReply))
}

// ULAdd binds a contact and returns the AOR's bindings after the add.
func (c *Client) ULAdd(ctx context.Context, req ULAddRequest) (*ULShowReply, error) {
	return call(ctx, c, SubjectULAdd, req, new(ULShowReply))
}

// ULRemove removes one binding (or all) and returns the bindings left.
func (c *Client) ULRemove(ctx context.Context, req ULRemoveRequest) (*ULShowReply, error) {
	return call(ctx, c, SubjectULRemove, req, new(ULShowReply))
}

// ULDump returns one page of AORs with their bindings.
func (c *Client) ULDump(ctx context.Context, req ULDumpRequest) (*ULDumpReply, error) {
	return call(ctx, c, SubjectULDump, req, new(ULDumpReply))
}

// call sends req on subject and decodes the reply into rep.
func call[R interface{ reply() *Reply }](ctx context.Context, c *Client, subject string, req any, rep R) (R, error) {
	to := c.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	if err := natsrpc.Call(ctx, c.NC, to, subject, req, rep); err != nil {
		var zero R
		if errors.Is(err, natsrpc.ErrNoService) {
			return zero, fmt.Errorf("%w: %v", ErrNoRegistrar, err)
		}
		return zero, fmt.Errorf("regapi: %w", err)
	}
	if r := rep.reply(); r.Status >= 300 || r.Status < 200 {
		return rep, &Error{*r}
	}
	return rep, nil
}
