-- POST /v1/tasks with a noop submission (calcgrid and the baseline take the
-- same body).
wrk.method = "POST"
wrk.body = '{"type":"diagnostic.noop","payload":{}}'
wrk.headers["Content-Type"] = "application/json"
