/* The autoscaler ([workers] autoscaling): grows an actor's workers while
 * messages wait and shrinks them to zero when it is idle.
 *
 * Design note. Every [workers] autoscale_interval seconds (jobs.c ticker),
 * for the actors of the queues whose "autoscaler" lease this process holds
 * (so of several api processes one acts per queue and interval):
 *  - Messages waiting in the mailbox (RabbitMQ's ready count: messages no
 *    consumer has taken, so every live worker is busy or still starting):
 *    with no live worker, one is requested (api_ensure_worker, whatever the
 *    actor's kind); a stateless READY actor with no idle READY worker, no
 *    worker still coming up and fewer live workers than its max_workers
 *    (else [spawner] max_workers_per_actor) gets one more worker -- unless
 *    the command queue of its queue holds more than [spawner]
 *    max_cmd_length commands: the spawner is behind, and more requests
 *    would only queue up behind it. Waiting for the last new worker to be
 *    up before asking for the next keeps a slow start (an image pull) from
 *    piling up requests; with workers that start in about a second, an
 *    actor grows by one worker every second or two.
 *  - Empty mailbox, stateless READY actor: READY workers idle for at least
 *    [workers] autoscale_idle_grace seconds (idle since the later of their
 *    start and their last execution) are stopped: the status moves
 *    READY -> SHUTDOWN_REQUESTED only if it is still READY (a worker that
 *    just took a message is BUSY and stays), then "stop" goes to its
 *    control queue. An actor with the `sync` hint keeps its last live
 *    worker until that one has been idle [workers] sync_max_idle_time.
 *    Otherwise it scales to zero: the actor stays READY and its next
 *    message requests a worker on the spot (submit.c). The grace keeps a
 *    worker that was just started (or just finished) from being stopped
 *    before anyone could use it.
 * A message that lands between the empty-mailbox check and the stop is not
 * lost: the stopping worker may still run it, and otherwise it waits in
 * the mailbox, which the next tick sees (with no live worker: one is
 * requested).
 * The actors looked at are those of the index abaco:autoscale:active
 * (model.h), not every actor: an actor enters it when a worker record is
 * put (model_worker_put: every worker, whoever asks for it), and leaves it
 * when a tick finds it with no worker and an empty mailbox -- removed
 * first, then looked at again, and put back if a worker or a message came
 * meanwhile. A message for an actor with no worker always requests one
 * (submit.c), which puts the actor back; so an idle actor costs nothing
 * per tick, and a tick costs the actors that have workers or messages.
 * Every api start adds every actor to the index (a superset is harmless:
 * the next ticks prune it), which also builds it on a stack upgraded from
 * a release without it. An actor whose record is gone leaves the index.
 * Cost per actor: its status, one SCARD and one AMQP queue length (none
 * for an actor in ERROR or being deleted); when it has messages or
 * workers, the few fields of the actor and of its workers that the
 * decision needs (one HMGET each), never whole records: those hold client
 * data (image, description, environment, state) that an older release let
 * grow without bound, and decoding them every tick would cost as much.
 * The whole actor is read only to request a worker. At most
 * AUTOSCALE_MAX_ACTORS actors per tick; the scan goes on from there on the
 * next tick. Stateful actors keep their one worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"
#include "api.h"

#define AUTOSCALE_MAX_ACTORS 1000
/* How long a tick may hold its leases at most (a tick stuck on a store). */
#define AUTOSCALE_LEASE_HOLD_MS 30000

/* What a tick reads of an actor and of each of its workers. */
static const char *const ACTOR_VIEW[] = {"status", "queue", "stateless", "max_workers", NULL};
static const char *const WORKER_VIEW[] = {"id", "status", "last_execution_time", "start_time",
                                          "create_time", NULL};

