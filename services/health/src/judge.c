/* The health agent's decisions, from what a tick observed: pure, so every
 * rule is unit-tested without servers (tests/unit/test_health_judge.c
 * links it from health_core). First one worker record, then one broker queue.
 *
 * Rules, in order:
 *  - Ours only: the record's host_id is ours, or it has no host yet, is
 *    REQUESTED and our spawner serves the actor's queue (any spawner on
 *    that queue may take it; removing a stale request is idempotent).
 *  - ERROR records stay: they carry the reason for the user.
 *  - Starting (REQUESTED .. UPDATING STORE) without a process: left alone
 *    for spawn_timeout (the spawner may be busy or down), then deleted.
 *    REQUESTED counts from the record's create_time, the others from when
 *    this agent first saw the status (records keep no status-change time).
 *  - Leaving (SHUTDOWN_REQUESTED, SHUTTING_DOWN): left alone for
 *    shutdown_timeout; then a dead one is cleaned up; a live one still
 *    running a container is finishing its execution and is left to it
 *    ([workers] max_run_time bounds that); an idle one gets SIGTERM, and
 *    SIGKILL HEALTH_TERM_GRACE_MS later.
 *  - Anything else (READY, BUSY): dead after HEALTH_DEAD_TICKS ticks
 *    without its process; alive but deaf to status_misses status requests
 *    in a row (status.c asks every tick), it is stuck: killed and removed
 *    as if dead; an idle READY one whose actor's record is gone (a worker
 *    requested by a send that raced the actor's deletion) or past
 *    worker_ttl (since its last execution, else its start, else its
 *    creation) is asked to stop.
 *
 * Queues (cluster-wide; queues.c lists them): a mailbox or results queue
 * whose actor has no record, or a control queue whose worker has none, is
 * an orphan. It is deleted only when it was an orphan at this agent's
 * previous pass too -- an actor or worker being created may have its queue
 * a moment before its record is visible -- and never while it has
 * consumers (whoever reads it is then the one to fix). A queue of an
 * existing actor or worker is never touched, whatever it holds. */
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "health.h"

bool health_status_starting(const char *status) {
  static const char *const STARTING[] = {WORKER_REQUESTED,      WORKER_SPAWNER_SETUP,
                                         WORKER_PULLING_IMAGE,  WORKER_CREATING_CONTAINER,
                                         WORKER_UPDATING_STORE, NULL};
  for (int i = 0; STARTING[i]; i++)
    if (strcmp(status, STARTING[i]) == 0)
      return true;
  return false;
}

bool health_status_leaving(const char *status) {
  return strcmp(status, WORKER_SHUTDOWN_REQUESTED) == 0 ||
         strcmp(status, WORKER_SHUTTING_DOWN) == 0;
}

int64_t health_record_time(const json_t *worker, const char *key) {
  const char *s = actor_json_str(worker, key, NULL);
  int64_t ms;
  if (s == NULL || actor_time_parse(s, &ms) != 0)
    return -1;
  return ms;
}

static bool dead_enough(const health_obs_t *o) {
  return o->dead_ticks >= HEALTH_DEAD_TICKS;
}

static health_verdict_t judge_starting(const json_t *worker, const char *status,
                                       const health_obs_t *o, const health_limits_t *l) {
  if (o->alive)
    return HEALTH_OK;
  int64_t since = o->since_ms;
  if (strcmp(status, WORKER_REQUESTED) == 0) {
    int64_t created = health_record_time(worker, "create_time");
    if (created >= 0 && created < since)
      since = created;
  }
  return o->now_ms - since > l->spawn_timeout_ms ? HEALTH_EXPIRED : HEALTH_LEAVE;
}

static health_verdict_t judge_leaving(const health_obs_t *o, const health_limits_t *l) {
  if (o->now_ms - o->since_ms <= l->shutdown_timeout_ms)
    return o->alive ? HEALTH_OK : HEALTH_LEAVE;
  if (!o->alive)
    return dead_enough(o) ? HEALTH_DEAD : HEALTH_SUSPECT;
  if (o->running_container)
    return HEALTH_OK;
  if (o->term_ms == 0)
    return HEALTH_TERMINATE;
  return o->now_ms - o->term_ms >= HEALTH_TERM_GRACE_MS ? HEALTH_KILL : HEALTH_OK;
}

