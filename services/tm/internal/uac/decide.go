package uac

// Branch is one client transaction of a uac: the request to one target
// (several when an AOR of ours is forked, a new one after a 401/407).
type Branch struct {
	Prov       bool // a provisional arrived (CANCEL may be sent, §9.1)
	Final      int  // its final status (a local 408 on timeout), 0 while pending
	CancelSent bool
	Authed     bool // this branch already carries credentials
	Replaced   bool // a new branch with credentials took over
}

// Run is the state of a uac across its branches.
type Run struct {
	Invite     bool
	AckByTM    bool
	CanAuth    bool
	Branches   []*Branch
	Winner     int // branch of the 2xx that won, -1
	Final      int // the final streamed to the application, 0 before
	Cancelling bool
}

// NewRun starts a run with n branches.
func NewRun(invite, ackByTM, canAuth bool, n int) *Run {
	r := &Run{Invite: invite, AckByTM: ackByTM, CanAuth: canAuth, Winner: -1}
	for range n {
		r.Branches = append(r.Branches, &Branch{})
	}
	return r
}

// Decision is what the shell does with one response (or timeout) of a
// branch.
type Decision struct {
	Stream      bool  // stream it to the application as a provisional
	Retry       bool  // send the request again on a new branch, with credentials
	Final       bool  // stream the final response of branch FinalBranch
	FinalBranch int   // which branch's response is the final
	Dialog      bool  // the final 2xx creates a dialog
	ACK         bool  // ACK this 2xx (RFC 3261 §13.2.2.4): tm's ACK, or on a retransmission the ACK sent so far
	BYE         bool  // a 2xx that lost: ACK it, then BYE its dialog
	Cancel      []int // branches to CANCEL now (RFC 3261 §9.1)
}

// OnResponse decides on a response with status (408 for a Timer B/F
// timeout) that branch i's client transaction passed up.
func (r *Run) OnResponse(i, status int) Decision {
	var d Decision
	b := r.Branches[i]
	switch {
	case status < 200:
		b.Prov = true
		d.Stream = r.Final == 0
		if r.Cancelling && !b.CancelSent && b.Final == 0 && r.Invite {
			b.CancelSent = true
			d.Cancel = []int{i}
		}
	case status < 300:
		if b.Final == 0 {
			b.Final = status
		}
		switch {
		case r.Winner == i: // a retransmitted 2xx (RFC 6026 Accepted): ACK again (tm's, or the application's once sent)
			d.ACK = r.Invite
		case r.Winner >= 0 || r.Final != 0: // another branch won first
			d.BYE = r.Invite
		default:
			r.Winner, r.Final = i, status
			d.Final, d.FinalBranch, d.Dialog = true, i, true
			d.ACK = r.Invite && r.AckByTM
			d.Cancel = r.cancelPending()
		}
	default:
		if b.Final != 0 {
			return d // retransmission: the transaction ACKs it
		}
		b.Final = status
		if (status == 401 || status == 407) && r.CanAuth && !b.Authed && r.Final == 0 && !r.Cancelling {
			b.Replaced = true
			d.Retry = true
			return d
		}
		if r.Final == 0 {
			if best, done := r.best(); done {
				r.Final = r.Branches[best].Final
				d.Final, d.FinalBranch = true, best
			}
		}
	}
	return d
}

// AddBranch appends the branch a Retry sends (it carries credentials).
func (r *Run) AddBranch() int {
	r.Branches = append(r.Branches, &Branch{Authed: true})
	return len(r.Branches) - 1
}

// Cancel is the application's cancel or the uac's ring timeout: CANCEL
// every INVITE branch that had a provisional; the others get theirs when
// their first provisional arrives (RFC 3261 §9.1).
func (r *Run) Cancel() []int {
	if !r.Invite || r.Final != 0 || r.Cancelling {
		return nil
	}
	r.Cancelling = true
	return r.cancelPending()
}

func (r *Run) cancelPending() []int {
	r.Cancelling = true
	var out []int
	for i, b := range r.Branches {
		if b.Final == 0 && b.Prov && !b.CancelSent && !b.Replaced {
			b.CancelSent = true
			out = append(out, i)
		}
	}
	return out
}

// best picks the final of a uac whose branches all failed (RFC 3261
// §16.7 step 6: a 6xx first, else the lowest class); done is false while a
// branch is pending.
func (r *Run) best() (best int, done bool) {
	best = -1
	rank := func(s int) int {
		if s >= 600 {
			return 0
		}
		return s / 100
	}
	for i, b := range r.Branches {
		if b.Replaced {
			continue
		}
		if b.Final == 0 {
			return -1, false
		}
		if best < 0 || rank(b.Final) < rank(r.Branches[best].Final) {
			best = i
		}
	}
	return best, best >= 0
}
