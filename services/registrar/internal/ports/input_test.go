package ports

import "testing"

// More lanes share the same queue rather than adding to it; a lane never
// queues fewer than 64.
func TestLaneDepth(t *testing.T) {
	for _, c := range []struct{ lanes, depth int }{
		{0, 1024}, {64, 1024}, {256, 256}, {1024, 64}, {4096, 64},
	} {
		if got := LaneDepth(c.lanes); got != c.depth {
			t.Errorf("LaneDepth(%d) = %d, want %d", c.lanes, got, c.depth)
		}
	}
}
