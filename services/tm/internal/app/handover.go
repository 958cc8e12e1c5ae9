package app

import "context"

// handOver gives the transaction to an application (the SEAS idea).
func (e *Engine) handOver(ctx context.Context, in *Inbound, app string) error {
	return e.reply(ctx, in, 501, "Not Implemented: app "+app, nil)
}
