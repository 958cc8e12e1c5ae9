package app

import (
	"testing"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

func TestFlowParams(t *testing.T) {
	for _, tc := range []struct {
		name                string
		inTransport, inFlow string
		out                 hop
		want                string
	}{
		{"UDP to UDP: nothing", "udp", "", hop{Transport: "udp", Dest: "192.0.2.1:5060"}, ""},
		{"UDP caller, callee on a flow", "udp", "", hop{Transport: "tcp", Dest: "10.0.0.9:5060", Flow: "a~7"}, ";sbfd=tcp~a~7"},
		{"caller on a flow, UDP callee", "tcp", "b~3", hop{Transport: "udp", Dest: "192.0.2.1:5060"}, ";sbfu=tcp~b~3"},
		{"both on flows", "tcp", "b~3", hop{Transport: "tcp", Flow: "a~7"}, ";sbfu=tcp~b~3;sbfd=tcp~a~7"},
		{"a flow id outside the grammar is not named", "tcp", "b~3;evil=1", hop{Transport: "tcp", Flow: "a.b~7"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flowParams(tc.inTransport, tc.inFlow, tc.out); got != tc.want {
				t.Errorf("flowParams = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestInDialogFlow: RFC 5626 §5.3's rule with the two ends of a dialog.
func TestInDialogFlow(t *testing.T) {
	for _, tc := range []struct {
		name, route, arrived, want string
	}{
		{"no token: the Request-URI", "sip:192.0.2.10:5060;lr", "", ""},
		{"UDP caller to the callee's flow", "sip:192.0.2.10:5060;lr;sbfd=tcp~a~7", "", "tcp:a~7"},
		{"the callee on its flow: the Request-URI", "sip:192.0.2.10:5060;lr;sbfd=tcp~a~7", "a~7", ""},
		{"the callee on a new connection: its flow is still the one named", "sip:192.0.2.10:5060;lr;sbfd=tcp~a~7", "a~9", "tcp:a~7"},
		{"UDP callee to the caller's flow", "sip:192.0.2.10:5060;lr;sbfu=tcp~b~3", "", "tcp:b~3"},
		{"the caller on its flow: the Request-URI", "sip:192.0.2.10:5060;lr;sbfu=tcp~b~3", "b~3", ""},
		{"both on flows, from the caller", "sip:192.0.2.10:5060;lr;sbfu=tcp~b~3;sbfd=tcp~a~7", "b~3", "tcp:a~7"},
		{"both on flows, from the callee", "sip:192.0.2.10:5060;lr;sbfu=tcp~b~3;sbfd=tcp~a~7", "a~7", "tcp:b~3"},
		{"both on flows, from elsewhere: the Request-URI", "sip:192.0.2.10:5060;lr;sbfu=tcp~b~3;sbfd=tcp~a~7", "", ""},
		{"a forged token outside the grammar is ignored", "sip:192.0.2.10:5060;lr;sbfd=tcp~a.b*~7", "", ""},
		{"another transport is ignored", "sip:192.0.2.10:5060;lr;sbfd=udp~a~7", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := sipmsg.ParseURI(tc.route)
			if err != nil {
				t.Fatal(err)
			}
			if got := inDialogFlow(u, tc.arrived); got != tc.want {
				t.Errorf("inDialogFlow = %q, want %q", got, tc.want)
			}
		})
	}
}
