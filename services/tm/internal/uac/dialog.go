package uac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// Dialog is a dialog a uac created (RFC 3261 §12.1.2), as stored.
type Dialog struct {
	ID        string   `json:"id"`
	CallID    string   `json:"call_id"`
	LocalTag  string   `json:"ltag"`
	RemoteTag string   `json:"rtag"`
	Local     string   `json:"local"`  // From of our requests, with LocalTag
	Remote    string   `json:"remote"` // To of our requests, with RemoteTag
	LocalSeq  uint32   `json:"lseq"`
	InviteSeq uint32   `json:"iseq,omitempty"` // CSeq of the INVITE, for the ACK
	Target    string   `json:"target"`         // remote target (Contact of the 2xx)
	Routes    []string `json:"routes,omitempty"`
	// Dest is where requests go when the route set is empty and the
	// target was reached at a NAT address ("udp:ip:port", a flow).
	Dest    string `json:"dest,omitempty"`
	Contact string `json:"contact,omitempty"` // our Contact
	Owner   string `json:"owner,omitempty"`
	Method  string `json:"method"` // what created it
	ACKApp  bool   `json:"ack_app,omitempty"`
	// ACKRaw is the application's ACK of the INVITE's 2xx (ack "app"),
	// sent again on a retransmitted 2xx by the replica that ran the INVITE.
	ACKRaw  string `json:"ack_raw,omitempty"`
	ACKDest string `json:"ack_dest,omitempty"`
}

// DialogTTL bounds a dialog record (a BYE removes it first).
const DialogTTL = 12 * time.Hour

// DialogID names the dialog of callID with our tag and theirs:
// "<callkey>-<16 hex>"; the call key locates the record.
func DialogID(callID, localTag, remoteTag string) string {
	h := fnv.New64a()
	h.Write([]byte(callID))
	h.Write([]byte{0})
	h.Write([]byte(localTag))
	h.Write([]byte{0})
	h.Write([]byte(remoteTag))
	return fmt.Sprintf("%s-%016x", sipmsg.CallKey(callID), h.Sum64())
}

func dialogKey(id string) (callKey, key string) {
	ck, _, _ := strings.Cut(id, "-")
	return ck, "uacdlg:" + id
}

// Store is what dialogs need of the state store.
type Store interface {
	LoadRecord(ctx context.Context, callKey, key string) (store.Record, error)
	Commit(ctx context.Context, ops []store.Op) ([]store.OpResult, error)
}

// Dialogs reads and writes dialog records.
type Dialogs struct{ S Store }

// ErrNoDialog means the dialog does not exist (ended, expired, never made).
var ErrNoDialog = errors.New("uac: no such dialog")

// Load reads a dialog and its version.
func (d Dialogs) Load(ctx context.Context, id string) (*Dialog, int64, error) {
	ck, key := dialogKey(id)
	rec, err := d.S.LoadRecord(ctx, ck, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, ErrNoDialog
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load dialog %s: %w", id, err)
	}
	dl := new(Dialog)
	if err := json.Unmarshal(rec.Value, dl); err != nil {
		return nil, 0, fmt.Errorf("decode dialog %s: %w", id, err)
	}
	return dl, rec.Version, nil
}

// Save writes dl if the stored version is still version (0: it must not
// exist); ok is false on a conflict.
func (d Dialogs) Save(ctx context.Context, dl *Dialog, version int64) (ok bool, err error) {
	ck, key := dialogKey(dl.ID)
	b, _ := json.Marshal(dl)
	res, err := d.S.Commit(ctx, []store.Op{{Kind: store.OpSaveRecord, CallKey: ck, Key: key, Value: b, Version: version, TTL: DialogTTL}})
	if err != nil {
		return false, fmt.Errorf("save dialog %s: %w", dl.ID, err)
	}
	if res[0].Err != nil {
		return false, fmt.Errorf("save dialog %s: %w", dl.ID, res[0].Err)
	}
	return res[0].OK, nil
}

// Delete removes a dialog.
func (d Dialogs) Delete(ctx context.Context, id string) error {
	ck, key := dialogKey(id)
	res, err := d.S.Commit(ctx, []store.Op{{Kind: store.OpDeleteRecord, CallKey: ck, Key: key}})
	if err == nil && len(res) > 0 && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		return fmt.Errorf("delete dialog %s: %w", id, err)
	}
	return nil
}

// NextSeq takes the dialog's next local CSeq number atomically (another
// replica may send in the same dialog): it returns the dialog as it was
// saved with LocalSeq incremented.
func (d Dialogs) NextSeq(ctx context.Context, id string) (*Dialog, error) {
	for range 8 {
		dl, v, err := d.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		dl.LocalSeq++
		ok, err := d.Save(ctx, dl, v)
		if err != nil {
			return nil, err
		}
		if ok {
			return dl, nil
		}
	}
	return nil, fmt.Errorf("dialog %s: changed concurrently too often", id)
}

// newDialog is the dialog a 2xx to req creates (RFC 3261 §12.1.2: route
// set = Record-Route reversed, remote target = the 2xx's Contact).
func newDialog(r *Req, resp *sipmsg.Msg, localTag, owner, dest string, ackApp bool) (*Dialog, error) {
	to, err := resp.To()
	if err != nil {
		return nil, err
	}
	rtag := to.Tag()
	if rtag == "" {
		return nil, errors.New("2xx without a To tag")
	}
	dl := &Dialog{
		ID: DialogID(r.CallID, localTag, rtag), CallID: r.CallID, LocalTag: localTag, RemoteTag: rtag,
		Local: r.From, Remote: withTag(to, rtag), LocalSeq: r.CSeq, Target: r.RURI,
		Contact: r.Contact, Owner: owner, Method: r.Method, ACKApp: ackApp, Dest: dest,
	}
	if r.Method == "INVITE" {
		dl.InviteSeq = r.CSeq
	}
	if cs, err := resp.Contacts(); err == nil && len(cs) > 0 && !cs[0].Star {
		dl.Target = cs[0].URI.String()
	}
	var rr []string
	for _, v := range resp.Values(sipmsg.HRecordRoute) {
		rr = append(rr, sipmsg.SplitList(v)...)
	}
	for i := len(rr) - 1; i >= 0; i-- {
		dl.Routes = append(dl.Routes, rr[i])
	}
	if len(dl.Routes) > 0 {
		dl.Dest = ""
	}
	return dl, nil
}

// inDialog is the request of method in dl (RFC 3261 §12.2.1.1): the
// remote target as Request-URI, the route set as Route (loose routing;
// a strict router is not supported), the dialog's tags, and cseq.
func inDialog(dl *Dialog, method string, cseq uint32) *Req {
	return &Req{Method: method, RURI: dl.Target, From: dl.Local, To: dl.Remote, CallID: dl.CallID,
		CSeq: cseq, Routes: dl.Routes, Contact: dl.Contact}
}
