package location_test

import (
	"errors"

	"github.com/sipbus/sipbus/pkg/location/locationtest"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

var locationT0 = locationtest.T0
