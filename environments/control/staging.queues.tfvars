# staging's queue settings; `make promote FROM=staging TO=prod` applies this
# file to prod's queues.
queues = {
  high   = { paused = false }
  medium = { paused = false }
  low    = { paused = false }
}
