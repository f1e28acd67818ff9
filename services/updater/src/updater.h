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
#include "actor/cluster.h"
#include "actor/notify.h"
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

/* ---- cluster_plan.c: the clusters' triggers (pure; docs/clusters.md) ---- */

/* One cluster as the tick read it:
 *   {cluster: the record, nodes: live node count,
 *    counters: {cid: counter + samples: [{t, v}] newest first},
 *    triggers: {tid: trigger}, states: {tid: state}}
 * Decides, for each trigger (in trigger id order), into a new array of
 *   {trigger, direction: "out"|"in"|"other", fire: bool,
 *    state: the state fields to write (holding_since[_ms], blocked,
 *           evaluated, and when it fires last_fired[_ms],
 *           cooling_down_until),
 *    values: [{counter, name, threshold, comparison, value, samples}]}
 * Rules: a counter holds when (samples N given) at least M (required,
 * default N) of its newest N samples of the last `timing` minutes are
 * beyond the threshold, or (default) its newest samples are beyond it
 * without a break for `timing` minutes, the newest no older than that;
 * a trigger holds when all its counters do (none: never, only a manual
 * fire). A holding trigger fires unless cooling down (cooldown minutes
 * after its last firing), at max_nodes (scale-out: actions hold
 * deploy_node) or min_nodes (scale-in: remove_node), within the
 * cluster's scale_in_delay minutes after a scale-out (scale-in), or
 * beaten by a scale-out firing in the same tick (scale-out wins; at most
 * one scale-out and one scale-in trigger fire per cluster and tick).
 * NULL when out of memory. */
json_t *upd_cluster_plan(const json_t *in, int64_t now_ms);
/* "out" (deploy_node among its actions), "in" (remove_node), else "other". */
const char *upd_cluster_direction(const json_t *trigger);

/* ---- cluster_run.c: runs and actions ---- */

typedef struct {
  store_redis_t *redis;
  store_mongo_t *mongo; /* executions and logs (run_actor, actor counters); NULL: none */
  chan_client_t *chan;
  const cloud_settings_t *settings;
  bool test_hooks; /* [clusters] test_hooks: honours abaco:cluster:test:* keys */
  aws_t *aws;                  /* load balancer calls; NULL: none */
  const notify_config *notify; /* [smtp]; NULL: notify is not configured */
} upd_cluster_ctx_t;

/* Records a run of a decision that fires (before anything is
 * dispatched): the run (pending), then the trigger's state and the
 * cluster's last_scale_out. *run_id filled. */
ACTOR_MUST_CHECK int upd_cluster_run_record(upd_cluster_ctx_t *x, const json_t *cluster,
                                            const json_t *trigger, const json_t *decision,
                                            const json_t *state, char run_id[64]);
/* Runs the run's actions in order from the first not done; the first
 * failure stops it and is recorded on the run and the trigger. Each
 * action is idempotent by run id (docs/clusters.md). 0 unless the store
 * failed (the run stays pending and is resumed next tick); 0 too when an
 * action waits (UPD_LB_WAIT: the run stays pending). */
ACTOR_MUST_CHECK int upd_cluster_run_execute(upd_cluster_ctx_t *x, const char *tenant,
                                             const char *run_id);
/* Runs every pending run of the tag (resume after a crash; manual fires). */
void upd_cluster_runs_resume(upd_cluster_ctx_t *x);

/* The hooks of the actions another module provides (load balancer
 * register/deregister, notify): 0 (done); ACTOR_ESTATE or ACTOR_EINVAL
 * with the reason in err (the action fails, the run stops); any other
 * code (a store fault, UPD_LB_WAIT) leaves the run pending and the action
 * is tried again at the next tick. main.c sets them to cluster_hooks.c's. */
typedef int (*upd_lb_hook_fn)(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *node,
                              bool register_it, int *drain_s, char *err, size_t errlen);
typedef int (*upd_notify_hook_fn)(upd_cluster_ctx_t *x, const json_t *cluster,
                                  const json_t *run, const json_t *action, char *err,
                                  size_t errlen);
extern upd_lb_hook_fn upd_lb_hook;         /* NULL: "not configured" */
extern upd_notify_hook_fn upd_notify_hook; /* NULL: "not configured" */

/* ---- cluster_hooks.c: notify and the load balancer ---- */
/* Not done yet (the node is not running yet, AWS throttled): retry. */
#define UPD_LB_WAIT ACTOR_ETIMEDOUT
/* A deploy_node whose node has not come up for the load balancer in
 * this long fails. */
#define UPD_LB_WAIT_MAX_MS (30LL * 60 * 1000)
/* notify_run (actor/notify.h) with {cluster, trigger, run, counters}. */
int upd_cluster_notify(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *run,
                       const json_t *action, char *err, size_t errlen);
/* Registers (register_it) the node's EC2 instance with the cluster's
 * load_balancer, once its record is running (UPD_LB_WAIT until then), or
 * deregisters it (nothing to do for an adopted node, an instance that
 * never had an EC2 id, or a load balancer that is gone); after a
 * deregistration *drain_s (when not NULL) is the load balancer's
 * connection draining timeout (0: draining off), which remove_node waits
 * out before it terminates the node. */
int upd_cluster_lb(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *node,
                   bool register_it, int *drain_s, char *err, size_t errlen);

/* Live nodes of a cluster (adopted, or an instance not terminated,
 * failed or shutting down); -1 when the store failed. */
long upd_cluster_live_nodes(upd_cluster_ctx_t *x, const char *tenant, const char *cid);

/* ---- cluster_actor.c: messages to actors ---- */
/* The actor of an id or alias of the tenant (model.h record), or
 * ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int upd_actor_lookup(upd_cluster_ctx_t *x, const char *tenant, const char *ref,
                                      json_t **out);
/* Stores the execution eid (SUBMITTED) of a message from executor. */
ACTOR_MUST_CHECK int upd_actor_exec_store(upd_cluster_ctx_t *x, const json_t *actor,
                                          const char *eid, const char *executor);
/* Publishes message (text) to the actor's mailbox as execution eid. */
ACTOR_MUST_CHECK int upd_actor_publish(upd_cluster_ctx_t *x, const json_t *actor,
                                       const char *eid, const char *executor,
                                       const char *message);
/* The first number in text (an actor counter's logs). Pure. */
int upd_number_in(const char *text, double *out);
/* One tick of an `actor` counter: its finished execution's number becomes
 * a sample; the next message is sent when its schedule is due. */
void upd_actor_counter_tick(upd_cluster_ctx_t *x, const char *tenant, const char *cid,
                            const char *kid, const json_t *counter, int64_t now_ms);

/* ---- cluster_tick.c: one evaluation of the tag's clusters ---- */
/* [clusters] metrics_url: where `metric` counters are read (main.c). */
extern const char *upd_metrics_url;
/* The sum of the series `series` of a Prometheus text whose labels
 * include each of labels (an object, may be NULL): 0, or ACTOR_ENOTFOUND
 * when no such series. Pure. */
int upd_metric_value(const char *text, const char *series, const json_t *labels, double *out);
typedef struct {
  long clusters, counters, fired, runs;
  int64_t read_ms, plan_ms, apply_ms;
} upd_cluster_report_t;
void upd_clusters_tick(upd_cluster_ctx_t *x, upd_cluster_report_t *rep);

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
  bool clusters_test_hooks; /* [clusters] test_hooks */
  store_mongo_t *mongo;      /* executions and logs of the clusters' actor messages */
  notify_config notify;      /* [smtp], for the clusters' notify actions */
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
