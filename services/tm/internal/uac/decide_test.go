package uac

import (
	"reflect"
	"testing"
)

// TestRunDecisions walks a uac through its branches' responses; each step
// names the rule it checks.
func TestRunDecisions(t *testing.T) {
	type step struct {
		branch, status int // status 0: the application cancels
		want           Decision
	}
	tests := []struct {
		name     string
		invite   bool
		auth     bool
		branches int
		steps    []step
		final    int
	}{
		{"non-INVITE 200 (RFC 3261 §8.1.3)", false, false, 1, []step{
			{0, 100, Decision{Stream: true}},
			{0, 200, Decision{Final: true, Dialog: true}},
		}, 200},
		{"INVITE 2xx is ACKed by tm (§13.2.2.4), again on a retransmission", true, false, 1, []step{
			{0, 180, Decision{Stream: true}},
			{0, 200, Decision{Final: true, Dialog: true, ACK: true}},
			{0, 200, Decision{ACK: true}},
		}, 200},
		{"401 with credentials: one retry on a new branch (§22.2)", false, true, 1, []step{
			{0, 401, Decision{Retry: true}},
		}, 0},
		{"fork: first 2xx wins, the other ringing branch is CANCELled (§16.7, §9.1)", true, false, 2, []step{
			{0, 180, Decision{Stream: true}},
			{1, 180, Decision{Stream: true}},
			{1, 200, Decision{Final: true, FinalBranch: 1, Dialog: true, ACK: true, Cancel: []int{0}}},
			{0, 200, Decision{BYE: true}},
		}, 200},
		{"fork: a branch without provisional gets its CANCEL at its first 1xx", true, false, 2, []step{
			{0, 200, Decision{Final: true, Dialog: true, ACK: true}},
			{1, 183, Decision{Cancel: []int{1}}},
			{1, 487, Decision{}},
		}, 200},
		{"fork: all fail, 6xx wins over 4xx (§16.7 step 6)", true, false, 3, []step{
			{0, 486, Decision{}},
			{1, 603, Decision{}},
			{2, 404, Decision{Final: true, FinalBranch: 1}},
		}, 603},
		{"fork: lowest class when no 6xx", true, false, 2, []step{
			{0, 503, Decision{}},
			{1, 486, Decision{Final: true, FinalBranch: 1}},
		}, 486},
		{"cancel: CANCEL the ringing branch, the 487 is the final", true, false, 1, []step{
			{0, 180, Decision{Stream: true}},
			{0, 0, Decision{Cancel: []int{0}}},
			{0, 487, Decision{Final: true}},
		}, 487},
		{"timeout 408 is a branch final (Timer B)", true, false, 1, []step{
			{0, 408, Decision{Final: true}},
		}, 408},
		{"401 without credentials is the final", false, false, 1, []step{
			{0, 401, Decision{Final: true}},
		}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRun(tc.invite, true, tc.auth, tc.branches)
			for i, s := range tc.steps {
				var got Decision
				if s.status == 0 {
					got = Decision{Cancel: r.Cancel()}
				} else {
					got = r.OnResponse(s.branch, s.status)
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Errorf("step %d (%d on branch %d): %+v, want %+v", i, s.status, s.branch, got, s.want)
				}
			}
			if r.Final != tc.final {
				t.Errorf("final %d, want %d", r.Final, tc.final)
			}
		})
	}
}

// TestAuthRetryThenAnswer: the retry's branch carries credentials; a
// second 401 on it is the final (one challenge answered per request).
func TestAuthRetryThenAnswer(t *testing.T) {
	r := NewRun(false, true, true, 1)
	if d := r.OnResponse(0, 407); !d.Retry {
		t.Fatalf("first 407: %+v", d)
	}
	i := r.AddBranch()
	if d := r.OnResponse(i, 407); !d.Final || d.FinalBranch != i || d.Retry {
		t.Fatalf("second 407: %+v", d)
	}
	r = NewRun(false, true, true, 1)
	r.OnResponse(0, 401)
	i = r.AddBranch()
	if d := r.OnResponse(i, 200); !d.Final || d.FinalBranch != i {
		t.Fatalf("200 after credentials: %+v", d)
	}
}
