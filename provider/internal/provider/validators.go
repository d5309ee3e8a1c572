package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

type validatorString = validator.String

// Scopes are the permissions a key can carry (the contract's list).
func Scopes() []string { return []string{"submit", "read", "cancel", "admin"} }

// QueueNames are calcgrid's queues, highest priority first
// (app/internal/tasks.Queues; the provider module cannot import the app's
// internal packages; TestAccDataSources checks them against a live API).
func QueueNames() []string { return []string{"high", "medium", "low"} }

// namePattern is what the API accepts for tenant and key names.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// oneOf validates a string against a closed list and names the list.
type oneOf struct {
	what    string // "scope", "queue name", "priority"
	allowed []string
}

func (v oneOf) Description(context.Context) string {
	return fmt.Sprintf("a %s: one of %s", v.what, strings.Join(v.allowed, ", "))
}
func (v oneOf) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v oneOf) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if s := req.ConfigValue.ValueString(); !slices.Contains(v.allowed, s) {
		resp.Diagnostics.AddAttributeError(req.Path, "Unknown "+v.what,
			fmt.Sprintf("%q is not a %s calcgrid knows: use one of %s.", s, v.what, strings.Join(v.allowed, ", ")))
	}
}

// nameValidator checks tenant and key names against the API's pattern.
type nameValidator struct{ what string }

func (v nameValidator) Description(context.Context) string {
	return fmt.Sprintf("a %s name: lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters", v.what)
}
func (v nameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v nameValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if s := req.ConfigValue.ValueString(); !namePattern.MatchString(s) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.what+" name",
			fmt.Sprintf("%q is not %s (pattern %s).", s, v.Description(ctx), namePattern))
	}
}

// durationValidator checks a Go duration such as 30s.
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "a positive Go duration such as 30s or 2m"
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", durationMessage(req.ConfigValue.ValueString()))
	}
}

func durationMessage(s string) string {
	return fmt.Sprintf("%q is not a positive Go duration: write e.g. 30s, 90s or 2m.", s)
}

// rfc3339Validator checks a timestamp such as 2027-01-01T00:00:00Z.
type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "an RFC 3339 timestamp such as 2027-01-01T00:00:00Z"
}
func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid timestamp",
			fmt.Sprintf("%q is not an RFC 3339 timestamp: write e.g. 2027-01-01T00:00:00Z (%v).", req.ConfigValue.ValueString(), err))
	}
}
