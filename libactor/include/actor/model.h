/* The domain models and where they live.
 *
 * Redis (records, see store_record.h):
 *   abaco:actor:<db_id>            actor record
 *   abaco:actors                   set of every actor db_id ("<TENANT>_<id>"; a tenant
 *                                  may hold '_', an id never does)
 *   abaco:worker:<db_id>:<wid>     worker record
 *   abaco:workers:<db_id>          set of the actor's worker ids
 *   abaco:ensure_worker:<db_id>    short lease: who requests the worker an
 *                                  actor with waiting messages lacks
 * MongoDB:
 *   executions   {_id: eid, id, actor_id, actor_dbid, tenant, worker_id, executor,
 *                 status, message_received_time, start_time, finish_time, runtime,
 *                 cpu, io, exit_code, final_state}
 *   logs         {_id: eid, actor_dbid, tenant, logs, exp (ms since the epoch)}
 * Times are stored as the API shows them (ISO-8601 with 'Z'), which also
 * sort and compare correctly as strings; an unset time is JSON null. */
#ifndef ACTOR_MODEL_H
#define ACTOR_MODEL_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/store.h"

#define MODEL_KEY_MAX 512

/* Actor statuses. */
#define ACTOR_SUBMITTED "SUBMITTED"
#define ACTOR_READY "READY"
#define ACTOR_ERROR "ERROR"
#define ACTOR_SHUTTING_DOWN "SHUTTING_DOWN"

/* Worker statuses (docs/api.md "Workers"). */
#define WORKER_REQUESTED "REQUESTED"
#define WORKER_SPAWNER_SETUP "SPAWNER SETUP"
#define WORKER_PULLING_IMAGE "PULLING IMAGE"
#define WORKER_CREATING_CONTAINER "CREATING CONTAINER"
#define WORKER_UPDATING_STORE "UPDATING STORE"
#define WORKER_READY "READY"
#define WORKER_BUSY "BUSY"
#define WORKER_SHUTDOWN_REQUESTED "SHUTDOWN_REQUESTED"
#define WORKER_SHUTTING_DOWN "SHUTTING_DOWN"
#define WORKER_ERROR "ERROR"

/* Execution statuses. */
#define EXEC_SUBMITTED "SUBMITTED"
#define EXEC_RUNNING "RUNNING"
#define EXEC_COMPLETE "COMPLETE"
#define EXEC_ERROR "ERROR"

#define MODEL_COLL_EXECUTIONS "executions"
#define MODEL_COLL_LOGS "logs"

void model_key_actor(const char *db_id, char out[MODEL_KEY_MAX]);
void model_key_worker(const char *db_id, const char *wid, char out[MODEL_KEY_MAX]);
void model_key_workers(const char *db_id, char out[MODEL_KEY_MAX]);
#define MODEL_KEY_ACTORS "abaco:actors"

/* "<TENANT>_<id>" */
void model_db_id(const char *tenant, const char *id, char out[MODEL_KEY_MAX]);
/* The actor id of a db_id: what follows its last '_' (hashids hold none,
 * tenant names may: "DEV_STAGING_abc" -> "abc"); db_id itself when it has
 * none. A pointer into db_id. */
const char *model_db_id_actor(const char *db_id);
/* Whether db_id is "<tenant>_<id>" of exactly this (upper-case) tenant,
 * with an id holding no '_': tenant DEV never claims DEV_STAGING's actors. */
bool model_db_id_in_tenant(const char *db_id, const char *tenant);

/* ---- actors ---- */
ACTOR_MUST_CHECK int model_actor_get(store_redis_t *r, const char *db_id, json_t **out);
/* Stores a new or replaced actor and indexes it. */
ACTOR_MUST_CHECK int model_actor_put(store_redis_t *r, const char *db_id, const json_t *actor);
/* Sets the given fields of an existing actor (others untouched);
 * ACTOR_ENOTFOUND if there is none. */
ACTOR_MUST_CHECK int model_actor_update(store_redis_t *r, const char *db_id, const json_t *fields);
/* Sets status (and status_message when msg != NULL) of an existing actor. */
ACTOR_MUST_CHECK int model_actor_set_status(store_redis_t *r, const char *db_id, const char *status,
                                            const char *msg);
