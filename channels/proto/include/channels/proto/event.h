/* Platform events (docs/api.md "Events, links, webhooks, cron") on the durable `events` queue (CHAN_EVENTS):
 * ACTOR_READY, ACTOR_ERROR and EXECUTION_COMPLETE, as JSON
 * {tenant_id, event_type, event_time_utc, event_time_display, actor_id,
 * actor_dbid, execution_id?, status?, exit_code?, status_message?};
 * and the cloud instances' (docs/cloud.md "Channels") INSTANCE_READY,
 * INSTANCE_ERROR, INSTANCE_STOPPED and INSTANCE_TERMINATED, as
 * {tenant_id, event_type, event_time_utc, event_time_display, instance_id,
 * ec2_instance_id, name, owner, config, state, error} (null for a field
 * the instance lacks). Producers (worker, spawner, launcher, updater)
 * publish an event only after its effect is stored; the api consumes them
 * (link messages and webhooks; for an event_type starting with
 * CHAN_EVENT_INSTANCE_PREFIX, the instance record's link and webhook). */
#ifndef CHANNELS_PROTO_EVENT_H
#define CHANNELS_PROTO_EVENT_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>

#include "channels/chan.h"
#include "channels/proto/name.h"

#define CHAN_EVENT_ACTOR_READY "ACTOR_READY"
#define CHAN_EVENT_ACTOR_ERROR "ACTOR_ERROR"
#define CHAN_EVENT_EXECUTION_COMPLETE "EXECUTION_COMPLETE"
#define CHAN_EVENT_INSTANCE_PREFIX "INSTANCE_"
#define CHAN_EVENT_INSTANCE_READY "INSTANCE_READY"           /* first running after a launch */
#define CHAN_EVENT_INSTANCE_ERROR "INSTANCE_ERROR"           /* failed, or an action failed */
#define CHAN_EVENT_INSTANCE_STOPPED "INSTANCE_STOPPED"
#define CHAN_EVENT_INSTANCE_TERMINATED "INSTANCE_TERMINATED"

/* What an event says; every pointer is borrowed for the call. */
typedef struct {
  const char *type;           /* CHAN_EVENT_* */
  const json_t *actor;        /* the actor record: its id, db_id and tenant */
  const char *execution_id;   /* NULL when not about an execution */
  const char *status;         /* NULL to leave out */
  const char *status_message; /* NULL to leave out */
  bool has_exit_code;
  long long exit_code;
} chan_event_t;

/* The event's JSON body, stamped now (new reference; NULL when out of
 * memory). */
json_t *chan_event_body(const chan_event_t *e);
/* Publishes the event on CHAN_EVENTS and waits for the broker's confirm,
 * at most timeout_ms per try; a failed try is retried once. 0, or the
 * last chan_client_publish error. */
ACTOR_MUST_CHECK int chan_event_publish(chan_client_t *cl, const chan_event_t *e, int timeout_ms);

/* What an instance event says; every pointer is borrowed for the call. */
typedef struct {
  const char *type;       /* CHAN_EVENT_INSTANCE_* */
  const json_t *instance; /* the instance record (cloud.h): tenant, id, ec2_instance_id, name,
                           * owner, config, state, error */
  const char *state;      /* NULL: the record's */
  const char *error;      /* NULL: the record's */
} chan_instance_event_t;

/* The instance event's JSON body, stamped now as chan_event_body's (new
 * reference; NULL when out of memory). */
json_t *chan_instance_event_body(const chan_instance_event_t *e);
/* Publishes it as chan_event_publish does. */
ACTOR_MUST_CHECK int chan_instance_event_publish(chan_client_t *cl, const chan_instance_event_t *e,
                                                 int timeout_ms);

#endif
