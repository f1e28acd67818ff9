/* The updater: the goal-state reconciler of the cloud side
 * (docs/cloud.md "Reconciling (updater)"). Every [cloud] update_interval
 * seconds one pass runs on libuv's thread pool (never two at once in a
 * process; one process at a time across hosts through the Redis lease
 * abaco:cloud:reconciler:<tag>): it lists the tag's instances, reads the
 * tag's records, plans, and applies the plan to Redis.
 *
 * Files: main.c wiring, timer and stop; plan.c the pure decision
 * (listing + records + now + settings -> steps; unit-tested); apply.c the
 * executor (steps -> Redis, per-object back-off); pass.c one pass (lease,
 * listing, status key, metrics); events.c the instance events. */
#ifndef UPDATER_H
#define UPDATER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/aws.h"
#include "actor/cloud.h"
#include "actor/cloud_dns.h"
#include "actor/plugin.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "channels/proto/event.h"

/* A `launching` record with a stack whose launcher has shown no sign of
 * life (enacted/updated/observed) for this long has its stack polled by
 * the reconciler. */
#define UPD_LAUNCHER_SILENCE_MS (10LL * 60 * 1000)
/* The first per-object back-off after an error; doubles up to retry_cap_ms. */
#define UPD_BACKOFF_FIRST_MS 1000LL

/* ---- plan.c (pure: no I/O) ---- */

typedef struct {
  const char *tag;            /* [cloud] tag */
  const char *default_tenant; /* [web] tenant_name, upper-cased */
  int64_t now_ms;
  int64_t stale_guard_ms;     /* [cloud] stale_guard */
  int64_t gone_grace_ms;      /* [cloud] gone_grace */
} upd_plan_opts_t;

/* The step kinds, as the `op` string of a step. */
#define UPD_OP_ADOPT "adopt"           /* record: the new record */
#define UPD_OP_REFRESH "refresh"       /* fields: what to set */
#define UPD_OP_MARK_GONE "mark_gone"   /* fields: gone_since, state, ... */
#define UPD_OP_REMOVE "remove"         /* the record goes */
#define UPD_OP_POLL_STACK "poll_stack" /* stack: the stack id/name to describe */
#define UPD_OP_SKIP "skip"             /* backed off until next_run */

/* Plans one pass. listing: DescribeInstances' array (aws.h instance
 * objects), NULL when the listing failed; records: the tag's records
 * (cloud_instances_of_tag). *steps (new reference) is an array of
 *   {op, tenant, id, ec2_instance_id, fields?, record?, stack?, event?,
 *    from_state?, backoff_ms?}
 * ordered: poll_stack first (stack before instance), then the listed
 * instances, then the records the listing lacks. A failed listing plans
 * nothing at all (never "everything is gone"). `event` is the INSTANCE_*
 * event the write implies (published after it). Records and instances are
 * borrowed; the steps hold their own references. 0 or ACTOR_ENOMEM. */
ACTOR_MUST_CHECK int upd_plan(const json_t *listing, const json_t *records,
                              const upd_plan_opts_t *o, json_t **steps);

/* EC2's state as a goal: pending -> running, stopping -> stopped,
 * shutting-down -> terminated; others as they are. */
const char *upd_goal_of(const char *ec2_state);

/* Counts of a plan by op (for logs and tests). */
typedef struct {
  long adopt, refresh, mark_gone, remove, poll_stack, skip;
} upd_counts_t;
void upd_plan_count(const json_t *steps, upd_counts_t *c);

/* ---- events.c ---- */
#define UPD_EVENT_READY CHAN_EVENT_INSTANCE_READY
#define UPD_EVENT_ERROR CHAN_EVENT_INSTANCE_ERROR
#define UPD_EVENT_STOPPED CHAN_EVENT_INSTANCE_STOPPED
#define UPD_EVENT_TERMINATED CHAN_EVENT_INSTANCE_TERMINATED

