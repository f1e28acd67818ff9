/* /actors/{id}/workers: list and detail. */
#include "actor/errors.h"
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

void api_worker_get(api_req_t *r) {
  json_t *w = NULL;
  int rc = model_worker_get(r->ctx->redis, r->db_id, r->params[1], &w);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Worker with identifier '%s' not found", r->params[1]);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "worker");
    return;
  }
  api_ok(r, "Worker retrieved successfully.", api_worker_display(r, w));
  json_decref(w);
}
