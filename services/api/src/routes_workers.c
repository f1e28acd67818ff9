/* /actors/{id}/workers: list, detail, "make sure there are at least num",
 * and stop one. */
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "api.h"

void api_workers_list(api_req_t *r) {
  json_t *workers = NULL;
  int rc = model_worker_list(r->ctx->redis, r->db_id, &workers);
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) json_array_append_new(out, api_worker_display(r, w));
  json_decref(workers);
  api_ok(r, "Workers retrieved successfully.", out);
}

/* num comes from the body (JSON or form) or, failing that, the query. */
static int read_num(api_req_t *r, long long *num) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return -1;
  const char *q = ahttp_kvs_get(&r->http->query, "num", 0);
  if (json_object_get(body, "num") == NULL && q)
    json_object_set_new(body, "num", json_string(q));
  bool present = false;
  int rc = api_field_int(r, body, "num", 0, &present, num);
  json_decref(body);
  if (rc != 0)
    return -1;
  if (!present || *num == 0)
    *num = 1;
  return 0;
}

/* A stateful actor may get more workers too (as in Abaco): its mailbox is
 * a single-active-consumer queue (mailbox.c), so one of them at a time
 * runs its messages and another takes over if it goes. */
void api_workers_ensure(api_req_t *r) {
  long long num = 1, have = 0;
  if (!r->ident.admin) {
    api_error(r, 400, "Not authorized -- only admins are authorized to update workers.");
    return;
  }
  if (read_num(r, &num) != 0)
    return;
  if (num > 100) {
    api_error(r, 400, "Invalid num: at most 100 workers may be requested at once.");
    return;
  }
  int rc = api_live_workers(r, r->db_id, NULL, &have);
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  const char *aid = actor_json_str(r->actor, "id", "");
  char msg[256];
  if (have >= num) {
    snprintf(msg, sizeof(msg), "Actor %s already had %lld worker(s).", aid, have);
    api_ok(r, msg, NULL);
    return;
  }
  if (!actor_json_bool(r->actor, "stateless", true) &&
      (rc = api_mailbox_prepare(r->ctx, r->actor)) != 0) {
    api_error(r, 503,
              "Could not add workers: the mailbox of stateful actor %s could not be made "
              "single-active-consumer yet (%s); try again.",
              aid, actor_strerror(rc));
    return;
  }
  rc = api_request_workers(r, r->actor, (int)(num - have));
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  LOG_INFO("api", "actor %s: %lld worker(s) added on request (had %lld)", r->db_id, num - have,
           have);
  snprintf(msg, sizeof(msg),
           "Scheduled %lld new worker(s) to start. Previously, there were "
           "%lld workers.",
           num - have, have);
  api_ok(r, msg, NULL);
}

/* Loads {wid}; answers 404 itself when the actor has no such worker. */
static json_t *load_worker(api_req_t *r) {
  json_t *w = NULL;
  int rc = model_worker_get(r->ctx->redis, r->db_id, r->params[1], &w);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Worker with identifier '%s' not found", r->params[1]);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return NULL;
  }
  return w;
}

void api_worker_get(api_req_t *r) {
  json_t *w = load_worker(r);
  if (w == NULL)
    return;
  api_ok(r, "Worker retrieved successfully.", api_worker_display(r, w));
  json_decref(w);
}

void api_worker_stop(api_req_t *r) {
  json_t *w = load_worker(r);
  if (w == NULL)
    return;
  json_decref(w);
  int rc = api_stop_worker(r, r->db_id, r->params[1]);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Worker with identifier '%s' not found", r->params[1]);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  LOG_INFO("api", "actor %s: worker %s asked to stop", r->db_id, r->params[1]);
  api_ok(r, "Worker scheduled to be stopped.", NULL);
}
