/* The instance events of the reconciler (docs/cloud.md "Channels"): which
 * state change implies which event, its body, and its publication on the
 * events channel after the record is written. Kept in one place so it can
 * be folded with the launcher's instance events into channels/proto. */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/timefmt.h"
#include "channels/proto/name.h"
#include "updater.h"

/* Each publication waits at most this long for the broker's confirm. */
#define UPD_EVENT_TIMEOUT_MS 5000

static bool is(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

const char *upd_event_for(const char *from, const char *to) {
  if (to == NULL || is(from, to))
    return NULL;
  if (is(to, "stopped"))
    return UPD_EVENT_STOPPED;
  if (is(to, "terminated"))
    return UPD_EVENT_TERMINATED;
  if (is(to, "failed"))
    return UPD_EVENT_ERROR;
  /* first seen running after a launch (or a start) */
  if (is(to, "running") && (is(from, "launching") || is(from, "pending")))
    return UPD_EVENT_READY;
  return NULL;
}

static json_t *field(const json_t *rec, const char *key) {
  json_t *v = json_object_get(rec, key);
  return v ? json_deep_copy(v) : json_null();
}

json_t *upd_event_body(const char *type, const json_t *rec) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *b = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}", "tenant_id", field(rec, "tenant"),
                        "event_type", type, "event_time_utc", now, "event_time_display", now,
                        "tenant", field(rec, "tenant"), "instance_id", field(rec, "id"));
  static const char *const keys[] = {"ec2_instance_id", "name", "owner", "config", "state",
                                     "error"};
  for (size_t i = 0; b && i < sizeof(keys) / sizeof(*keys); i++)
    if (json_object_set_new(b, keys[i], field(rec, keys[i])) != 0) {
      json_decref(b);
      return NULL;
    }
  return b;
}

int upd_event_publish(chan_client_t *cl, const char *type, const json_t *rec) {
  if (cl == NULL)
    return 0;
  json_t *b = upd_event_body(type, rec);
  char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
  json_decref(b);
  if (text == NULL)
    return ACTOR_ENOMEM;
  int rc = chan_client_publish(cl, CHAN_EVENTS, text, strlen(text), NULL, UPD_EVENT_TIMEOUT_MS);
  free(text);
  return rc;
}
