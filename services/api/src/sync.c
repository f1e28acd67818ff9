/* Synchronous messages (POST /actors/{id}/messages?_abaco_synchronous=true):
 * the request waits until its execution finishes and answers with the raw
 * bytes of the first result the actor sent (application/octet-stream), or
 * else the execution's logs (text/plain); no envelope, as Abaco does.
 *
 * Design note: handlers run on libuv's thread pool, and a synchronous wait
 * holds its thread for as long as the execution takes (seconds to
 * minutes). Left alone, sixteen such waits would take every thread and no
 * other request -- not even the GET that would show the execution's
 * progress -- could run. So the pool is sized API_THREADS + API_SYNC_MAX
 * (main.c) and at most API_SYNC_MAX requests may wait at once (an atomic
 * counter; one more is refused with 503 before anything is created): the
 * API_THREADS threads are always left for ordinary requests, which never
 * block for long. The Redis and channel pools get the same size, so a
 * waiting request never holds up one that needs a connection. A wait polls
 * the execution record (cheap: an _id lookup) and is bounded: by
 * [workers] sync_max_idle_time, or, when [workers] max_run_time limits
 * executions, by the time the few messages a synchronous send may queue
 * behind (see routes_messages.c) can take; past it the client gets 504
 * and can follow the execution by its id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "api.h"

#define SYNC_POLL_FAST_MS 100 /* for the first SYNC_FAST_FOR_MS */
#define SYNC_POLL_SLOW_MS 500
#define SYNC_FAST_FOR_MS 3000
#define SYNC_SLACK_S 60   /* start-up of a worker, image checks */
#define SYNC_QUEUED_MAX 4 /* this message and the 3 it may wait behind */

bool api_sync_acquire(api_ctx_t *c) {
  int before = atomic_fetch_add(&c->sync_waits, 1);
  if (before >= API_SYNC_MAX) {
    atomic_fetch_sub(&c->sync_waits, 1);
    return false;
  }
  return true;
}

void api_sync_release(api_ctx_t *c) {
  atomic_fetch_sub(&c->sync_waits, 1);
}

static int64_t timeout_ms(const api_ctx_t *c) {
  long s = c->sync_max_idle_time;
  if (c->max_run_time > 0 && c->max_run_time * SYNC_QUEUED_MAX + SYNC_SLACK_S < s)
    s = c->max_run_time * SYNC_QUEUED_MAX + SYNC_SLACK_S;
  return (int64_t)s * 1000;
}

static bool finished(const char *status) {
  return strcmp(status, EXEC_COMPLETE) == 0 || strcmp(status, EXEC_ERROR) == 0;
}

/* Polls the execution until it finished: 0, a store error (answered), or
 * ACTOR_ETIMEDOUT (answered). */
static int wait_finished(api_req_t *r, const char *eid) {
  int64_t start = actor_time_mono_ms(), limit = timeout_ms(r->ctx);
  char status[32] = EXEC_SUBMITTED;
  for (;;) {
    json_t *exec = NULL;
    int rc = model_exec_get(r->ctx->mongo, r->db_id, eid, &exec);
    if (rc != 0 && rc != ACTOR_ENOTFOUND) {
      api_store_error(r, rc, "execution");
      return rc;
    }
    snprintf(status, sizeof(status), "%s", actor_json_str(exec, "status", EXEC_SUBMITTED));
    json_decref(exec);
    if (finished(status))
      return 0;
    int64_t waited = actor_time_mono_ms() - start;
    if (waited >= limit)
      break;
    usleep((waited < SYNC_FAST_FOR_MS ? SYNC_POLL_FAST_MS : SYNC_POLL_SLOW_MS) * 1000);
  }
  const char *aid = actor_json_str(r->actor, "id", "");
  LOG_WARN("api", "actor %s execution %s: synchronous wait gave up after %lld s (%s)", r->db_id,
           eid, (long long)(limit / 1000), status);
  api_error(r, 504,
            "Execution %s did not finish within %lld seconds (it is %s); follow it at "
            "%s/actors/v2/%s/executions/%s.",
            eid, (long long)(limit / 1000), status, r->api_server, aid, eid);
  return ACTOR_ETIMEDOUT;
}

void api_sync_answer(api_req_t *r, const char *eid) {
  if (wait_finished(r, eid) != 0)
    return;
  char q[CHAN_NAME_MAX];
  chan_name_results(r->db_id, eid, q);
  char *bytes = NULL;
  size_t len = 0;
  int rc = api_consume(r->ctx, "results", q, &bytes, &len);
  if (rc == 0) {
    ahttp_respond_owned(r->http, 200, "application/octet-stream", bytes, len);
    return;
  }
  if (rc != ACTOR_ENOTFOUND)
    LOG_WARN("api", "actor %s execution %s: cannot read results: %s; answering with the logs",
             r->db_id, eid, actor_strerror(rc));
  char *logs = NULL;
  rc = model_logs_get(r->ctx->mongo, r->db_id, eid, &logs);
  if (rc != 0) {
    api_store_error(r, rc, "logs");
    return;
  }
  ahttp_respond_owned(r->http, 200, "text/plain", logs, strlen(logs));
}
