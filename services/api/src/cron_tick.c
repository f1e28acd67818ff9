/* The cron tick (API.md §5): actors with cron_on get the message "This is
 * your cron execution" from executor "cron" when their cron_next_ex is due.
 *
 * Design note. Every [web] cron_interval seconds (jobs.c ticker), for the
 * actors of the queues whose "cron" lease this process holds, the few
 * fields the check needs are read (one HMGET per actor). A due actor's run
 * is claimed before it is sent: cron_next_ex moves to the first step of
 * the schedule after now (api_cron_advance: missed runs are skipped, so
 * after any downtime at most one execution fires) with a compare-and-set
 * on the old value, so two processes, or a tick racing an update of the
 * actor, never both send it. The message then takes the same path as
 * POST .../messages (submit.c); if that fails, cron_next_ex is set back
 * (same guard) and the next tick tries again. An actor that is being
 * deleted is skipped. "Now" is the cron clock, api_cron_now_ms: the real
 * clock shifted by [web] cron_clock_offset seconds (0 but in tests, which
 * use it instead of waiting hours). At most CRON_MAX_ACTORS actors per
 * tick; the scan goes on from there on the next tick. */
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

#define CRON_MAX_ACTORS 5000
#define CRON_LEASE_HOLD_MS 60000
#define CRON_MESSAGE "This is your cron execution"
#define CRON_EXECUTOR "cron"

/* cron_next_ex from `from` to `to`, only if it still is `from`. */
static int move_next(api_ctx_t *c, const char *db_id, const char *from, const char *to) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  const char *const guard[] = {from, NULL};
  json_t *f = json_pack("{s:s}", "cron_next_ex", to);
  int rc = f ? store_record_transition(c->redis, key, "cron_next_ex", guard, f) : ACTOR_ENOMEM;
  json_decref(f);
  return rc;
}

static void fire(api_pass_t *p, const char *db_id, const char *next_ex, const char *following) {
  api_ctx_t *c = p->c;
  int rc = move_next(c, db_id, next_ex, following);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND)
    return; /* claimed by another tick, updated, or deleted meanwhile */
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "cron: actor %s: cannot move cron_next_ex: %s", db_id, actor_strerror(rc));
    return;
  }
  json_t *actor = NULL, *text = json_string(CRON_MESSAGE);
  rc = text ? model_actor_get(c->redis, db_id, &actor) : ACTOR_ENOMEM;
  char eid[ACTOR_ID_MAX] = "";
  const char *what = "actor";
  if (rc == 0) {
    api_message_t m = {.message = text,
                       .content_type = "str",
                       .executor = CRON_EXECUTOR,
                       .api_server = actor_json_str(actor, "api_server", "")};
    rc = api_message_submit(&p->req, actor, &m, eid, &what);
  }
  if (rc == 0) {
    api_metrics_count(c->metrics, API_COUNT_CRON_EXECUTIONS, 1);
    LOG_INFO("api", "cron: actor %s: execution %s for the run of %s; next run %s", db_id, eid,
             next_ex, following);
  } else if (rc != ACTOR_ENOTFOUND) {
    LOG_WARN("api",
             "cron: actor %s: the run of %s could not be sent (%s: %s); retrying on the "
             "next tick",
             db_id, next_ex, what, actor_strerror(rc));
    move_next(c, db_id, following, next_ex);
  }
  json_decref(text);
  json_decref(actor);
}

static void check_actor(const char *db_id, void *ud) {
  api_pass_t *p = ud;
  api_ctx_t *c = p->c;
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  static const char *const FIELDS[] = {"cron_on", "cron_next_ex", "cron_schedule", "queue",
                                       "status", NULL};
  json_t *rec = NULL;
  int rc = store_record_fields(c->redis, key, FIELDS, &rec);
  if (rc != 0) {
    if (rc != ACTOR_ENOTFOUND) /* gone meanwhile */
      api_metrics_store_error(c->metrics, "redis");
    return;
  }
  json_t *on = json_object_get(rec, "cron_on"), *next = json_object_get(rec, "cron_next_ex"),
         *sched = json_object_get(rec, "cron_schedule"), *queue = json_object_get(rec, "queue"),
         *status = json_object_get(rec, "status");
  int64_t due = 0;
  char following[API_CRON_NEXT_MAX];
  if (json_is_true(on) && json_is_string(next) && json_is_string(sched) &&
      api_leases_cover(&p->leases, json_is_string(queue) ? json_string_value(queue) : "default") &&
      !(json_is_string(status) && strcmp(json_string_value(status), ACTOR_SHUTTING_DOWN) == 0) &&
      api_cron_time(json_string_value(next), &due) == 0 && due <= p->now) {
    if (api_cron_advance(json_string_value(sched), due, p->now, following) == 0)
      fire(p, db_id, json_string_value(next), following);
    else
      LOG_WARN("api", "cron: actor %s: unreadable cron_schedule '%s'", db_id,
               json_string_value(sched));
  }
  json_decref(rec);
}

void api_cron_tick(api_ctx_t *c, unsigned long long *cursor) {
  static const api_job_t JOB = {.name = CRON_EXECUTOR,
                                .hold_ms = CRON_LEASE_HOLD_MS,
                                .max_actors = CRON_MAX_ACTORS,
                                .ticks = API_COUNT_CRON_TICKS,
                                .now = api_cron_now_ms, /* the cron clock */
                                .each = check_actor};
  api_job_tick(c, &JOB, c->cron_interval, cursor);
}
