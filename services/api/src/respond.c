/* Responses and request bodies: the Abaco envelope, snake/camel case on the
 * way in and out, and reading JSON or form bodies into one object shape. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "api.h"

/* Values whose keys are user data and keep their case. */
static const char *const OPAQUE_KEYS[] = {"default_environment", "state", "final_state", "msg",
                                          "_links", "messages", NULL};

static void send_envelope(api_req_t *r, int status, bool ok, const char *message,
                          json_t *result) {
  json_t *env = actor_envelope(ok, message, result, r->ctx->version);
  json_t *out = env;
  if (env && r->ctx->camel) {
    out = actor_json_convert_keys(env, true, OPAQUE_KEYS);
    json_decref(env);
  }
  char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
  json_decref(out);
  if (text == NULL) {
    static const char FALLBACK[] =
        "{\"status\":\"error\",\"message\":\"out of memory\",\"result\":null}";
    ahttp_respond(r->http, 500, "application/json", FALLBACK, sizeof(FALLBACK) - 1);
    return;
  }
  ahttp_respond_owned(r->http, status, "application/json", text, strlen(text));
}

void api_ok(api_req_t *r, const char *message, json_t *result) {
  send_envelope(r, 200, true, message, result);
}

void api_answer(api_req_t *r, int status, const char *message, json_t *result) {
  send_envelope(r, status, true, message, result);
}

void api_error(api_req_t *r, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  send_envelope(r, status, false, msg, NULL);
}

/* Which store a handler's `what` lives in, for abaco_store_errors_total. */
static const char *store_of(const char *what) {
  static const char *const MAP[][2] = {
      {"actor", "redis"},         {"worker", "redis"},          {"execution", "mongo"},
      {"logs", "mongo"},          {"message queue", "rabbitmq"}, {"results queue", "rabbitmq"},
      {"worker channel", "rabbitmq"}, {"instance", "redis"},       {"configuration", "redis"},
      {"group", "redis"},           {"params", "redis"},           {"audit", "mongo"},
      {"launch queue", "rabbitmq"}, {"command queue", "rabbitmq"}};
  for (size_t i = 0; i < sizeof(MAP) / sizeof(MAP[0]); i++)
    if (strcmp(MAP[i][0], what) == 0)
      return MAP[i][1];
  return "other";
}

void api_store_error(api_req_t *r, int rc, const char *what) {
  api_metrics_store_error(r->ctx->metrics, store_of(what));
  LOG_ERROR("api", "%s %s: %s failed: %s", r->http->method, r->http->path, what,
            actor_strerror(rc));
  if (rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT || rc == ACTOR_ECHANNEL)
    api_error(r, 503, "Service unavailable: the %s store could not be reached; try again.",
              what);
  else
    api_error(r, 500, "Unexpected error reading %s: %s.", what, actor_strerror(rc));
}

json_t *api_body_object(api_req_t *r) {
  ahttp_req_t *h = r->http;
  json_t *obj = NULL;
  if (h->is_form) {
    obj = json_object();
    for (size_t i = 0; obj && i < h->form.n; i++)
      json_object_set_new(obj, h->form.items[i].key,
                          json_string(h->form.items[i].value ? h->form.items[i].value : ""));
  } else if (h->body_len == 0) {
    obj = json_object();
  } else {
    json_error_t err;
    obj = json_loadb(h->body, h->body_len, 0, &err);
    if (obj == NULL) {
      api_error(r, 400, "Could not parse the request body as JSON: %s.", err.text);
      return NULL;
    }
    if (!json_is_object(obj)) {
      json_decref(obj);
      api_error(r, 400, "The request body must be a JSON object.");
      return NULL;
    }
  }
  if (obj && r->ctx->camel) {
    json_t *snake = actor_json_convert_keys(obj, false, OPAQUE_KEYS);
    json_decref(obj);
    obj = snake;
  }
  if (obj == NULL)
    api_error(r, 500, "out of memory");
  return obj;
}
