package edgeapi

import "testing"

func TestSubjects(t *testing.T) {
	if FlowEdge("edge-a~12") != "edge-a" || FlowEdge("noflow") != "noflow" {
		t.Fatal("FlowEdge")
	}
	if EdgeSendSubject("e1") != "sipbus.edge.e1.send" || EdgeStatsSubject("e1") != "sipbus.edge.e1.stats" {
		t.Fatal("subjects")
	}
}
