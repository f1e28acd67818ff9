/* /actors/{id}/state: the state of a stateful actor, any JSON value. It is
 * one field of the actor record, written on its own, so a state update
 * and an actor update never undo each other. */
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "api.h"

static bool stateful(api_req_t *r) {
  if (actor_json_bool(r->actor, "stateless", true)) {
    api_error(r, 404, "actor is stateless.");
    return false;
  }
  return true;
}

void api_state_get(api_req_t *r) {
  if (!stateful(r))
    return;
  json_t *state = json_object_get(r->actor, "state");
  json_t *res = json_pack("{s:O}", "state", state ? state : json_object());
  api_ok(r, "Actor state retrieved successfully.", res);
}

/* The body: any JSON value; a form becomes an object of its fields. Its
 * size is bounded by [web] max_body_size (router.c). */
static json_t *read_state(api_req_t *r) {
  ahttp_req_t *h = r->http;
  if (h->is_form) {
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < h->form.n; i++)
      json_object_set_new(obj, h->form.items[i].key,
                          json_string(h->form.items[i].value ? h->form.items[i].value : ""));
    return obj;
  }
  json_error_t err;
  json_t *v = h->body_len ? json_loadb(h->body, h->body_len, JSON_DECODE_ANY, &err) : NULL;
  if (v == NULL)
    api_error(r, 400,
              "Invalid actor state: state must be JSON serializable (send a JSON "
              "body).");
  return v;
}

void api_state_set(api_req_t *r) {
  if (!stateful(r))
    return;
  json_t *state = read_state(r);
  if (state == NULL)
    return;
  json_t *fields = json_pack("{s:o}", "state", state);
  int rc = fields ? model_actor_update(r->ctx->redis, r->db_id, fields) : ACTOR_ENOMEM;
  json_decref(fields);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", r->params[0]);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return;
  }
  json_t *actor = NULL;
  rc = model_actor_get(r->ctx->redis, r->db_id, &actor);
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return;
  }
  api_ok(r, "State updated.", api_actor_display(r, actor));
  json_decref(actor);
}
