/* The instance events of the reconciler (docs/cloud.md "Channels"): which
 * state change implies which event, its body, and its publication on the
 * events channel after the record is written (the body is channels/proto's
 * chan_instance_event_body, shared with the launcher). */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "channels/proto/event.h"
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

int upd_event_publish(chan_client_t *cl, const char *type, const json_t *rec) {
  if (cl == NULL)
    return 0;
  chan_instance_event_t e = {.type = type, .instance = rec};
  return chan_instance_event_publish(cl, &e, UPD_EVENT_TIMEOUT_MS);
}
