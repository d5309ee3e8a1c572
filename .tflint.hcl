# tflint for every module and the root module (make lint). The terraform
# ruleset is bundled with tflint, so no plugin is downloaded.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
