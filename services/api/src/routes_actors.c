/* /actors and /actors/{id}: list, register, read, update, delete. The
 * body checks are in actor_spec.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "access.h"
#include "api.h"

void api_actors_list(api_req_t *r) {
  json_t *ids = NULL, *out = json_array();
  int rc = model_actor_list_ids(r->ctx->redis, r->ident.tenant, &ids);
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, "actor");
    return;
  }
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    json_t *actor = NULL;
    rc = model_actor_get(r->ctx->redis, json_string_value(id), &actor);
    if (rc == ACTOR_ENOTFOUND) /* deleted meanwhile */
      continue;
    if (rc != 0)
      break;
    if (api_has_level(r, actor, API_READ)) /* only what the caller may read */
      json_array_append_new(out, api_actor_display(r, actor));
    json_decref(actor);
  }
  json_decref(ids);
  if (rc != 0 && rc != ACTOR_ENOTFOUND) {
    json_decref(out);
    api_store_error(r, rc, "actor");
    return;
  }
  api_ok(r, "Actors retrieved successfully.", out);
}

void api_actors_create(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  json_t *actor = api_actor_from_body(r, body, NULL, NULL);
  json_decref(body);
  if (actor == NULL)
    return;
  const char *db_id = json_string_value(json_object_get(actor, "db_id"));
  /* The owner's UPDATE goes first: an actor is never stored without it. */
  int rc = api_actor_registered(r, db_id);
  if (rc == 0)
    rc = model_actor_put(r->ctx->redis, db_id, actor);
  if (rc != 0) {
    json_decref(actor);
    api_store_error(r, rc, "actor");
    return;
  }
  /* The mailbox gets its arguments now (a stateful actor's is single-
   * active-consumer); if the broker is away, the first publish or worker
   * declares it with the same ones. */
  api_cron_index(r->ctx, db_id, actor);
  rc = api_mailbox_prepare(r->ctx, actor);
  if (rc != 0)
    LOG_WARN("api", "actor %s: mailbox not declared yet: %s", db_id, actor_strerror(rc));
  rc = api_request_workers(r, actor, (int)r->ctx->init_count);
  if (rc != 0) {
    /* The actor exists but no worker could be requested: the first message
     * will ask again; say so instead of failing the registration. */
    LOG_WARN("api", "actor %s: could not request workers: %s", db_id, actor_strerror(rc));
  }
  LOG_INFO("api", "actor %s registered (image %s)", db_id,
           json_string_value(json_object_get(actor, "image")));
  api_ok(r, "Actor created successfully.", api_actor_display(r, actor));
  json_decref(actor);
}

void api_actor_get(api_req_t *r) {
  api_ok(r, "Actor retrieved successfully.", api_actor_display(r, r->actor));
}

/* The workers of the previous revision are told to stop once the new ones
 * are requested: the mailbox is never without a worker on its way, and
 * an old worker refuses a message of a newer revision (worker side). */
static void replace_workers(api_req_t *r, const json_t *actor, json_t *old) {
  size_t n = json_array_size(old);
  if (n < 1)
    n = 1;
  if (!actor_json_bool(actor, "stateless", true))
    n = 1;
  int rc = api_request_workers(r, actor, (int)n);
  if (rc != 0)
    LOG_WARN("api", "actor %s: could not request workers of the new revision: %s", r->db_id,
             actor_strerror(rc));
  size_t i;
  json_t *w;
  json_array_foreach(old, i, w) {
    const char *wid = json_string_value(json_object_get(w, "id"));
    if (wid && (rc = api_stop_worker(r, r->db_id, wid)) != 0)
      LOG_WARN("api", "actor %s: could not stop worker %s of the old revision: %s", r->db_id,
               wid, actor_strerror(rc));
  }
}

