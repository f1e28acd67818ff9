/* launcher: the daemon that turns launch commands into CloudFormation
 * stacks, polls them until their instance runs (or the stack fails), and
 * enacts start/stop/restart/terminate (docs/cloud.md "Channels").
 *
 * Files: main.c wires the loop and the two consumers; launch.c handles one
 * launch command; poll.c polls stacks on loop timers; actions.c handles one
 * instance command; events.c builds and publishes INSTANCE_* events;
 * plan.c holds the pure parts (command parsing, stack parameters and tags,
 * the poll schedule, the failure reason of a stack), unit-tested without
 * servers. AWS, Redis and MongoDB calls run on libuv's thread pool only. */
#ifndef LAUNCHER_H
#define LAUNCHER_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "actor/aws.h"
#include "actor/cloud.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"

/* Pause before a command that met a platform fault (store down, AWS
 * throttling or unreachable after aws.h's own retries) goes back to its
 * queue: the broker redelivers at once, so without it we would spin. */
#define LAUNCHER_RETRY_DELAY_MS 2000
#define LAUNCHER_PREFETCH 8

typedef struct launcher_poll_s launcher_poll_t;

typedef struct launcher_s {
  actor_service_t *svc;
  uv_loop_t *loop;
  const actor_config_t *cfg;
  cloud_settings_t cs;
  store_redis_t *redis;
  store_mongo_t *mongo;
  aws_t *aws;
  chan_conn_t *conn;
  json_t *config_tokens; /* [cloud_tokens] */
  int inflight;          /* command jobs between delivery and ack/nack */
  bool stopping;
  launcher_poll_t *polls; /* pollers alive (poll.c) */
  void (*on_idle)(struct launcher_s *l); /* once inflight is 0 and no poller is left */
} launcher_t;

/* ---- plan.c (pure) ---- */

/* A command of the launch or command queue. */
typedef struct {
  char tenant[128];
  char instance_id[64];
  char action[16]; /* "" for a launch */
  char request_id[128];
  char who[128]; /* "" when the message does not say */
} launcher_cmd_t;

/* Reads a command body: {tenant, instance_id, request_id?, who?} and, with
 * need_action, action (start|stop|restart|terminate). ACTOR_EPARSE or
 * ACTOR_EINVAL with the reason in err (naming the field). */
ACTOR_MUST_CHECK int launcher_cmd_parse(const void *body, size_t len, bool need_action,
                                        launcher_cmd_t *out, char *err, size_t errlen);

/* The parameter keys a template declares: for a JSON template a new
 * object {key: true} of its "Parameters" (empty when it has none); NULL in
 * *out for a YAML template (send every parameter). ACTOR_EPARSE when the
 * JSON template's Parameters is not an object. */
ACTOR_MUST_CHECK int launcher_template_params(const char *tmpl, json_t **out);

/* MLiy's stack parameters from the configuration, the launch group (may
 * be NULL), the instance record and the base64 user data, keeping only
 * the keys in `declared` (NULL: all). New reference, or NULL (no memory). */
json_t *launcher_stack_params(const json_t *config, const json_t *group, const json_t *rec,
                              const char *user_data_b64, const json_t *declared);

/* The stack's tags {LaunchedBy, AbacoId, Owner, Tenant, Config, Name}. */
json_t *launcher_stack_tags(const char *tag, const json_t *rec);

/* The platform's own tokens for the user data of rec. */
json_t *launcher_platform_tokens(const json_t *rec, const char *progress_url);

/* The pause before poll i (0-based): initial + step * i, capped at max. */
long launcher_poll_delay_ms(long initial_ms, long step_ms, long max_ms, long i);

/* What a stack status means for the poller. */
typedef enum {
  LAUNCHER_STACK_WAIT,     /* still being created */
  LAUNCHER_STACK_COMPLETE, /* CREATE_COMPLETE */
  LAUNCHER_STACK_FAILED    /* *_FAILED, ROLLBACK_*, DELETE_* */
} launcher_stack_phase_t;
launcher_stack_phase_t launcher_stack_phase(const char *status);

/* The reason a stack failed, from DescribeStackEvents (aws.h, newest
 * first): the earliest CREATE_FAILED event whose reason is not "Resource
 * creation cancelled" (a consequence, not the cause). Borrowed from events,
 * or NULL when no event tells. */
const char *launcher_failure_reason(const json_t *events);

/* Standard base64 (with padding); malloc'd, or NULL. */
char *launcher_b64(const void *data, size_t len);

/* ---- launch.c, actions.c ---- */
void launcher_on_launch(chan_conn_t *c, const chan_msg_t *msg, void *ud);
void launcher_on_command(chan_conn_t *c, const chan_msg_t *msg, void *ud);
/* One job fewer in flight (calls on_idle when stopping and idle). */
void launcher_job_done(launcher_t *l);

/* ---- poll.c ---- */
/* Polls the stack of an instance (nothing when one is polling it). */
void launcher_poll_start(launcher_t *l, const char *tenant, const char *id, const char *stack);
/* Resumes every `launching` record of our tag that has a stack_id (queued
 * on the pool). */
void launcher_poll_resume_all(launcher_t *l);
/* Stops every poller (their timers close); on_idle runs when all are gone. */
void launcher_poll_stop_all(launcher_t *l);
bool launcher_idle(const launcher_t *l);

/* ---- events.c ---- */
/* The event text (JSON, malloc'd) for rec: type INSTANCE_*, or NULL. */
char *launcher_event_text(const char *type, const json_t *rec);
/* Publishes (takes text) on the events channel without waiting. */
void launcher_event_publish(launcher_t *l, char *text);
/* The audit of a launch or action (best effort, logged when it fails). */
void launcher_audit(launcher_t *l, const json_t *rec, const char *who, const char *action,
                    const aws_result_t *res, const char *message, const char *request_id);

#endif
