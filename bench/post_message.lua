-- wrk script: POST a small form message to the actor in env ACTOR_ID.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "message=bench"
wrk.path = "/actors/" .. os.getenv("ACTOR_ID") .. "/messages"
