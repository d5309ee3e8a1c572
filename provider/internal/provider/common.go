package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

// clientFrom is the Configure step every resource and data source shares:
// the provider's client, or nil before the provider is configured (plan of
// a configuration whose provider settings are not known yet).
func clientFrom(data any, diags *diag.Diagnostics) *client.Client {
	if data == nil {
		return nil
	}
	c, ok := data.(*client.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *client.Client, got %T: a bug in the provider", data))
		return nil
	}
	return c
}

// apiError turns an API error into a diagnostic whose summary says what
// failed and whose detail is the API's own, with a hint for auth errors.
func apiError(diags *diag.Diagnostics, action string, err error) {
	detail := err.Error()
	var p *client.Problem
	if errors.As(err, &p) {
		switch {
		case errors.Is(err, client.ErrUnauthorized):
			detail += "\n\nThe API did not accept the provider's token: check the token setting or " + EnvToken +
				" (the environment's bootstrap admin token or a key with the admin scope; revoked and expired keys answer 401 too)."
		case errors.Is(err, client.ErrForbidden):
			detail += "\n\nThe provider's token is valid but lacks the scope this request needs (the API's detail names it): " +
				"the resources and calcgrid_queues need admin, calcgrid_task_types needs read."
		}
	}
	diags.AddError("calcgrid: "+action, detail)
}