/* Guarded: only from the listed statuses (NULL-terminated). */
ACTOR_MUST_CHECK
int model_actor_transition(store_redis_t *r, const char *db_id, const char *const *from,
                           const char *status, const char *msg);
ACTOR_MUST_CHECK int model_actor_delete(store_redis_t *r, const char *db_id);
/* All actor db_ids of a tenant, as a new JSON array of strings. */
ACTOR_MUST_CHECK int model_actor_list_ids(store_redis_t *r, const char *tenant, json_t **out);
/* Every actor db_id of every tenant (the abaco:actors index). */
ACTOR_MUST_CHECK int model_actor_all_ids(store_redis_t *r, json_t **out);
/* Whether the actor's record exists now. */
ACTOR_MUST_CHECK int model_actor_exists(store_redis_t *r, const char *db_id, bool *out);
/* One field of each actor of db_ids (an array of strings) in one pipelined
 * round trip: entry i of *out (an array) is the field's JSON value for
 * db_ids[i], null where the record or the field is absent. */
ACTOR_MUST_CHECK int model_actor_field_many(store_redis_t *r, const json_t *db_ids,
                                            const char *field, json_t **out);
/* Takes the actor's "ensure a worker" lease for hold_ms (the api's message
 * path and health both request a missing worker; only the one that gets
 * *mine does). */
ACTOR_MUST_CHECK int model_ensure_worker_claim(store_redis_t *r, const char *db_id, int64_t hold_ms, bool *mine);

/* ---- workers ---- */
/* A new worker record in REQUESTED state (new reference). ch_name is its
 * control queue's name (chan_name_worker; the protocol names queues). */
json_t *model_worker_new(const char *db_id, const char *wid, const char *ch_name,
                         const char *image, const char *tenant, long long revision);
ACTOR_MUST_CHECK int model_worker_put(store_redis_t *r, const char *db_id, const char *wid,
                                      const json_t *worker);
ACTOR_MUST_CHECK
int model_worker_get(store_redis_t *r, const char *db_id, const char *wid, json_t **out);
/* Every worker of an actor (new array). */
ACTOR_MUST_CHECK int model_worker_list(store_redis_t *r, const char *db_id, json_t **out);
/* The same with only the named fields of each (NULL-terminated list;
 * NULL: all), for readers that must not decode whole records. */
ACTOR_MUST_CHECK
int model_worker_list_fields(store_redis_t *r, const char *db_id, const char *const *fields,
                             json_t **out);
ACTOR_MUST_CHECK int model_worker_count(store_redis_t *r, const char *db_id, long long *n);
ACTOR_MUST_CHECK int model_worker_update(store_redis_t *r, const char *db_id, const char *wid,
                                         const json_t *fields);
/* Guarded status change; `fields` (may be NULL) is set along with status. */
ACTOR_MUST_CHECK
int model_worker_transition(store_redis_t *r, const char *db_id, const char *wid,
                            const char *const *from, const char *status, json_t *fields);
ACTOR_MUST_CHECK int model_worker_delete(store_redis_t *r, const char *db_id, const char *wid);

/* ---- executions and logs ---- */
ACTOR_MUST_CHECK int model_exec_insert(store_mongo_t *m, const json_t *exec);
ACTOR_MUST_CHECK
int model_exec_get(store_mongo_t *m, const char *db_id, const char *eid, json_t **out);
/* Every execution of an actor, oldest first (new array). */
ACTOR_MUST_CHECK int model_exec_list(store_mongo_t *m, const char *db_id, json_t **out);
ACTOR_MUST_CHECK int model_exec_update(store_mongo_t *m, const char *eid, const json_t *fields);
/* Guarded: only if the execution's status is one of `from`. ACTOR_ESTATE if not. */
ACTOR_MUST_CHECK
int model_exec_transition(store_mongo_t *m, const char *eid, const char *const *from,
                          const json_t *fields);
ACTOR_MUST_CHECK int model_exec_delete_actor(store_mongo_t *m, const char *db_id);

