/* Clusters that scale themselves (docs/clusters.md): clusters, their
 * nodes, counters and triggers, the counters' samples, the triggers'
 * state and the runs of their actions, in Redis. Used by the api (the
 * REST routes, node-reported samples, manual firing) and the updater
 * (sampling, evaluation, runs).
 *
 * Keys (<T> the tenant, <C> the cluster id):
 *   abaco:cluster:<T>:<C>             record: the cluster's definition and
 *                                     last_scale_out (store_record.h)
 *   abaco:clusters:<T>                set of the tenant's cluster ids
 *   abaco:clusters:tag:<tag>          set of "<T>:<C>": the clusters an
 *                                     updater of [cloud] tag evaluates
 *   abaco:cluster:ids                 hash <C> -> <T> (node reports name no tenant)
 *   abaco:cluster:<T>:<C>:nodes       hash node id -> node JSON
 *   abaco:cluster:<T>:<C>:counters    hash counter id -> counter JSON
 *   abaco:cluster:<T>:<C>:triggers    hash trigger id -> trigger JSON
 *   abaco:cluster:<T>:<C>:tstate      hash trigger id -> state JSON (updater)
 *   abaco:cluster:<T>:<C>:cstate      hash counter id -> state JSON (updater:
 *                                     an actor counter's execution in flight)
 *   abaco:cluster:<T>:<C>:samples:<K> list of {"t": ms, "v": number}, newest
 *                                     first, capped at the counter's history
 *   abaco:cluster:<T>:<C>:runs        list of run ids, newest first (capped)
 *   abaco:cluster:run:<T>:<R>         record: one run of a trigger's actions
 *   abaco:cluster:runs:pending:<tag>  set of "<T>:<C>:<R>": runs not finished
 * Every call follows the store's error rule (store.h). */
#ifndef ACTOR_CLUSTER_H
#define ACTOR_CLUSTER_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor/store.h"

/* Most clusters per tenant; counters and triggers per cluster; nodes per
 * cluster (max_nodes is at most this); samples kept per counter; runs
 * listed per cluster; actions per trigger. */
#define CLUSTER_MAX_PER_TENANT 1000
#define CLUSTER_MAX_COUNTERS 32
#define CLUSTER_MAX_TRIGGERS 32
#define CLUSTER_MAX_NODES 1000
#define CLUSTER_HISTORY_MAX 1000
#define CLUSTER_HISTORY_DEFAULT 100
#define CLUSTER_RUNS_KEPT 50
#define CLUSTER_MAX_ACTIONS 16

/* ---- clusters ---- */
/* Stores a new cluster (obj needs id, tenant, tag): record, tenant set,
 * tag index, id index. ACTOR_EEXIST when it exists, ACTOR_ETOOBIG past
 * CLUSTER_MAX_PER_TENANT. */
ACTOR_MUST_CHECK int cluster_create(store_redis_t *r, const json_t *obj);
/* ACTOR_ENOTFOUND when absent. */
ACTOR_MUST_CHECK int cluster_get(store_redis_t *r, const char *tenant, const char *id,
                                 json_t **out);
/* The tenant of a cluster id (abaco:cluster:ids), into out; ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int cluster_tenant_of(store_redis_t *r, const char *id, char *out, size_t n);
/* Sets fields of an existing record (ACTOR_ENOTFOUND when absent). */
ACTOR_MUST_CHECK int cluster_update(store_redis_t *r, const char *tenant, const char *id,
                                    const json_t *fields);
/* Removes the cluster and everything under it but its run records (which
 * expire from nothing: they are few and small; the pending set forgets
 * them). 0 also when absent. */
ACTOR_MUST_CHECK int cluster_delete(store_redis_t *r, const char *tenant, const char *id,
                                    const char *tag);
/* The tenant's cluster ids (array of strings). */
ACTOR_MUST_CHECK int cluster_ids(store_redis_t *r, const char *tenant, json_t **out);
/* The "<T>:<C>" members of a tag's index (array of strings). */
ACTOR_MUST_CHECK int cluster_of_tag(store_redis_t *r, const char *tag, json_t **out);

/* ---- nodes, counters, triggers, trigger state: hashes of JSON ----
 * kind: "nodes", "counters", "triggers", "tstate", "cstate". put replaces the item
 * under item_id; get: ACTOR_ENOTFOUND; all: an object item id -> JSON
 * value ({} when none); del: 0 also when absent. */
ACTOR_MUST_CHECK int cluster_item_put(store_redis_t *r, const char *tenant, const char *id,
                                      const char *kind, const char *item_id, const json_t *v);
ACTOR_MUST_CHECK int cluster_item_get(store_redis_t *r, const char *tenant, const char *id,
                                      const char *kind, const char *item_id, json_t **out);
ACTOR_MUST_CHECK int cluster_item_all(store_redis_t *r, const char *tenant, const char *id,
                                      const char *kind, json_t **out);
ACTOR_MUST_CHECK int cluster_item_del(store_redis_t *r, const char *tenant, const char *id,
                                      const char *kind, const char *item_id);

/* ---- samples ---- */
/* Pushes {t: t_ms, v: value} on the counter's list, keeping `keep` (1..
 * CLUSTER_HISTORY_MAX). */
ACTOR_MUST_CHECK int cluster_sample_add(store_redis_t *r, const char *tenant, const char *id,
                                        const char *counter, int64_t t_ms, double value,
                                        size_t keep);
/* The newest `max` samples, newest first: an array of {t, v}. */
ACTOR_MUST_CHECK int cluster_samples(store_redis_t *r, const char *tenant, const char *id,
                                     const char *counter, size_t max, json_t **out);
/* Drops a counter's samples. */
ACTOR_MUST_CHECK int cluster_samples_drop(store_redis_t *r, const char *tenant, const char *id,
                                          const char *counter);

/* ---- runs ---- */
/* Records a new run (obj needs id, tenant, cluster, tag): the record,
 * then its entry in the tag's pending set (what the updater resumes:
 * cluster_runs_pending), then its id on the cluster's list. A crash
 * between the record and the set leaves a record nobody runs, before
 * anything was dispatched or the trigger's state written: the updater
 * decides again at its next tick. */
ACTOR_MUST_CHECK int cluster_run_create(store_redis_t *r, const json_t *obj);
ACTOR_MUST_CHECK int cluster_run_get(store_redis_t *r, const char *tenant, const char *run_id,
                                     json_t **out);
ACTOR_MUST_CHECK int cluster_run_update(store_redis_t *r, const char *tenant, const char *run_id,
                                        const json_t *fields);
/* The pending set's members of a tag ("<T>:<C>:<R>"). */
ACTOR_MUST_CHECK int cluster_runs_pending(store_redis_t *r, const char *tag, json_t **out);
/* Removes a run from the pending set (after it finished). */
ACTOR_MUST_CHECK int cluster_run_done(store_redis_t *r, const char *tag, const char *tenant,
                                      const char *cluster, const char *run_id);
/* The newest `max` runs of a cluster (records; missing ones skipped). */
ACTOR_MUST_CHECK int cluster_runs_recent(store_redis_t *r, const char *tenant, const char *id,
                                         size_t max, json_t **out);

/* ---- comparisons (no I/O) ---- */
/* ">", ">=", "<", "<=". */
bool cluster_comparison_valid(const char *cmp);
/* Whether value lies beyond threshold by cmp (an invalid cmp: false). */
bool cluster_beyond(double value, const char *cmp, double threshold);

#endif