void api_actor_update(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  bool bump = false;
  json_t *actor = api_actor_from_body(r, body, r->actor, &bump);
  json_decref(body);
  if (actor == NULL)
    return;
  json_t *old = NULL, *fields = json_deep_copy(actor);
  int rc = fields ? 0 : ACTOR_ENOMEM;
  if (rc == 0 && bump)
    rc = api_live_workers(r, r->db_id, &old, NULL);
  if (rc == 0) {
    /* Fields others write stay theirs: the state (POST /state, the
     * actor) and, unless this update resets it, the status. */
    json_object_del(fields, "state");
    if (!bump) {
      json_object_del(fields, "status");
      json_object_del(fields, "status_message");
    }
    rc = model_actor_update(r->ctx->redis, r->db_id, fields);
    if (rc == 0)
      api_cron_index(r->ctx, r->db_id, actor);
  }
  json_decref(fields);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", r->params[0]);
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    goto cleanup;
  }
  /* Stateful now (perhaps newly): its mailbox must be single-active-
   * consumer before new workers come (logged when it cannot be yet). */
  if (!actor_json_bool(actor, "stateless", true))
    api_mailbox_prepare(r->ctx, actor);
  if (bump) {
    LOG_INFO("api", "actor %s updated to revision %lld (image %s)", r->db_id,
             actor_json_int(actor, "revision", 0), actor_json_str(actor, "image", ""));
    replace_workers(r, actor, old);
  }
  json_t *now = NULL;
  if (model_actor_get(r->ctx->redis, r->db_id, &now) == 0) {
    if (bump) {
      /* the answer shows what this update wrote, SUBMITTED, as Abaco's
       * does, even when a new worker came up READY in between */
      json_object_set(now, "status", json_object_get(actor, "status"));
      json_object_set(now, "status_message", json_object_get(actor, "status_message"));
    }
    json_decref(actor);
    actor = now;
  }
  api_ok(r, "Actor updated successfully.", api_actor_display(r, actor));

cleanup:
  json_decref(old);
  json_decref(actor);
}

/* Idle workers told to stop usually exit within a few hundred ms; the
 * mailbox is deleted after they have gone, because a worker still
 * consuming it would declare it again. Busy workers finish their
 * execution first and are not waited for. */
#define DELETE_WAIT_MS 3000
#define DELETE_POLL_MS 50

static void wait_for_idle_workers(api_req_t *r, json_t *idle) {
  int64_t deadline = actor_time_mono_ms() + DELETE_WAIT_MS;
  while (json_array_size(idle) > 0 && actor_time_mono_ms() < deadline) {
    usleep(DELETE_POLL_MS * 1000);
    for (size_t i = json_array_size(idle); i-- > 0;) {
      json_t *w = NULL;
      const char *wid = json_string_value(json_array_get(idle, i));
      int rc = model_worker_get(r->ctx->redis, r->db_id, wid, &w);
      json_decref(w);
      if (rc == ACTOR_ENOTFOUND)
        json_array_remove(idle, i);
      else if (rc != 0)
        return;
    }
  }
}

void api_actor_delete(api_req_t *r) {
  api_ctx_t *c = r->ctx;
  int rc = model_actor_set_status(c->redis, r->db_id, ACTOR_SHUTTING_DOWN, NULL);
  if (rc != 0 && rc != ACTOR_ENOTFOUND) {
    api_store_error(r, rc, "actor");
    return;
  }
  json_t *workers = NULL;
  rc = model_worker_list(c->redis, r->db_id, &workers);
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  json_t *idle = json_array();
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) {
    const char *wid = json_string_value(json_object_get(w, "id"));
    if (wid == NULL)
      continue;
    if (strcmp(actor_json_str(w, "status", ""), WORKER_READY) == 0)
      json_array_append_new(idle, json_string(wid));
    int prc = api_stop_worker(r, r->db_id, wid);
    if (prc != 0 && prc != ACTOR_ENOTFOUND)
      LOG_WARN("api", "actor %s: could not tell worker %s to stop: %s", r->db_id, wid,
               actor_strerror(prc));
  }
  wait_for_idle_workers(r, idle);
  json_decref(idle);
  /* What is left (coming up, busy, or a worker that never answered) is
   * forgotten: the spawner drops commands of a deleted actor and a worker
   * that exits later finds its record gone. */
  json_array_foreach(workers, i, w) {
    const char *wid = json_string_value(json_object_get(w, "id"));
    if (wid) { /* best effort, see above: health removes what is left */
      api_live_forget(r->db_id);
      ACTOR_IGNORE(model_worker_delete(c->redis, r->db_id, wid));
    }
  }
  json_decref(workers);

  rc = api_mailbox_delete(c, r->db_id);
  if (rc != 0)
    LOG_WARN("api", "actor %s: could not delete mailbox: %s", r->db_id, actor_strerror(rc));
  rc = api_forget_actor(r, r->db_id);
  if (rc == 0)
    rc = model_logs_delete_actor(c->mongo, r->db_id);
  if (rc == 0)
    rc = model_actor_delete(c->redis, r->db_id);
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return;
  }
  LOG_INFO("api", "actor %s deleted", r->db_id);
  api_ok(r, "Actor deleted successfully.", NULL);
}
