package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

const keyAddr = "calcgrid_api_key.batch"

// acmeToGlobex moves the example's tenant to another name: a replacement.
var acmeToGlobex = []string{
	`resource "calcgrid_tenant" "acme" {` + "\n  name = \"acme\"\n}",
	`resource "calcgrid_tenant" "acme" {` + "\n  name = \"globex\"\n}",
}

// withoutOutputs drops output blocks: an import step's fresh state has no
// output values, which terraform-plugin-testing cannot read back.
func withoutOutputs(cfg string) string {
	return regexp.MustCompile(`(?ms)^output "[^"]+" \{.*?^\}\n?`).ReplaceAllString(cfg, "")
}

// keyConfig is the example with the key's settings changed: the update
// and replace steps.
func keyConfig(t *testing.T, replacements ...string) string {
	cfg := example(t, "resources/calcgrid_api_key/resource.tf")
	r := strings.NewReplacer(replacements...)
	out := r.Replace(cfg)
	if len(replacements) > 0 && out == cfg {
		t.Fatalf("replacements %q changed nothing in the example", replacements)
	}
	return withProvider(t, out)
}

// TestAccAPIKeyLifecycle: create (the secret works), read, update in place
// (same id and secret, new scopes and limits), replace on a tenant change
// (the old secret fails at once), import by id, and destroy (revoked: 401).
func TestAccAPIKeyLifecycle(t *testing.T) {
	s := startStack(t)
	var firstID, firstSecret, lastSecret string
	remember := func(id, secret *string) resource.TestCheckFunc {
		return func(st *terraform.State) error {
			rs := st.RootModule().Resources[keyAddr]
			if rs == nil {
				return fmt.Errorf("%s not in state", keyAddr)
			}
			*id, *secret = rs.Primary.Attributes["id"], rs.Primary.Attributes["secret"]
			lastSecret = *secret
			return nil
		}
	}
	var id2, secret2, id3, secret3 string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6Factories,
		CheckDestroy: func(*terraform.State) error {
			for _, secret := range []string{firstSecret, lastSecret} {
				if code, _ := s.call("GET", "/v1/tasks", secret, nil); code != http.StatusUnauthorized {
					return fmt.Errorf("a destroyed key's secret got %d from GET /v1/tasks, want 401", code)
				}
			}
			if code, _ := s.call("GET", "/v1/admin/keys/"+id3, s.AdminToken, nil); code != http.StatusNotFound {
				return fmt.Errorf("GET of the revoked key %s: %d, want 404", id3, code)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // create, from the example as the docs show it
				Config: keyConfig(t),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(keyAddr, "id", regexp.MustCompile(`^key_[a-z2-7]{26}$`)),
					resource.TestMatchResourceAttr(keyAddr, "secret", regexp.MustCompile(`^cgk_[A-Za-z0-9_-]{43}$`)),
					resource.TestCheckResourceAttr(keyAddr, "tenant", "acme"),
					resource.TestCheckResourceAttr(keyAddr, "name", "batch-pricer"),
					resource.TestCheckResourceAttr(keyAddr, "scopes.#", "2"),
					resource.TestCheckTypeSetElemAttr(keyAddr, "scopes.*", "submit"),
					resource.TestCheckTypeSetElemAttr(keyAddr, "scopes.*", "read"),
					resource.TestCheckResourceAttr(keyAddr, "rate_per_second", "20"),
					resource.TestCheckResourceAttr(keyAddr, "max_pending", "500"),
					resource.TestCheckResourceAttr(keyAddr, "priorities.#", "2"),
					resource.TestCheckResourceAttr(keyAddr, "expires_at", "2030-01-01T00:00:00Z"),
					resource.TestCheckResourceAttrSet(keyAddr, "created_at"),
					resource.TestCheckResourceAttrSet("calcgrid_tenant.acme", "created_at"),
					remember(&firstID, &firstSecret),
					func(*terraform.State) error {
						// The secret works for its scope, and only for it.
						if code, _ := s.call("GET", "/v1/tasks", firstSecret, nil); code != http.StatusOK {
							return fmt.Errorf("the new key's GET /v1/tasks: %d, want 200", code)
						}
						if code, _ := s.call("GET", "/v1/admin/keys", firstSecret, nil); code != http.StatusForbidden {
							return fmt.Errorf("the new key's GET /v1/admin/keys: %d, want 403 (no admin scope)", code)
						}
						return nil
					},
				),
			},
			{ // update in place: scopes, limits, name, priorities, expiry
				Config: keyConfig(t,
					`scopes          = ["submit", "read"]`, `scopes          = ["read", "cancel"]`,
					`rate_per_second = 20`, `rate_per_second = 0`,
					`name            = "batch-pricer"`, `name            = "batch-reader"`,
					`priorities      = ["medium", "low"]`, `priorities      = ["low"]`,
					`expires_at      = "2030-01-01T00:00:00Z"`, `expires_at      = "2031-06-30T12:00:00+02:00"`,
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					remember(&id2, &secret2),
					func(*terraform.State) error {
						if id2 != firstID || secret2 != firstSecret {
							return fmt.Errorf("update changed the key: id %s -> %s", firstID, id2)
						}
						_, k := s.call("GET", "/v1/admin/keys/"+id2, s.AdminToken, nil)
						if fmt.Sprint(k["scopes"]) != "[cancel read]" && fmt.Sprint(k["scopes"]) != "[read cancel]" {
							return fmt.Errorf("the API has scopes %v, want read and cancel", k["scopes"])
						}
						if k["rate_per_second"] != float64(0) || k["name"] != "batch-reader" {
							return fmt.Errorf("the API has %v", k)
						}
						// The secret lost submit at once.
						if code, _ := s.call("POST", "/v1/tasks", secret2, map[string]any{"type": "nope"}); code != http.StatusForbidden {
							return fmt.Errorf("submission with a key without submit: %d, want 403", code)
						}
						return nil
					},
					resource.TestCheckResourceAttr(keyAddr, "rate_per_second", "0"),
					resource.TestCheckResourceAttr(keyAddr, "expires_at", "2031-06-30T12:00:00+02:00"),
				),
			},
			{ // a new tenant replaces the key: new id, new secret, the old one fails
				Config: keyConfig(t, acmeToGlobex...),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("calcgrid_tenant.acme", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(keyAddr, "tenant", "globex"),
					remember(&id3, &secret3),
					func(*terraform.State) error {
						if id3 == firstID || secret3 == firstSecret {
							return fmt.Errorf("the replaced key kept its id or secret")
						}
						if code, _ := s.call("GET", "/v1/tasks", firstSecret, nil); code != http.StatusUnauthorized {
							return fmt.Errorf("the replaced key's secret got %d, want 401", code)
						}
						if code, _ := s.call("GET", "/v1/admin/tenants/acme", s.AdminToken, nil); code != http.StatusNotFound {
							return fmt.Errorf("tenant acme after its replacement: %d, want 404", code)
						}
						return nil
					},
				),
			},
			{ // import by id: everything but the secret, which the API never shows again
				Config:                  withoutOutputs(keyConfig(t, acmeToGlobex...)),
				ResourceName:            keyAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"secret"},
			},
			{ // import of a tenant by name
				Config:                               withoutOutputs(keyConfig(t, acmeToGlobex...)),
				ResourceName:                         "calcgrid_tenant.acme",
				ImportState:                          true,
				ImportStateId:                        "globex",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}

// TestAccAPIKeyRevokedOutsideTerraform: a key revoked through the admin API
// answers 404; refresh drops it from the state and the plan creates it anew.
func TestAccAPIKeyRevokedOutsideTerraform(t *testing.T) {
	s := startStack(t)
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6Factories,
		Steps: []resource.TestStep{
			{
				Config: keyConfig(t),
				Check: resource.TestCheckResourceAttrWith(keyAddr, "id", func(v string) error {
					id = v
					return nil
				}),
			},
			{
				PreConfig: func() {
					if code, body := s.call("DELETE", "/v1/admin/keys/"+id, s.AdminToken, nil); code != http.StatusNoContent {
						t.Fatalf("revoking %s out of band: %d %v", id, code, body)
					}
				},
				Config:             keyConfig(t),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: keyConfig(t),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionCreate),
				}},
				Check: resource.TestCheckResourceAttrWith(keyAddr, "id", func(v string) error {
					if v == id {
						return fmt.Errorf("the recreated key has the revoked key's id %s", id)
					}
					return nil
				}),
			},
		},
	})
}
