/* Platform events (docs/api.md "Events, links, webhooks, cron") on the durable `events` queue (CHAN_EVENTS):
 * ACTOR_READY, ACTOR_ERROR and EXECUTION_COMPLETE, as JSON
 * {tenant_id, event_type, event_time_utc, event_time_display, actor_id,
 * actor_dbid, execution_id?, status?, exit_code?, status_message?}.
 * Producers (worker, spawner) publish an event only after its effect is
 * stored; the api consumes them (link messages and webhooks). */
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
/* Cloud instances (docs/cloud.md "Channels"): the launcher and the updater. */
#define CHAN_EVENT_INSTANCE_READY "INSTANCE_READY"
#define CHAN_EVENT_INSTANCE_ERROR "INSTANCE_ERROR"
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
/* An instance event's body, stamped now: {tenant_id, tenant, event_type,
 * event_time_utc, event_time_display, instance_id, ec2_instance_id, name,
 * owner, config, state, error} from the instance record `rec` (borrowed;
 * absent fields are null). No actor_dbid: the api's link and webhook
 * consumer passes it by. New reference, or NULL when out of memory. */
json_t *chan_instance_event_body(const char *type, const json_t *rec);
/* Publishes the event on CHAN_EVENTS and waits for the broker's confirm,
 * at most timeout_ms per try; a failed try is retried once. 0, or the
 * last chan_client_publish error. */
ACTOR_MUST_CHECK int chan_event_publish(chan_client_t *cl, const chan_event_t *e, int timeout_ms);

#endif