/* Whether the actor has the hint (its hints read on their own). */
static bool has_hint(api_ctx_t *c, const char *db_id, const char *hint) {
  static const char *const HINTS[] = {"hints", NULL};
  char key[MODEL_KEY_MAX];
  json_t *rec = NULL, *h;
  bool found = false;
  size_t i;
  model_key_actor(db_id, key);
  if (store_record_fields(c->redis, key, HINTS, &rec) != 0)
    return false;
  json_array_foreach(json_object_get(rec, "hints"), i, h) {
    if (json_is_string(h) && strcmp(json_string_value(h), hint) == 0)
      found = true;
  }
  json_decref(rec);
  return found;
}

/* The whole actor, to request a worker for it (new reference or NULL). */
static json_t *whole_actor(api_pass_t *p, const char *db_id) {
  json_t *actor = NULL;
  int rc = model_actor_get(p->c->redis, db_id, &actor);
  if (rc != 0 && rc != ACTOR_ENOTFOUND) {
    api_metrics_store_error(p->c->metrics, "redis");
    LOG_WARN("api", "autoscaler: actor %s: %s", db_id, actor_strerror(rc));
  }
  return rc == 0 ? actor : NULL;
}

static bool coming_up(const char *st) {
  return strcmp(st, WORKER_REQUESTED) == 0 || strcmp(st, WORKER_SPAWNER_SETUP) == 0 ||
         strcmp(st, WORKER_PULLING_IMAGE) == 0 || strcmp(st, WORKER_CREATING_CONTAINER) == 0 ||
         strcmp(st, WORKER_UPDATING_STORE) == 0;
}

/* Milliseconds a READY worker has been idle: since the later of its start
 * (or request) and its last execution; 0 when no time can be read. */
static int64_t idle_ms(const json_t *w, int64_t now) {
  static const char *const FIELDS[] = {"last_execution_time", "start_time", "create_time", NULL};
  int64_t since = -1;
  for (int i = 0; FIELDS[i]; i++) {
    int64_t t;
    const char *s = actor_json_str(w, FIELDS[i], NULL);
    if (s && actor_time_parse(s, &t) == 0 && t > since)
      since = t;
  }
  return since < 0 || now < since ? 0 : now - since;
}

static long max_workers(const api_pass_t *p, const json_t *actor) {
  long long mw = actor_json_int(actor, "max_workers", 0);
  return mw > 0 ? (long)mw : p->c->max_workers_per_actor;
}

static void scale_up(api_pass_t *p, const char *db_id, const json_t *actor, const json_t *live,
                     long waiting) {
  api_ctx_t *c = p->c;
  size_t n = json_array_size(live), ready = 0, coming = 0;
  size_t i;
  json_t *w;
  json_array_foreach(live, i, w) {
    const char *st = actor_json_str(w, "status", "");
    if (strcmp(st, WORKER_READY) == 0)
      ready++;
    else if (coming_up(st))
      coming++;
  }
  if (n == 0) {
    LOG_INFO("api", "autoscaler: actor %s: %ld message(s) waiting and no worker", db_id, waiting);
    json_t *whole = whole_actor(p, db_id);
    int rc = whole ? api_ensure_worker(&p->req, whole) : 0;
    json_decref(whole);
    if (rc != 0)
      LOG_WARN("api", "autoscaler: actor %s: cannot request a worker: %s", db_id,
               actor_strerror(rc));
    return;
  }
  if (!actor_json_bool(actor, "stateless", true) ||
      strcmp(actor_json_str(actor, "status", ""), ACTOR_READY) != 0)
    return;
  long max = max_workers(p, actor);
  if (ready > 0 || coming > 0 || (long)n >= max)
    return;
  char cmdq[CHAN_NAME_MAX];
  chan_name_command(actor_json_str(actor, "queue", "default"), cmdq);
  long queued = 0;
  int rc = chan_client_queue_len(c->chan, cmdq, &queued);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "rabbitmq");
    LOG_WARN("api", "autoscaler: length of %s: %s", cmdq, actor_strerror(rc));
    return;
  }
  if (queued > c->max_cmd_length) {
    api_metrics_count(c->metrics, API_COUNT_SCALE_UP_DEFERRED, 1);
    LOG_DEBUG("api",
              "autoscaler: actor %s: %s holds %ld commands (> max_cmd_length %ld): "
              "not scaling up now",
              db_id, cmdq, queued, c->max_cmd_length);
    return;
  }
  json_t *whole = whole_actor(p, db_id);
  if (whole == NULL)
    return;
  rc = api_request_workers(&p->req, whole, 1);
  json_decref(whole);
  if (rc != 0) {
    LOG_WARN("api", "autoscaler: actor %s: cannot request a worker: %s", db_id, actor_strerror(rc));
    return;
  }
  api_metrics_count(c->metrics, API_COUNT_WORKERS_REQUESTED, 1);
  LOG_INFO("api",
           "autoscaler: actor %s: %ld message(s) waiting, %zu worker(s) (max %ld): "
           "requested one more",
           db_id, waiting, n, max);
}

