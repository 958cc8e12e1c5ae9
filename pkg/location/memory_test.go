package location_test

import (
	"testing"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/location/locationtest"
)

func TestMemoryConformance(t *testing.T) {
	locationtest.Run(t, func(t *testing.T) location.Store { return location.NewMemory() })
}