ACTOR_MUST_CHECK
int model_logs_set(store_mongo_t *m, const char *db_id, const char *tenant, const char *eid,
                   const char *text, size_t len, int64_t exp_ms);
/* *out malloc'd text ("" when none stored yet). */
ACTOR_MUST_CHECK
int model_logs_get(store_mongo_t *m, const char *db_id, const char *eid, char **out);
ACTOR_MUST_CHECK int model_logs_delete_actor(store_mongo_t *m, const char *db_id);

/* ---- indexes of the api's periodic jobs ----
 * MODEL_KEY_AUTOSCALE: the actors the autoscaler looks at -- every actor
 * that has (or had) a worker since the autoscaler last found it with no
 * worker and an empty mailbox. model_worker_put adds the actor; the
 * autoscaler removes it (services/api/src/autoscaler.c). A superset is
 * harmless, so model_autoscale_index_repair adds every actor (at api start).
 * MODEL_KEY_CRON: actors with cron_on, scored by the ms of cron_next_ex
 * (services/api/src/cron_tick.c keeps it). */
#define MODEL_KEY_AUTOSCALE "abaco:autoscale:active"
#define MODEL_KEY_CRON "abaco:cron:due"
ACTOR_MUST_CHECK int model_autoscale_index_repair(store_redis_t *r, long long *n);

/* ---- indexes kept on writes (model_index.c) ----
 * Every write of an actor or worker record through this file also brings
 * these up to date (one Lua script that reads the record as it is now), so
 * periodic readers need not read every record:
 *   abaco:index:actor_status          hash  db_id -> status
 *   abaco:index:actor_status:count    hash  status -> actors in it
 *   abaco:index:worker_status         hash  "<db_id>:<wid>" -> status
 *   abaco:index:worker_status:count   hash  status -> workers in it
 *   abaco:index:worker_host           hash  "<db_id>:<wid>" -> host_id ("" none yet)
 *   abaco:index:workers:host:<host>   set   "<db_id>:<wid>" of the workers on host
 *   abaco:index:workers:unplaced      set   "<db_id>:<wid>" with no host yet
 *   abaco:index:built                 set once model_index_rebuild has run
 * The /metrics scrape reads the counts; the health agent reads its host's
 * set and the unplaced one. A failed update is logged (the record write
 * stands) and put right by the member's next write or a rebuild. */
#define MODEL_KEY_IDX_ACTOR_STATUS "abaco:index:actor_status"
#define MODEL_KEY_IDX_ACTOR_COUNTS "abaco:index:actor_status:count"
#define MODEL_KEY_IDX_WORKER_STATUS "abaco:index:worker_status"
#define MODEL_KEY_IDX_WORKER_COUNTS "abaco:index:worker_status:count"
#define MODEL_KEY_IDX_WORKER_HOST "abaco:index:worker_host"
#define MODEL_KEY_IDX_HOST_PREFIX "abaco:index:workers:host:"
#define MODEL_KEY_IDX_UNPLACED "abaco:index:workers:unplaced"
#define MODEL_KEY_IDX_BUILT "abaco:index:built"
/* "<db_id>:<wid>", and back (split at the last ':'; ACTOR_EINVAL if none). */
void model_worker_member(const char *db_id, const char *wid, char out[MODEL_KEY_MAX]);
ACTOR_MUST_CHECK int model_worker_member_split(const char *member, char db_id[MODEL_KEY_MAX],
                                               char wid[MODEL_KEY_MAX]);
/* The member's entries made to match its record now (absent record: the
 * entries go). Logged when they fail; the write paths of this file call
 * them and go on. */
int model_index_actor(store_redis_t *r, const char *db_id);
int model_index_worker(store_redis_t *r, const char *db_id, const char *wid);
/* Unless abaco:index:built is set (or force): every actor and worker
 * record indexed, and entries without a record removed, then the mark set
 * (at api and health start; forced every [health] index_repair_interval,
 * which repairs index updates that failed). *n (may be NULL): records
 * looked at. */
ACTOR_MUST_CHECK int model_index_rebuild(store_redis_t *r, bool force, long long *n);
/* The status counters of actors (workers=false) or workers: an object of
 * status -> decimal text. */