/* READY -> SHUTDOWN_REQUESTED (only from READY), then "stop". */
static void stop_idle(api_pass_t *p, const char *db_id, const char *wid, int64_t idle) {
  static const char *const IDLE[] = {WORKER_READY, NULL};
  static const char *const ASKED[] = {WORKER_SHUTDOWN_REQUESTED, NULL};
  api_ctx_t *c = p->c;
  int rc = model_worker_transition(c->redis, db_id, wid, IDLE, WORKER_SHUTDOWN_REQUESTED, NULL);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND)
    return; /* it took a message, or went, meanwhile */
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "autoscaler: actor %s worker %s: %s", db_id, wid, actor_strerror(rc));
    return;
  }
  rc = api_worker_control(&p->req, wid, "stop");
  if (rc != 0) {
    /* Not told: give it back its READY so it is not left half-stopped. */
    LOG_WARN("api", "autoscaler: actor %s: cannot send stop to worker %s: %s", db_id, wid,
             actor_strerror(rc));
    /* Best effort: failing, the record stays asked and health settles it. */
    ACTOR_IGNORE(model_worker_transition(c->redis, db_id, wid, ASKED, WORKER_READY, NULL));
    return;
  }
  api_metrics_count(c->metrics, API_COUNT_WORKERS_STOPPED, 1);
  LOG_INFO("api", "autoscaler: actor %s: worker %s idle for %lld s: stopping it", db_id, wid,
           (long long)(idle / 1000));
}

typedef struct {
  const char *wid;
  int64_t idle;
} idle_worker_t;

static int by_idle_desc(const void *a, const void *b) {
  int64_t x = ((const idle_worker_t *)a)->idle, y = ((const idle_worker_t *)b)->idle;
  return x < y ? 1 : x > y ? -1 : 0;
}

static void scale_down(api_pass_t *p, const char *db_id, const json_t *live) {
  api_ctx_t *c = p->c;
  size_t n = json_array_size(live), k = 0;
  idle_worker_t *idle = calloc(n + 1, sizeof(*idle));
  if (idle == NULL)
    return;
  size_t i;
  json_t *w;
  json_array_foreach(live, i, w) {
    const char *wid = actor_json_str(w, "id", NULL);
    int64_t ms = idle_ms(w, p->now);
    if (wid && strcmp(actor_json_str(w, "status", ""), WORKER_READY) == 0 &&
        ms >= c->autoscale_idle_grace * 1000) {
      idle[k].wid = wid;
      idle[k].idle = ms;
      k++;
    }
  }
  qsort(idle, k, sizeof(*idle), by_idle_desc);
  /* `sync`: the last live worker is the warm one; the least idle of the
   * candidates stays while it has been idle less than sync_max_idle_time. */
  if (k > 0 && k == n && idle[k - 1].idle < c->sync_max_idle_time * 1000 &&
      has_hint(c, db_id, "sync"))
    k--;
  for (i = 0; i < k; i++)
    stop_idle(p, db_id, idle[i].wid, idle[i].idle);
  free(idle);
}

/* An actor's status (a record field: JSON text) into out; "" when none. */
static int actor_status(api_ctx_t *c, const char *db_id, char *out, size_t len) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  json_t *v = NULL;
  int rc = store_redis_hget_json(c->redis, key, "status", &v);
  snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
  json_decref(v);
  return rc == ACTOR_ENOTFOUND || rc == ACTOR_EPARSE ? 0 : rc;
}

