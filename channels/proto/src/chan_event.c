/* Building and publishing platform events (channels/proto/event.h). The
 * body is built here, once, so the worker and the spawner cannot drift
 * apart on the fields the api's link and webhook consumers rely on. */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"

static const char *str_field(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

json_t *chan_event_body(const chan_event_t *e) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *b =
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "tenant_id", str_field(e->actor, "tenant"),
                "event_type", e->type, "event_time_utc", now, "event_time_display", now, "actor_id",
                str_field(e->actor, "id"), "actor_dbid", str_field(e->actor, "db_id"));
  if (b == NULL)
    return NULL;
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

json_t *chan_instance_event_body(const char *type, const json_t *rec) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "tenant_id", str_field(rec, "tenant"),
                        "tenant", str_field(rec, "tenant"), "event_type", type, "event_time_utc",
                        now, "event_time_display", now, "instance_id", str_field(rec, "id"));
  if (b == NULL)
    return NULL;
  static const char *const KEYS[] = {"ec2_instance_id", "name", "owner", "config", "state",
                                     "error", NULL};
  for (int i = 0; KEYS[i]; i++) {
    const json_t *v = json_object_get(rec, KEYS[i]);
    json_object_set_new(b, KEYS[i], json_is_string(v) ? json_copy((json_t *)v) : json_null());
  }
  return b;
}

int chan_event_publish(chan_client_t *cl, const chan_event_t *e, int timeout_ms) {
  json_t *b = chan_event_body(e);
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
