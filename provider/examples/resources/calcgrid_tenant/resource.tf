resource "calcgrid_tenant" "acme" {
  name = "acme"
}