static health_verdict_t judge_running(const json_t *worker, const char *status,
                                      const health_obs_t *o, const health_limits_t *l) {
  if (!o->alive)
    return dead_enough(o) ? HEALTH_DEAD : HEALTH_SUSPECT;
  if (l->status_misses > 0 && o->status_misses >= l->status_misses)
    return HEALTH_UNRESPONSIVE;
  if (o->actor_gone && strcmp(status, WORKER_READY) == 0 && !o->running_container)
    return HEALTH_ORPHAN;
  if (l->worker_ttl_ms > 0 && strcmp(status, WORKER_READY) == 0 && !o->running_container) {
    int64_t last = health_record_time(worker, "last_execution_time");
    if (last < 0)
      last = health_record_time(worker, "start_time");
    if (last < 0)
      last = health_record_time(worker, "create_time");
    if (last >= 0 && o->now_ms - last > l->worker_ttl_ms)
      return HEALTH_IDLE;
  }
  return HEALTH_OK;
}

health_verdict_t health_judge(const json_t *worker, const health_obs_t *o,
                              const health_limits_t *l) {
  const char *status = actor_json_str(worker, "status", "");
  const char *host = actor_json_str(worker, "host_id", NULL);
  bool ours = host ? strcmp(host, o->host_id) == 0
                   : strcmp(status, WORKER_REQUESTED) == 0 && o->serves_queue;
  if (!ours)
    return HEALTH_FOREIGN;
  if (strcmp(status, WORKER_ERROR) == 0)
    return o->alive ? HEALTH_OK : HEALTH_LEAVE;
  if (health_status_starting(status))
    return judge_starting(worker, status, o, l);
  if (health_status_leaving(status))
    return judge_leaving(o, l);
  return judge_running(worker, status, o, l);
}

bool health_status_asked(const json_t *worker, const char *host_id, bool alive) {
  const char *status = actor_json_str(worker, "status", "");
  const char *host = actor_json_str(worker, "host_id", NULL);
  return alive && host && strcmp(host, host_id) == 0 &&
         (strcmp(status, WORKER_READY) == 0 || strcmp(status, WORKER_BUSY) == 0);
}

const char *health_verdict_name(health_verdict_t v) {
  switch (v) {
  case HEALTH_FOREIGN: return "foreign";
  case HEALTH_LEAVE: return "leave";
  case HEALTH_OK: return "ok";
  case HEALTH_SUSPECT: return "suspect";
  case HEALTH_DEAD: return "dead";
  case HEALTH_EXPIRED: return "expired";
  case HEALTH_IDLE: return "idle";
  case HEALTH_ORPHAN: return "orphan";
  case HEALTH_TERMINATE: return "terminate";
  case HEALTH_KILL: return "kill";
  case HEALTH_UNRESPONSIVE: return "unresponsive";
  }
  return "?";
}

/* ---- queues ---- */

bool health_queue_judged(chan_qkind_t kind) {
  return kind == CHAN_Q_MAILBOX || kind == CHAN_Q_RESULTS || kind == CHAN_Q_WORKER ||
         kind == CHAN_Q_SPAWNER_WORKER;
}

bool health_queue_of_actor(chan_qkind_t kind) {
  return kind == CHAN_Q_MAILBOX || kind == CHAN_Q_RESULTS;
}

health_qverdict_t health_queue_judge(chan_qkind_t kind, bool owner_exists, long consumers,
                                     bool was_suspect) {
  if (!health_queue_judged(kind) || owner_exists || consumers > 0)
    return HEALTH_QUEUE_KEEP;
  return was_suspect ? HEALTH_QUEUE_DELETE : HEALTH_QUEUE_SUSPECT;
}

const char *health_qverdict_name(health_qverdict_t v) {
  switch (v) {
  case HEALTH_QUEUE_KEEP: return "keep";
  case HEALTH_QUEUE_SUSPECT: return "suspect";
  case HEALTH_QUEUE_DELETE: return "delete";
  }
  return "?";
}

int health_queue_list_parse(const char *body, size_t len, json_t **out) {
  *out = NULL;
  json_error_t err;
  json_t *list = body ? json_loadb(body, len, 0, &err) : NULL;
  json_t *byname = json_object();
  if (!json_is_array(list) || byname == NULL) {
    int rc = json_is_array(list) ? ACTOR_ENOMEM : ACTOR_EPARSE;
    json_decref(list);
    json_decref(byname);
    return rc;
  }
  size_t i;
  json_t *q;
  json_array_foreach(list, i, q) {
    const char *name = actor_json_str(q, "name", NULL);
    json_t *consumers = json_object_get(q, "consumers");
    if (name == NULL)
      continue;
    json_object_set_new(
        byname, name,
        json_integer(json_is_integer(consumers) ? json_integer_value(consumers) : -1));
  }
  json_decref(list);
  *out = byname;
  return 0;
}
