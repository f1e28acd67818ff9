/* Building and publishing platform events (channels/proto/event.h). The
 * bodies are built here, once, so the producers (worker, spawner,
 * launcher, updater) cannot drift apart on the fields the api's link and
 * webhook consumers rely on. Actor and instance events share the stamp
 * (tenant, type, time) and the publishing; only their own fields differ. */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"

static const char *str_field(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* A string, or null when s is NULL (new reference). */
static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

/* {tenant_id, event_type, event_time_utc, event_time_display}, stamped now
 * (new reference; NULL when out of memory). */
static json_t *event_stamp(const char *tenant, const char *type) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  return json_pack("{s:s, s:s, s:s, s:s}", "tenant_id", tenant, "event_type", type,
                   "event_time_utc", now, "event_time_display", now);
}

/* Sends the body on CHAN_EVENTS (one retry); takes b. */
static int publish_body(chan_client_t *cl, json_t *b, int timeout_ms) {
  char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
  json_decref(b);
  if (text == NULL)
    return ACTOR_ENOMEM;
  int rc = ACTOR_ECONN;
  for (int attempt = 0; attempt < 2 && rc != 0; attempt++)
    rc = chan_client_publish(cl, CHAN_EVENTS, text, strlen(text), NULL, timeout_ms);
  free(text);
  return rc;
}

json_t *chan_event_body(const chan_event_t *e) {
  json_t *b = event_stamp(str_field(e->actor, "tenant"), e->type);
  if (b == NULL)
    return NULL;
  json_object_set_new(b, "actor_id", json_string(str_field(e->actor, "id")));
  json_object_set_new(b, "actor_dbid", json_string(str_field(e->actor, "db_id")));
  if (e->execution_id)
    json_object_set_new(b, "execution_id", json_string(e->execution_id));
  if (e->status)
    json_object_set_new(b, "status", json_string(e->status));
  if (e->has_exit_code)
    json_object_set_new(b, "exit_code", json_integer(e->exit_code));
  if (e->status_message)
    json_object_set_new(b, "status_message", json_string(e->status_message));
  return b;
}

int chan_event_publish(chan_client_t *cl, const chan_event_t *e, int timeout_ms) {
  return publish_body(cl, chan_event_body(e), timeout_ms);
}

json_t *chan_instance_event_body(const chan_instance_event_t *e) {
  static const char *const COPIED[] = {"ec2_instance_id", "name", "owner", "config", "state",
                                       "error", NULL};
  const json_t *rec = e->instance;
  json_t *b = event_stamp(str_field(rec, "tenant"), e->type);
  if (b == NULL)
    return NULL;
  int rc = json_object_set_new(b, "instance_id", json_string(str_field(rec, "id")));
  for (int i = 0; COPIED[i] && rc == 0; i++) {
    const char *v = json_string_value(json_object_get(rec, COPIED[i]));
    if (strcmp(COPIED[i], "state") == 0 && e->state)
      v = e->state;
    else if (strcmp(COPIED[i], "error") == 0 && e->error)
      v = e->error;
    rc = json_object_set_new(b, COPIED[i], str_or_null(v));
  }
  if (rc != 0) {
    json_decref(b);
    return NULL;
  }
  return b;
}

int chan_instance_event_publish(chan_client_t *cl, const chan_instance_event_t *e,
                                int timeout_ms) {
  return publish_body(cl, chan_instance_event_body(e), timeout_ms);
}
