# What runs inside an environment's stack, as code: its tenants, their API
# keys and the queues' settings. Applied after the stack (terraform/) in the
# same workspace by `make up`; the endpoint and the bootstrap admin token come
# from the stack's state, so nothing secret is passed by hand.
data "terraform_remote_state" "stack" {
  backend = "local"
  config = {
    path = "${path.module}/../terraform.tfstate.d/${terraform.workspace}/terraform.tfstate"
  }
}

locals {
  stack = data.terraform_remote_state.stack.outputs
}

provider "calcgrid" {
  endpoint = local.stack.endpoint
  token    = local.stack.admin_token
}

resource "terraform_data" "auth_guard" {
  input = terraform.workspace

  lifecycle {
    precondition {
      condition     = local.stack.admin_token != null
      error_message = "The ${terraform.workspace} stack runs with auth = \"off\": it has no keys to manage. Set auth = \"required\" in environments/${terraform.workspace}.tfvars and apply the stack first (make up ENV=${terraform.workspace})."
    }
  }
}

resource "calcgrid_tenant" "this" {
  for_each = var.tenants

  name = each.key

  depends_on = [terraform_data.auth_guard]
}

resource "calcgrid_api_key" "this" {
  for_each = var.api_keys

  tenant          = each.value.tenant
  name            = each.key
  scopes          = each.value.scopes
  rate_per_second = each.value.rate_per_second
  max_pending     = each.value.max_pending
  priorities      = each.value.priorities
  expires_at      = each.value.expires_at

  depends_on = [calcgrid_tenant.this]

  lifecycle {
    precondition {
      condition     = contains(keys(var.tenants), each.value.tenant)
      error_message = "api_keys[\"${each.key}\"].tenant is \"${each.value.tenant}\", which is not one of tenants (${join(", ", keys(var.tenants))})."
    }
  }
}

resource "calcgrid_queue" "this" {
  for_each = var.queues

  name        = each.key
  paused      = each.value.paused
  max_pending = each.value.max_pending
  weight      = each.value.weight

  depends_on = [terraform_data.auth_guard]
}
