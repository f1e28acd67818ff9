/* Asking the spawner for workers, and telling workers to stop.
 *
 * Each new worker gets a REQUESTED record first, then a command on its
 * queue's command channel. If the command cannot be published the record
 * is removed again, so no worker is left waiting for a spawner that was
 * never told. A worker is stopped by marking it SHUTDOWN_REQUESTED and
 * publishing "stop" on its control queue; it removes its own record when
 * it exits (one in ERROR, which never came up, is removed here). Workers
 * on their way out do not count as the actor's workers.
 *
 * "At least one worker" for a message is checked by many api threads (and
 * processes) at once; a short Redis lease per actor (SET NX PX) makes one
 * of them request the worker instead of each.
 *
 * Design note: that check reads the actor's worker set and each worker's
 * status, two or more Redis round trips per message. An actor seen with a
 * live worker is remembered for LIVE_CACHE_MS, so a stream of messages
 * checks about twice a second instead of on every one. A worker that goes
 * in that window (it failed, or health removed it) is noticed by the next
 * check after it, and meanwhile the autoscaler requests one for a mailbox
 * with messages and no live worker; this api forgets an actor at once when
 * it stops or removes one of its workers itself. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"
#include "channels/proto/command.h"

int api_request_workers(api_req_t *r, const json_t *actor, int n) {
  api_ctx_t *c = r->ctx;
  for (int i = 0; i < n; i++) {
    chan_command_t cmd;
    int rc = chan_command_prepare(c->redis, actor, &cmd);
    if (rc != 0)
      return rc;
    rc = api_publish(c, "command", cmd.queue, cmd.body, strlen(cmd.body), NULL, 5000);
    chan_command_done(c->redis, actor, &cmd, rc == 0);
    if (rc != 0)
      return rc;
    LOG_INFO("api", "actor %s: requested worker %s", actor_json_str(actor, "db_id", ""),
             cmd.worker_id);
  }
  return 0;
}

/* How long one api request owns the right to add the first worker. Longer
 * than a request takes to publish; short enough that a failed attempt is
 * retried by the next message. */
#define ENSURE_LEASE_MS 3000

static bool leaving(const json_t *w) {
  const char *st = actor_json_str(w, "status", "");
  return strcmp(st, WORKER_SHUTDOWN_REQUESTED) == 0 || strcmp(st, WORKER_SHUTTING_DOWN) == 0;
}

#define LIVE_CACHE_MS 500
#define LIVE_CACHE_SLOTS 256

static struct {
  char db_id[MODEL_KEY_MAX];
  int64_t until; /* monotonic ms */
} live_cache[LIVE_CACHE_SLOTS];
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned live_slot(const char *db_id) {
  unsigned h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)db_id; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h % LIVE_CACHE_SLOTS;
}

static bool live_cached(const char *db_id) {
  unsigned i = live_slot(db_id);
  int64_t now = actor_time_mono_ms();
  pthread_mutex_lock(&live_mu);
  bool hit = live_cache[i].until > now && strcmp(live_cache[i].db_id, db_id) == 0;
  pthread_mutex_unlock(&live_mu);
  return hit;
}

static void live_remember(const char *db_id) {
  if (strlen(db_id) >= MODEL_KEY_MAX)
    return;
  unsigned i = live_slot(db_id);
  pthread_mutex_lock(&live_mu);
  snprintf(live_cache[i].db_id, sizeof(live_cache[i].db_id), "%s", db_id);
  live_cache[i].until = actor_time_mono_ms() + LIVE_CACHE_MS;
  pthread_mutex_unlock(&live_mu);
}

void api_live_forget(const char *db_id) {
  unsigned i = live_slot(db_id);
  pthread_mutex_lock(&live_mu);
  if (strcmp(live_cache[i].db_id, db_id) == 0)
    live_cache[i].until = 0;
  pthread_mutex_unlock(&live_mu);
}

int api_live_workers(api_req_t *r, const char *db_id, json_t **out, long long *n) {
  return api_live_workers_fields(r->ctx, db_id, NULL, out, n);
}

int api_live_workers_fields(api_ctx_t *c, const char *db_id, const char *const *fields,
                            json_t **out, long long *n) {
  json_t *all = NULL;
  int rc = model_worker_list_fields(c->redis, db_id, fields, &all);
  if (rc != 0)
    return rc;
  json_t *live = json_array();
  size_t i;
  json_t *w;
  json_array_foreach(all, i, w) {
    if (!leaving(w))
      json_array_append(live, w);
  }
  json_decref(all);
  if (live == NULL)
    return ACTOR_ENOMEM;
  if (n)
    *n = (long long)json_array_size(live);
  if (out)
    *out = live;
  else
    json_decref(live);
  return 0;
}

int api_ensure_worker(api_req_t *r, const json_t *actor) {
  const char *db_id = actor_json_str(actor, "db_id", "");
  if (live_cached(db_id))
    return 0;
  long long n = 0;
  int rc = api_live_workers(r, db_id, NULL, &n);
  if (rc == 0 && n > 0)
    live_remember(db_id);
  if (rc != 0 || n > 0)
    return rc;
  bool mine = false;
  rc = model_ensure_worker_claim(r->ctx->redis, db_id, ENSURE_LEASE_MS, &mine);
  if (rc != 0)
    return rc;
  if (!mine)
    return 0; /* another request is adding it */
  /* The caller may hold only some of the actor's fields (a message send
   * reads a few, auth.c): the worker request needs the whole record. */
  json_t *full = NULL;
  rc = model_actor_get(r->ctx->redis, db_id, &full);
  if (rc == ACTOR_ENOTFOUND)
    return 0; /* deleted meanwhile: no worker for it */
  if (rc == 0 && strcmp(actor_json_str(full, "status", ""), ACTOR_SHUTTING_DOWN) == 0) {
    json_decref(full);
    return 0; /* being deleted: a worker requested now would outlive it (the
               * health agent stops one that still slips through) */
  }
  if (rc == 0)
    rc = api_request_workers(r, full, 1);
  json_decref(full);
  return rc;
}

int api_worker_control(api_req_t *r, const char *wid, const char *command) {
  char q[CHAN_NAME_MAX], body[64];
  chan_name_worker(wid, q);
  int len = snprintf(body, sizeof(body), "\"%s\"", command);
  return api_publish(r->ctx, "worker", q, body, (size_t)len, NULL, 5000);
}

int api_stop_worker(api_req_t *r, const char *db_id, const char *wid) {
  api_live_forget(db_id);
  json_t *w = NULL;
  int rc = model_worker_get(r->ctx->redis, db_id, wid, &w);
  if (rc != 0)
    return rc;
  bool failed = strcmp(actor_json_str(w, "status", ""), WORKER_ERROR) == 0;
  json_decref(w);
  if (failed) {
    /* A worker that failed to come up has no process to remove its record:
     * the stop is only sent in case one is still there. */
    int prc = api_worker_control(r, wid, "stop");
    if (prc != 0)
      LOG_WARN("api", "actor %s: could not send stop to failed worker %s: %s", db_id, wid,
               actor_strerror(prc));
    return model_worker_delete(r->ctx->redis, db_id, wid);
  }
  rc = model_worker_transition(r->ctx->redis, db_id, wid, NULL, WORKER_SHUTDOWN_REQUESTED, NULL);
  if (rc != 0)
    return rc;
  return api_worker_control(r, wid, "stop");
}