/* The event a state change implies, or NULL. */
const char *upd_event_for(const char *from_state, const char *to_state);
/* Publishes the record's event (chan_instance_event_publish) on the events
 * channel (cl may be NULL: nothing is sent). */
ACTOR_MUST_CHECK int upd_event_publish(chan_client_t *cl, const char *type, const json_t *rec);

/* ---- apply.c ---- */

typedef struct {
  store_redis_t *redis;
  aws_t *aws;            /* for poll_stack; NULL: such steps are skipped */
  chan_client_t *chan;   /* events; NULL: none published */
  int64_t now_ms;
  long retry_cap_ms;     /* [cloud] retry_cap_ms */
  int threads;           /* writers in parallel (1..16) */
  actor_plugin_t *dns;   /* [plugins] dns, or NULL */
} upd_apply_opts_t;

typedef struct {
  long written, failed, skipped, events;
} upd_apply_stats_t;

/* Applies every step; an object whose step fails gets backend_status and
 * its back-off, the others go on. Returns 0 unless out of memory. */
ACTOR_MUST_CHECK int upd_apply(const json_t *steps, const upd_apply_opts_t *o,
                               upd_apply_stats_t *st);
/* The back-off after a failure, given the record's previous one (prev,
 * <= 0 or absent: none): UPD_BACKOFF_FIRST_MS, then doubling, at most
 * cap_ms (cap_ms <= 0: UPD_BACKOFF_FIRST_MS). Never overflows, whatever
 * prev a record holds. Pure. */
long long upd_backoff_next(long long prev, long cap_ms);

/* ---- volumes.c: the volume step (after the instances) ---- */

/* Volume ids per DescribeVolumes call. */
#define UPD_VOLUME_BATCH 200

/* The volume ids to look at: of records with a volume_id whose state is
 * not terminated or failed (a new array of strings, in record order). */
json_t *upd_volume_ids(const json_t *records);
/* The changes the observed volumes imply: for each such record, its
 * volume's state ("deleted" when the cloud no longer lists it) where it
 * differs from the record's volume_state. present: DescribeVolumes'
 * volumes. A new array of {tenant, id, volume_state}. Pure. */
json_t *upd_volume_changes(const json_t *records, const json_t *present);
/* Looks the volumes up (batches of UPD_VOLUME_BATCH) and writes the
 * changes. A failed call leaves every record as it is. *written and
 * *failed count records. 0, or the first AWS/store error. */
ACTOR_MUST_CHECK int upd_volumes_apply(store_redis_t *r, aws_t *aws, const json_t *records,
                                       long *written, long *failed);

/* ---- pass.c ---- */

typedef struct {
  store_redis_t *redis;
  aws_t *aws;
  chan_client_t *chan;
  cloud_settings_t settings;
  actor_plugin_t *dns;   /* [plugins] dns, or NULL */
  char default_tenant[64];
  char owner[96];        /* the lease token: host and pid */
  int threads;
  /* the status last logged (a change is logged once) */
  char last_status[160];
  json_t *last_error;    /* the newest listing error (for the status key) */
  char last_ok[32];      /* when a pass last went through */
} upd_ctx_t;

typedef struct {
  bool ran;              /* false: another host holds the lease */
  bool listing_ok;
  long listed, records;
  int64_t list_ms, read_ms, plan_ms, apply_ms, volume_ms, total_ms;
  long volumes_written;
  upd_counts_t counts;
  upd_apply_stats_t applied;
} upd_pass_report_t;

/* One pass (blocking; on the thread pool). next_due_in_ms: when the next
 * pass of this process is due, from the start of this one; the lease is
 * kept until just before it. */
void upd_pass_run(upd_ctx_t *c, int64_t next_due_in_ms, upd_pass_report_t *rep);
/* The aws.h observer: every AWS call into abaco:metrics:aws_calls. */
void upd_aws_observer(void *data, const char *op, const aws_result_t *res);

#endif
