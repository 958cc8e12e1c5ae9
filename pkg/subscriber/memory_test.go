package subscriber_test

import (
	"testing"

	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/subscriber/subscribertest"
)

func TestMemoryConformance(t *testing.T) {
	subscribertest.Run(t, func(t *testing.T) subscriber.Directory {
		return subscriber.NewMemory()
	})
}
