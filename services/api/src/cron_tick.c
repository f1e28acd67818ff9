/* The cron tick (docs/api.md "Events, links, webhooks, cron"): actors with cron_on get the message "This is
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
 * use it instead of waiting hours). The actors looked at are those of the
 * sorted set abaco:cron:due (model.h) scored at or before now: every actor
 * with cron_on, scored by the ms of its cron_next_ex, kept by the routes
 * that write an actor (api_cron_index) and by the tick itself (the next
 * run after a fire, the run given back after a failed send; an actor
 * whose cron is off, or whose record is gone, leaves it). A tick costs the
 * due actors, not every actor. Every api start adds every actor with
 * cron_on to the set (api_cron_index_repair: a stack upgraded from a
 * release without it, or a write whose index update failed). At most
 * CRON_MAX_ACTORS due actors per tick, oldest due first; the rest are
 * still due at the next tick. */
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

static void index_set(api_ctx_t *c, const char *db_id, const char *next_ex) {
  int64_t due = 0;
  int rc = next_ex && api_cron_time(next_ex, &due) == 0
               ? store_zset_add(c->redis, MODEL_KEY_CRON, due, db_id)
               : store_zset_remove(c->redis, MODEL_KEY_CRON, db_id);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "cron: actor %s: cannot update the cron index: %s", db_id,
             actor_strerror(rc));
  }
}

void api_cron_index(api_ctx_t *c, const char *db_id, const json_t *actor) {
  const json_t *next = json_object_get(actor, "cron_next_ex");
  index_set(c, db_id,
            json_is_true(json_object_get(actor, "cron_on")) && json_is_string(next)
                ? json_string_value(next)
                : NULL);
}

/* Adds the actors of one page of ids that have cron_on to the index. */
static int repair_page(api_ctx_t *c, const json_t *ids) {
  size_t n = json_array_size(ids);
  json_t *on = NULL, *next = NULL;
  int rc = model_actor_field_many(c->redis, ids, "cron_on", &on);
  if (rc == 0)
    rc = model_actor_field_many(c->redis, ids, "cron_next_ex", &next);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    int64_t due = 0;
    const json_t *ne = json_array_get(next, i);
    if (json_is_true(json_array_get(on, i)) && json_is_string(ne) &&
        api_cron_time(json_string_value(ne), &due) == 0)
      rc = store_zset_add(c->redis, MODEL_KEY_CRON, due, json_string_value(json_array_get(ids, i)));
  }
  json_decref(on);
  json_decref(next);
  return rc;
}

int api_cron_index_repair(api_ctx_t *c) {
  unsigned long long cursor = 0;
  do {
    json_t *ids = NULL;
    int rc = store_set_scan_count(c->redis, MODEL_KEY_ACTORS, &cursor, 500, &ids);
    if (rc == 0)
      rc = repair_page(c, ids);
    json_decref(ids);
    if (rc != 0)
      return rc;
  } while (cursor != 0);
  return 0;
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
  index_set(c, db_id, following);
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
    if (move_next(c, db_id, following, next_ex) == 0)
      index_set(c, db_id, next_ex);
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
  if (rc == ACTOR_ENOTFOUND) {
    index_set(c, db_id, NULL); /* deleted */
    return;
  }
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    return;
  }
  json_t *on = json_object_get(rec, "cron_on"), *next = json_object_get(rec, "cron_next_ex"),
         *sched = json_object_get(rec, "cron_schedule"), *queue = json_object_get(rec, "queue"),
         *status = json_object_get(rec, "status");
  int64_t due = 0;
  char following[API_CRON_NEXT_MAX];
  if (!json_is_true(on) || !json_is_string(next) ||
      api_cron_time(json_string_value(next), &due) != 0) {
    index_set(c, db_id, NULL); /* no cron (any more) */
    json_decref(rec);
    return;
  }
  if (due > p->now) {
    index_set(c, db_id, json_string_value(next)); /* moved by an update meanwhile */
    json_decref(rec);
    return;
  }
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

/* The due actors of the index, at most max, oldest due first. */
static int due_scan(api_pass_t *p, size_t max) {
  json_t *ids = NULL;
  int rc = store_zset_upto(p->c->redis, MODEL_KEY_CRON, p->now, max, &ids);
  if (rc != 0) {
    api_metrics_store_error(p->c->metrics, "redis");
    return rc;
  }
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) check_actor(json_string_value(id), p);
  json_decref(ids);
  return 0;
}

void api_cron_tick(api_ctx_t *c, unsigned long long *cursor) {
  static const api_job_t JOB = {.name = CRON_EXECUTOR,
                                .hold_ms = CRON_LEASE_HOLD_MS,
                                .max_actors = CRON_MAX_ACTORS,
                                .ticks = API_COUNT_CRON_TICKS,
                                .now = api_cron_now_ms, /* the cron clock */
                                .each = check_actor,
                                .scan = due_scan};
  api_job_tick(c, &JOB, c->cron_interval, cursor);
}