ACTOR_MUST_CHECK int model_index_counts(store_redis_t *r, bool workers, json_t **out);
/* The members of the host's set and of the unplaced set, in one array. */
ACTOR_MUST_CHECK int model_workers_of_host(store_redis_t *r, const char *host_id, json_t **out);
/* Every worker id of the cluster, as an object wid -> true: the members of
 * every actor's set of workers (what the records are written with, not
 * the index, which a failed update may leave short) and of the index. Reads
 * every actor: for rare sweeps (health's orphan queues), not per tick. */
ACTOR_MUST_CHECK int model_worker_ids_known(store_redis_t *r, json_t **out);

/* ---- the executions' indexes and retention (exec_retention.c) ----
 * MODEL_KEY_EXEC_TIMES: every execution id scored by message_received_time
 * (ms); per actor, its ids by the same score (model_key_exec_of) and its
 * cpu/io/runtime summed (model_key_exec_totals); marks that they were built
 * from the collection. Kept whatever [store] executions_retention. */
#define MODEL_KEY_EXEC_TIMES "abaco:executions:by_time"
#define MODEL_KEY_EXEC_TIMES_BUILT "abaco:executions:by_time:built"
#define MODEL_KEY_EXEC_INDEX_BUILT "abaco:executions:index:built"
void model_key_exec_of(const char *db_id, char out[MODEL_KEY_MAX]);
void model_key_exec_totals(const char *db_id, char out[MODEL_KEY_MAX]);
/* Indexes an array of execution documents (_id, actor_dbid,
 * message_received_time, cpu, io, runtime); one already in its actor's
 * index is left as it is (not counted twice). */
ACTOR_MUST_CHECK int model_exec_index_add(store_redis_t *r, const json_t *execs);
/* Undoes model_exec_index_add for executions whose insert failed: takes
 * each out of the time index and out of its actor's index, discounting its
 * cpu, io and runtime only if it was in the actor's index. */
ACTOR_MUST_CHECK int model_exec_index_remove(store_redis_t *r, const json_t *execs);
/* Counts a finished execution's cpu, io and runtime in its actor's totals
 * (only if it is in the actor's index). */
ACTOR_MUST_CHECK int model_exec_index_finish(store_redis_t *r, const char *db_id,
                                             const char *eid, long long cpu, long long io,
                                             long long runtime);
/* Whether both indexes were built (the marks). */
ACTOR_MUST_CHECK int model_exec_index_built(store_redis_t *r, bool *built);
/* Indexes every stored execution (one streaming scan), then sets the marks;
 * *n: how many were indexed. */
ACTOR_MUST_CHECK int model_exec_index_rebuild(store_redis_t *r, store_mongo_t *m, long long *n);
typedef struct {
  long long count, cpu, io, runtime;
} model_exec_totals_t;
/* An actor's totals, from its index (valid when the marks are set). */
ACTOR_MUST_CHECK int model_exec_count(store_redis_t *r, const char *db_id,
                                      model_exec_totals_t *t);
/* The ids of a page of an actor's executions, oldest first (its index);
 * limit < 0: every one from offset. */
ACTOR_MUST_CHECK int model_exec_ids(store_redis_t *r, const char *db_id, long long offset,
                                    long long limit, json_t **out);
/* A page of an actor's executions, oldest first, from its index: limit
 * < 0 is every one from offset. Each is read by _id. */
ACTOR_MUST_CHECK int model_exec_page(store_redis_t *r, store_mongo_t *m, const char *db_id,
                                     long long offset, long long limit, json_t **out);
/* Deletes the oldest executions received before cutoff_ms, at most max,
 * with their logs, each by _id, and takes them out of the indexes and
 * their actors' totals; *removed: how many. */
ACTOR_MUST_CHECK int model_exec_retire(store_redis_t *r, store_mongo_t *m, int64_t cutoff_ms,
                                       size_t max, size_t *removed);

/* Indexes the models rely on (executions by actor, a TTL index on log
 * expiry where the server supports it). Idempotent. */
ACTOR_MUST_CHECK int model_ensure_indexes(store_mongo_t *m);

#endif
