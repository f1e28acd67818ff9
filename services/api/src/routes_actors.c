/* /actors and /actors/{id}: list, register, read, delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
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

/* Hints are free text but may not carry quoting or structure characters. */
static int check_hints(api_req_t *r, json_t *body, json_t **out) {
  json_t *v = json_object_get(body, "hints");
  *out = NULL;
  if (v == NULL || json_is_null(v)) {
    *out = json_array();
    return 0;
  }
  json_t *list = NULL;
  if (json_is_array(v)) {
    list = json_incref(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    list = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!json_is_array(list)) {
      json_decref(list);
      list = json_array();
      /* a form may send "a,b" */
      char *copy = strdup(s), *save = NULL;
      for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(list, json_string(t));
      free(copy);
    }
  }
  size_t i;
  json_t *h;
  json_array_foreach(list, i, h) {
    const char *s = json_string_value(h);
    if (s == NULL || strpbrk(s, "\"'{}[]") != NULL) {
      json_decref(list);
      api_error(r, 400, "Invalid hints: hints must be strings without the characters \" ' { } [ ].");
      return -1;
    }
  }
  if (list == NULL) {
    api_error(r, 400, "Invalid hints: must be a list of strings.");
    return -1;
  }
  *out = list;
  return 0;
}

static bool queue_allowed(const char *host_queues, const char *queue) {
  char *copy = strdup(host_queues ? host_queues : "default"), *save = NULL;
  bool found = false;
  for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t && !found;
       t = strtok_r(NULL, ", ", &save))
    found = strcmp(t, queue) == 0;
  free(copy);
  return found;
}

/* Copies an optional scalar field: strings as given, else JSON null. */
static void copy_opt(json_t *actor, json_t *body, const char *field, json_t *def) {
  json_t *v = json_object_get(body, field);
  json_object_set_new(actor, field, v && !json_is_null(v) ? json_incref(v) : def);
}

/* Builds a new actor record from a registration body; NULL after a 400. */
static json_t *actor_from_body(api_req_t *r, json_t *body) {
  const char *image = json_string_value(json_object_get(body, "image"));
  if (image == NULL || *image == '\0') {
    api_error(r, 400, "image is required: the Docker image of the actor.");
    return NULL;
  }
  bool stateless, privileged, use_uid, token, cron_on;
  if (api_field_bool(r, body, "stateless", true, &stateless) ||
      api_field_bool(r, body, "privileged", false, &privileged) ||
      api_field_bool(r, body, "use_container_uid", false, &use_uid) ||
      api_field_bool(r, body, "token", false, &token) ||
      api_field_bool(r, body, "cron_on", false, &cron_on))
    return NULL;
  json_t *env = NULL, *hints = NULL;
  if (api_field_object(r, body, "default_environment", &env) != 0)
    return NULL;
  if (check_hints(r, body, &hints) != 0) {
    json_decref(env);
    return NULL;
  }
  json_t *mw = json_object_get(body, "max_workers");
  if (!stateless && mw && !json_is_null(mw)) {
    json_decref(env);
    json_decref(hints);
    api_error(r, 400, "stateful actors can only have 1 worker.");
    return NULL;
  }
  const char *queue = json_string_value(json_object_get(body, "queue"));
  if (queue == NULL || *queue == '\0')
    queue = "default";
  if (!queue_allowed(r->ctx->host_queues, queue)) {
    json_decref(env);
    json_decref(hints);
    api_error(r, 400, "Invalid queue name.");
    return NULL;
  }

  char id[ACTOR_ID_MAX], db_id[MODEL_KEY_MAX], now[ACTOR_TIME_MAX];
  if (actor_id_new(id) != 0) {
    json_decref(env);
    json_decref(hints);
    api_error(r, 500, "Could not generate an actor id.");
    return NULL;
  }
  model_db_id(r->ident.tenant, id, db_id);
  actor_time_format(actor_time_now_ms(), now);

  json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:o, "
                        "s:o, s:{}, s:s, s:s, s:I, s:s, s:b, s:s, s:s}",
                        "id", id, "db_id", db_id, "tenant", r->ident.tenant, "api_server",
                        r->api_server, "owner", r->ident.username, "image", image, "status",
                        ACTOR_SUBMITTED, "status_message", "", "stateless", stateless,
                        "privileged", privileged, "use_container_uid", use_uid, "token",
                        token, "default_environment", env ? env : json_object(), "hints",
                        hints, "state", "create_time", now, "last_update_time", now,
                        "revision", (json_int_t)1, "type", "none", "cron_on", cron_on,
                        "queue", queue, "description", "");
  if (a == NULL) {
    api_error(r, 500, "out of memory");
    return NULL;
  }
  json_t *desc = json_object_get(body, "description");
  if (json_is_string(desc))
    json_object_set(a, "description", desc);
  copy_opt(a, body, "name", json_null());
  copy_opt(a, body, "link", json_string(""));
  copy_opt(a, body, "webhook", json_string(""));
  copy_opt(a, body, "max_workers", json_null());
  copy_opt(a, body, "mem_limit", json_null());
  copy_opt(a, body, "max_cpus", json_null());
  copy_opt(a, body, "cron_schedule", json_null());
  copy_opt(a, body, "log_ex", json_null());
  copy_opt(a, body, "mounts", json_array());
  static const char *const UNSET[] = {"gid", "uid", "tasdir", "cron_next_ex", NULL};
  for (int i = 0; UNSET[i]; i++)
    json_object_set_new(a, UNSET[i], json_null());
  return a;
}

void api_actors_create(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  json_t *actor = actor_from_body(r, body);
  json_decref(body);
  if (actor == NULL)
    return;
  const char *db_id = json_string_value(json_object_get(actor, "db_id"));
  int rc = model_actor_put(r->ctx->redis, db_id, actor);
  if (rc != 0) {
    json_decref(actor);
    api_store_error(r, rc, "actor");
    return;
  }
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
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) {
    const char *wid = json_string_value(json_object_get(w, "id"));
    char q[CHAN_NAME_MAX];
    chan_name_worker(wid, q);
    static const char STOP[] = "\"stop\"";
    int prc = chan_client_publish(c->chan, q, STOP, sizeof(STOP) - 1, NULL, 5000);
    if (prc != 0)
      LOG_WARN("api", "actor %s: could not tell worker %s to stop: %s", r->db_id, wid,
               actor_strerror(prc));
    model_worker_delete(c->redis, r->db_id, wid);
  }
  json_decref(workers);

  char mailbox[CHAN_NAME_MAX];
  chan_name_mailbox(r->db_id, mailbox);
  rc = chan_client_delete_queue(c->chan, mailbox);
  if (rc != 0)
    LOG_WARN("api", "actor %s: could not delete mailbox: %s", r->db_id, actor_strerror(rc));
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
