package app

import (
	"context"

	"github.com/sipbus/sipbus/pkg/tmapi"
)

// UAC sends a new request through tm (its uac command: digest answers,
// forking, CANCEL on ctx's end) and returns the final response;
// provisional ones go to onProvisional (may be nil). See package tmapi
// for the request's fields.
func (a *App) UAC(ctx context.Context, req *tmapi.UAC, onProvisional func(*tmapi.Response)) (*tmapi.Response, error) {
	return (&tmapi.Client{NC: a.nc}).UAC(ctx, req, onProvisional)
}
