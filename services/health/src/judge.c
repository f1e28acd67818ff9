/* The decision for one worker record, from what the tick observed: pure,
 * so every rule is unit-tested without servers (tests/unit/test_health_judge.c
 * compiles this file).
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
 *    without its process; an idle READY one past worker_ttl (since its
 *    last execution, else its start, else its creation) is asked to stop. */
#include <string.h>

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

const char *health_verdict_name(health_verdict_t v) {
  switch (v) {
  case HEALTH_FOREIGN: return "foreign";
  case HEALTH_LEAVE: return "leave";
  case HEALTH_OK: return "ok";
  case HEALTH_SUSPECT: return "suspect";
  case HEALTH_DEAD: return "dead";
  case HEALTH_EXPIRED: return "expired";
  case HEALTH_IDLE: return "idle";
  case HEALTH_TERMINATE: return "terminate";
  case HEALTH_KILL: return "kill";
  }
  return "?";
}
