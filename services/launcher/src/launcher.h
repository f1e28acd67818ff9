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
#include "actor/cloud_dns.h"
#include "actor/plugin.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"

/* Pause before a command that met a platform fault (store down, AWS
 * throttling or unreachable after aws.h's own retries) goes back to its
 * queue: the broker redelivers at once, so without it we would spin. */
#define LAUNCHER_RETRY_DELAY_MS 2000
#define LAUNCHER_PREFETCH 8
/* How long the lease abaco:cloud:launch:<tenant>:<id> holds one launch
 * (released when the launch ends; expires if its process dies). */
#define LAUNCHER_LAUNCH_LEASE_MS 300000

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
  actor_plugin_t *dns;   /* [plugins] dns, or NULL */
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

/* The parameters a template declares: a new object {key: has a Default}
 * of its top-level Parameters (empty when it has none; YAML ones read as
 * without Default); NULL in *out for a YAML text libyaml cannot read (send
 * every parameter). ACTOR_EPARSE when a JSON template's Parameters is not
 * an object. */
ACTOR_MUST_CHECK int launcher_template_params(const char *tmpl, json_t **out);

/* MLiy's stack parameters from the configuration, the launch group (may
 * be NULL), the instance record and the base64 user data, keeping only
 * the keys in `declared` (NULL: all) and leaving out an empty value of a
 * parameter with a Default. New reference, or NULL (no memory). */
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

/* Copies private_ip, public_ip, launch_time, availability_zone of an
 * aws.h instance into fields (null when absent). fields may be NULL. */
void launcher_copy_observed(json_t *fields, const json_t *inst);

/* Standard base64 (with padding); malloc'd, or NULL. */
char *launcher_b64(const void *data, size_t len);

/* ---- launch.c, actions.c ---- */

/* How a command ends. */
typedef enum {
  LAUNCHER_ACK,  /* its outcome is stored (or there is nothing to do) */
  LAUNCHER_RETRY /* a platform fault: back to its queue after a pause */
} launcher_outcome_t;

/* One delivery of the launch or command queue, from its delivery to its
 * ack (or its nack after LAUNCHER_RETRY_DELAY_MS). */
typedef struct {
  launcher_t *l;
  uv_work_t work;
  uv_timer_t retry;
  chan_tag_t tag;
  launcher_cmd_t cmd;
  launcher_outcome_t outcome;
  char *event;    /* INSTANCE_* event to publish at the end, or NULL */
  bool poll;      /* start polling `stack` at the end */
  char stack[256];
} launcher_job_t;

void launcher_on_launch(chan_conn_t *c, const chan_msg_t *msg, void *ud);
void launcher_on_command(chan_conn_t *c, const chan_msg_t *msg, void *ud);
/* Takes a delivery: parses it (a bad one is logged and acked), then runs
 * work on the pool and ends the job (event, poller, ack or delayed nack). */
void launcher_job_run(launcher_t *l, const chan_msg_t *msg, bool need_action,
                      uv_work_cb work);
/* Calls on_idle once stopping and nothing is left in flight. */
void launcher_check_idle(launcher_t *l);

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
/* The audit of a launch or action (pool thread; best effort, logged when
 * it fails). who "" or NULL: the record's owner. code NULL: outcome ok. */
void launcher_audit(launcher_t *l, const json_t *rec, const char *who, const char *action,
                    const char *code, const char *message, const char *request_id);
/* Records a failure on rec: backend_status (op, code, request_id) and
 * error; with from (NULL-terminated states) also state failed when rec is
 * in one of them (from NULL: the state stays, as after a failed action).
 * Audits `action` and returns the INSTANCE_ERROR event text (malloc'd),
 * or NULL (no memory, or rec had left `from` meanwhile: nothing failed
 * that anyone still waits for). Pool thread. Updates rec. */
char *launcher_fail(launcher_t *l, json_t *rec, const char *const *from, const char *who,
                    const char *action, const char *op, const char *code, const char *message,
                    const char *request_id);
/* The observer of every AWS call: counts it in abaco:metrics:aws_calls. */
void launcher_observe_aws(void *data, const char *op, const aws_result_t *res);

#endif
