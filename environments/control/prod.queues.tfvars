# prod's queue settings.
queues = {
  high   = { paused = false }
  medium = { paused = false }
  low    = { paused = false }
}
