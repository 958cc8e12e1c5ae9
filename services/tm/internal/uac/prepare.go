package uac

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// prepare builds the request of each branch and where it goes.
func (r *run) prepare(ctx context.Context) (reqs []*Req, dests []string, targets []string, err error) {
	q := r.req
	if q.DialogID != "" {
		var dl *Dialog
		if q.Method == "ACK" {
			dl, _, err = r.rn.d.Dialogs.Load(ctx, q.DialogID)
		} else {
			dl, err = r.rn.d.Dialogs.NextSeq(ctx, q.DialogID)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		r.dl = dl
		seq := dl.LocalSeq
		if q.Method == "ACK" {
			seq = dl.InviteSeq
		}
		rq := inDialog(dl, q.Method, seq)
		if q.Method == "ACK" || q.Method == "BYE" {
			rq.Contact = ""
		}
		r.fill(rq)
		dest, err := r.hopOf(ctx, dl)
		if err != nil {
			return nil, nil, nil, err
		}
		r.req.CallID = dl.CallID
		return []*Req{rq}, []string{dest}, []string{dl.Target}, nil
	}
	ruri, _ := sipmsg.ParseURI(q.RequestURI)
	from := q.From
	if from == "" {
		from = "<sip:sipbus@" + r.domain() + ">"
	}
	fna, _ := sipmsg.ParseNameAddr(from)
	ftag := q.FromTag
	if ftag == "" {
		ftag = fna.Tag()
	}
	if ftag == "" {
		ftag = sipmsg.NewTag()
	}
	to := q.To
	if to == "" {
		to = "<" + ruri.String() + ">"
	}
	tna, _ := sipmsg.ParseNameAddr(to)
	if q.CallID == "" {
		q.CallID = sipmsg.NewTag() + sipmsg.NewTag() + "@sipbus"
	}
	cseq := q.CSeq
	if cseq == 0 {
		cseq = 1
	}
	contact := ""
	if q.Contact != "" {
		na, _ := sipmsg.ParseNameAddr(strings.TrimSpace(q.Contact)) // validated
		contact = na.String()
	}
	if contact == "" && createsDialog(q.Method) {
		contact = "<sip:" + app.UACContactUser + "@" + r.rn.cfg.Advertise + ">"
	}
	base := Req{Method: q.Method, RURI: ruri.String(), From: withTag(fna, ftag), To: withTag(tna, q.ToTag),
		CallID: q.CallID, CSeq: cseq, Contact: contact}
	r.fill(&base)
	if q.NextHop != "" {
		dest, err := r.resolve(ctx, "next_hop", q.NextHop)
		if err != nil {
			return nil, nil, nil, err
		}
		if u, _ := sipmsg.ParseURI(q.NextHop); u.Params.Has("lr") {
			base.Routes = append(base.Routes, "<"+u.String()+">") // a loose router: a Route to it
		} // else a plain outbound proxy address: send there, no Route
		return []*Req{&base}, []string{dest}, []string{q.NextHop}, nil
	}
	if r.localDomain(ruri.Host, ruri.Port) && ruri.User != "" && r.rn.d.Locate != nil {
		ts, known, err := r.rn.d.Locate.Lookup(ctx, ruri.User+"@"+ruri.Host)
		switch {
		case err != nil:
			return nil, nil, nil, &localError{503, "Service Unavailable: location lookup failed"}
		case !known:
			return nil, nil, nil, &localError{404, "Not Found"}
		case len(ts) == 0:
			return nil, nil, nil, &localError{480, "Temporarily Unavailable"}
		}
		for _, t := range ts {
			rq := base
			rq.RURI = t.URI
			rq.Routes = append([]string(nil), t.Path...)
			var dest string
			switch {
			case t.Received != "":
				dest = t.Received
			case len(t.Path) > 0:
				na, err := sipmsg.ParseNameAddr(t.Path[0])
				if err != nil {
					continue
				}
				dest, err = r.resolve(ctx, "request_uri", na.URI.String())
				if err != nil {
					continue
				}
			default:
				dest, err = r.resolve(ctx, "request_uri", t.URI)
				if err != nil {
					continue
				}
			}
			reqs, dests, targets = append(reqs, &rq), append(dests, dest), append(targets, t.URI)
		}
		if len(reqs) == 0 {
			return nil, nil, nil, &localError{480, "Temporarily Unavailable: no contact reachable"}
		}
		return reqs, dests, targets, nil
	}
	dest, err := r.resolve(ctx, "request_uri", base.RURI)
	if err != nil {
		return nil, nil, nil, err
	}
	return []*Req{&base}, []string{dest}, []string{base.RURI}, nil
}

// fill copies the command's headers and body.
func (r *run) fill(rq *Req) {
	rq.Headers = r.req.Headers
	rq.Body, rq.CType = r.req.Body, r.req.ContentType
	rq.Agent = r.rn.cfg.Agent
}

func (r *run) domain() string {
	if len(r.rn.cfg.Domains) > 0 {
		return r.rn.cfg.Domains[0]
	}
	return r.rn.cfg.Advertise
}

// localDomain reports an AOR of ours: a host among tm's domains, with no
// port or tm's own (sip:bob@127.0.0.1:5070 is a phone, not an AOR).
func (r *run) localDomain(host string, port int) bool {
	host = strings.ToLower(host)
	if port != 0 {
		if _, p, err := net.SplitHostPort(r.rn.cfg.Advertise); err != nil || p != strconv.Itoa(port) {
			return false
		}
	}
	for _, d := range r.rn.cfg.Domains {
		if host == d {
			return true
		}
	}
	return false
}

// hopOf is where the next request of a dialog goes.
func (r *run) hopOf(ctx context.Context, dl *Dialog) (string, error) {
	if len(dl.Routes) > 0 {
		na, err := sipmsg.ParseNameAddr(dl.Routes[0])
		if err != nil {
			return "", fmt.Errorf("dialog route %q: %w", dl.Routes[0], err)
		}
		return r.resolve(ctx, "dialog_id", na.URI.String())
	}
	if dl.Dest != "" {
		return dl.Dest, nil
	}
	return r.resolve(ctx, "dialog_id", dl.Target)
}

// resolve turns a URI into a sipdest ("udp:ip:port").
func (r *run) resolve(ctx context.Context, field, uri string) (string, error) {
	u, err := sipmsg.ParseURI(uri)
	if err != nil {
		return "", bad(field, "%s: %v", quote(uri), err)
	}
	q, err := sipdns.QueryFor(u)
	if err != nil {
		return "", bad(field, "%s: %v", quote(uri), err)
	}
	var ts []sipdns.Target
	if r.rn.d.DNS != nil {
		ts, err = r.rn.d.DNS.Resolve(ctx, q)
	} else {
		err = sipdns.ErrNoServers
	}
	if err != nil || len(ts) == 0 {
		if errors.Is(err, sipdns.ErrTimeout) {
			return "", &localError{503, "DNS: timeout resolving " + sipdns.Safe(q.Host)}
		}
		return "", &localError{502, "DNS: no such domain " + sipdns.Safe(q.Host)}
	}
	return ts[0].String(), nil
}

// newBranch is a fresh uac branch (BranchPrefix + 22 random characters).
func newBranch() string { return BranchPrefix + sipmsg.NewBranch()[len(sipmsg.MagicCookie):] }

// sentBy is the Via sent-by of a request leaving over transport tr.
func (r *run) sentBy(tr string) string {
	if a := r.rn.cfg.Listeners[tr]; a != "" {
		return a
	}
	return r.rn.cfg.Advertise
}

func transportOf(dest string) string {
	d, err := events.ParseDest(dest)
	if err != nil {
		return "udp"
	}
	return strings.ToLower(d.Transport)
}