static void forget(api_ctx_t *c, const char *db_id) {
  if (store_set_remove(c->redis, MODEL_KEY_AUTOSCALE, db_id) != 0)
    api_metrics_store_error(c->metrics, "redis");
}

/* Out of the index, then a second look: a worker put or a message sent
 * before the removal shows now (and puts it back); one after it is a
 * worker put, which adds the actor again by itself. */
static void idle_forget(api_ctx_t *c, const char *db_id, const char *mailbox) {
  long long n = 0;
  long waiting = 0;
  forget(c, db_id);
  int rc = model_worker_count(c->redis, db_id, &n);
  if (rc == 0)
    rc = chan_client_queue_len(c->chan, mailbox, &waiting);
  if (rc != 0 || n > 0 || waiting > 0) {
    if (store_set_add(c->redis, MODEL_KEY_AUTOSCALE, db_id, NULL) != 0)
      api_metrics_store_error(c->metrics, "redis");
  }
}

static void scale_actor(const char *db_id, void *ud) {
  api_pass_t *p = ud;
  api_ctx_t *c = p->c;
  char status[32];
  long waiting = 0;
  long long nworkers = 0;
  /* Actors in ERROR or being deleted are left alone, and their mailbox
   * (perhaps gone) is not asked about. */
  int rc = actor_status(c, db_id, status, sizeof(status));
  if (rc == 0 && *status == '\0') {
    forget(c, db_id); /* deleted */
    return;
  }
  if (rc == 0 && strcmp(status, ACTOR_READY) != 0 && strcmp(status, ACTOR_SUBMITTED) != 0)
    return;
  if (rc == 0)
    rc = model_worker_count(c->redis, db_id, &nworkers);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    return;
  }
  char q[CHAN_NAME_MAX];
  chan_name_mailbox(db_id, q);
  rc = chan_client_queue_len(c->chan, q, &waiting);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "rabbitmq");
    LOG_WARN("api", "autoscaler: mailbox length of actor %s: %s", db_id, actor_strerror(rc));
    return;
  }
  if (waiting == 0 && nworkers == 0) {
    idle_forget(c, db_id, q); /* nothing to decide until a worker is put again */
    return;
  }

  json_t *actor = NULL, *live = NULL;
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  rc = store_record_fields(c->redis, key, ACTOR_VIEW, &actor);
  if (rc != 0) {
    if (rc != ACTOR_ENOTFOUND)
      api_metrics_store_error(c->metrics, "redis");
    return;
  }
  snprintf(status, sizeof(status), "%s", actor_json_str(actor, "status", ""));
  if (!api_leases_cover(&p->leases, actor_json_str(actor, "queue", "default")) ||
      (strcmp(status, ACTOR_READY) != 0 && strcmp(status, ACTOR_SUBMITTED) != 0))
    goto cleanup;
  rc = api_live_workers_fields(c, db_id, WORKER_VIEW, &live, NULL);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    goto cleanup;
  }
  if (waiting > 0)
    scale_up(p, db_id, actor, live, waiting);
  else if (actor_json_bool(actor, "stateless", true) && strcmp(status, ACTOR_READY) == 0)
    scale_down(p, db_id, live);

cleanup:
  json_decref(live);
  json_decref(actor);
}

static int64_t wall_now(const api_ctx_t *c) {
  (void)c;
  return actor_time_now_ms();
}

void api_autoscale_tick(api_ctx_t *c, unsigned long long *cursor) {
  static const api_job_t JOB = {.name = "autoscaler",
                                .hold_ms = AUTOSCALE_LEASE_HOLD_MS,
                                .max_actors = AUTOSCALE_MAX_ACTORS,
                                .ticks = API_COUNT_AUTOSCALE_TICKS,
                                .now = wall_now,
                                .each = scale_actor,
                                .set = MODEL_KEY_AUTOSCALE};
  api_job_tick(c, &JOB, c->autoscale_interval, cursor);
}
