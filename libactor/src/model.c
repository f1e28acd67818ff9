/* The domain models over the stores: actors and workers as Redis records,
 * executions and logs as MongoDB documents (layout in model.h). */
#include "actor/model.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"

void model_key_actor(const char *db_id, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "abaco:actor:%s", db_id);
}

void model_key_worker(const char *db_id, const char *wid, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "abaco:worker:%s:%s", db_id, wid);
}

void model_key_workers(const char *db_id, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "abaco:workers:%s", db_id);
}

void model_db_id(const char *tenant, const char *id, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "%s_%s", tenant, id);
}

const char *model_db_id_actor(const char *db_id) {
  const char *us = strrchr(db_id, '_');
  return us ? us + 1 : db_id;
}

bool model_db_id_in_tenant(const char *db_id, const char *tenant) {
  size_t n = strlen(tenant);
  return db_id != NULL && n > 0 && strncmp(db_id, tenant, n) == 0 && db_id[n] == '_' &&
         db_id[n + 1] != '\0' && strchr(db_id + n + 1, '_') == NULL;
}

/* Removes `member` from the index set `set`, then the record at `key`. */
static int delete_indexed(store_redis_t *r, const char *set, const char *member, const char *key) {
  int rc = store_set_remove(r, set, member);
  if (rc == 0)
    rc = store_record_delete(r, key);
  return rc;
}

/* ---- actors ---- */

int model_actor_get(store_redis_t *r, const char *db_id, json_t **out) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  return store_record_get(r, key, out);
}

int model_actor_put(store_redis_t *r, const char *db_id, const json_t *actor) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  int rc = store_record_put(r, key, actor);
  if (rc != 0)
    return rc;
  rc = store_set_add(r, MODEL_KEY_ACTORS, db_id, NULL);
  if (rc == 0)
    model_index_actor(r, db_id);
  return rc;
}

int model_actor_update(store_redis_t *r, const char *db_id, const json_t *fields) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  int rc = store_record_update(r, key, fields);
  if (rc == 0 && json_object_get(fields, "status"))
    model_index_actor(r, db_id);
  return rc;
}

static json_t *status_fields(const char *status, const char *msg) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f = json_pack("{s:s, s:s}", "status", status, "last_update_time", now);
  if (f && msg)
    json_object_set_new(f, "status_message", json_string(msg));
  return f;
}

int model_actor_set_status(store_redis_t *r, const char *db_id, const char *status,
                           const char *msg) {
  return model_actor_transition(r, db_id, NULL, status, msg);
}

int model_actor_transition(store_redis_t *r, const char *db_id, const char *const *from,
                           const char *status, const char *msg) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  json_t *f = status_fields(status, msg);
  if (f == NULL)
    return ACTOR_ENOMEM;
  int rc = store_record_transition(r, key, "status", from, f);
  json_decref(f);
  if (rc == 0)
    model_index_actor(r, db_id);
  return rc;
}

int model_actor_delete(store_redis_t *r, const char *db_id) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  int rc = delete_indexed(r, MODEL_KEY_ACTORS, db_id, key);
  if (rc == 0)
    model_index_actor(r, db_id);
  return rc;
}

int model_actor_field_many(store_redis_t *r, const json_t *db_ids, const char *field,
                           json_t **out) {
  size_t n = json_array_size(db_ids);
  if (n == 0) {
    *out = json_array();
    return *out ? 0 : ACTOR_ENOMEM;
  }
  char(*keys)[MODEL_KEY_MAX] = calloc(n, sizeof(*keys));
  const char **kp = calloc(n, sizeof(*kp));
  int rc = keys && kp ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const char *db_id = json_string_value(json_array_get(db_ids, i));
    model_key_actor(db_id ? db_id : "", keys[i]);
    kp[i] = keys[i];
  }
  if (rc == 0)
    rc = store_record_field_many(r, kp, n, field, out);
  free(kp);
  free(keys);
  return rc;
}

int model_actor_all_ids(store_redis_t *r, json_t **out) {
  return store_set_members(r, MODEL_KEY_ACTORS, out);
}

int model_actor_list_ids(store_redis_t *r, const char *tenant, json_t **out) {
  json_t *all = NULL;
  int rc = model_actor_all_ids(r, &all);
  if (rc != 0)
    return rc;
  json_t *ids = json_array();
  size_t i;
  json_t *id;
  json_array_foreach(all, i, id) {
    if (ids && model_db_id_in_tenant(json_string_value(id), tenant))
      json_array_append(ids, id);
  }
  json_decref(all);
  if (ids == NULL)
    return ACTOR_ENOMEM;
  *out = ids;
  return 0;
}

int model_actor_exists(store_redis_t *r, const char *db_id, bool *out) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  return store_key_exists(r, key, out);
}

int model_ensure_worker_claim(store_redis_t *r, const char *db_id, int64_t hold_ms, bool *mine) {
  char key[MODEL_KEY_MAX];
  snprintf(key, sizeof(key), "abaco:ensure_worker:%s", db_id);
  return store_lease_take(r, key, "1", hold_ms, mine);
}

/* ---- workers ---- */

json_t *model_worker_new(const char *db_id, const char *wid, const char *ch_name,
                         const char *image, const char *tenant, long long revision) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *w = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", wid, "actor_id",
                        db_id, "status", WORKER_REQUESTED, "image", image, "tenant", tenant,
                        "ch_name", ch_name, "create_time", now, "revision", (json_int_t)revision);
  if (w == NULL)
    return NULL;
  /* Filled in by the spawner and the worker as it comes up. */
  static const char *const later[] = {"location", "cid", "host_id", "host_ip", "pid",
                                      "last_execution_time", "last_health_check_time",
                                      "status_message", NULL};
  for (int i = 0; later[i]; i++)
    json_object_set_new(w, later[i], json_null());
  return w;
}

int model_worker_put(store_redis_t *r, const char *db_id, const char *wid,
                     const json_t *worker) {
  char key[MODEL_KEY_MAX], set[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  model_key_workers(db_id, set);
  int rc = store_record_put(r, key, worker);
  if (rc == 0)
    rc = store_set_add(r, set, wid, NULL);
  if (rc == 0) /* the autoscaler looks at actors with workers */
    rc = store_set_add(r, MODEL_KEY_AUTOSCALE, db_id, NULL);
  /* the index follows the record as stored, whatever step above failed */
  model_index_worker(r, db_id, wid);
  return rc;
}

int model_autoscale_index_repair(store_redis_t *r, long long *n) {
  return store_set_union_into(r, MODEL_KEY_AUTOSCALE, MODEL_KEY_ACTORS, n);
}

int model_worker_get(store_redis_t *r, const char *db_id, const char *wid, json_t **out) {
  char key[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  return store_record_get(r, key, out);
}

int model_worker_list(store_redis_t *r, const char *db_id, json_t **out) {
  return model_worker_list_fields(r, db_id, NULL, out);
}

int model_worker_list_fields(store_redis_t *r, const char *db_id, const char *const *fields,
                             json_t **out) {
  char set[MODEL_KEY_MAX], key[MODEL_KEY_MAX];
  model_key_workers(db_id, set);
  json_t *wids = NULL;
  int rc = store_set_members(r, set, &wids);
  if (rc != 0)
    return rc;
  json_t *list = json_array();
  rc = list ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < json_array_size(wids); i++) {
    json_t *w = NULL;
    model_key_worker(db_id, json_string_value(json_array_get(wids, i)), key);
    int wrc = fields ? store_record_fields(r, key, fields, &w) : store_record_get(r, key, &w);
    if (wrc == 0)
      json_array_append_new(list, w);
    else if (wrc != ACTOR_ENOTFOUND) /* a vanished worker is simply not listed */
      rc = wrc;
  }
  json_decref(wids);
  if (rc != 0) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return 0;
}

int model_worker_count(store_redis_t *r, const char *db_id, long long *n) {
  char set[MODEL_KEY_MAX];
  model_key_workers(db_id, set);
  return store_set_count(r, set, n);
}

int model_worker_update(store_redis_t *r, const char *db_id, const char *wid,
                        const json_t *fields) {
  char key[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  int rc = store_record_update(r, key, fields);
  if (rc == 0 && (json_object_get(fields, "status") || json_object_get(fields, "host_id")))
    model_index_worker(r, db_id, wid);
  return rc;
}

int model_worker_transition(store_redis_t *r, const char *db_id, const char *wid,
                            const char *const *from, const char *status, json_t *fields) {
  char key[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  json_t *f = fields ? json_deep_copy(fields) : json_object();
  if (f == NULL)
    return ACTOR_ENOMEM;
  json_object_set_new(f, "status", json_string(status));
  int rc = store_record_transition(r, key, "status", from, f);
  json_decref(f);
  if (rc == 0)
    model_index_worker(r, db_id, wid);
  return rc;
}

int model_worker_delete(store_redis_t *r, const char *db_id, const char *wid) {
  char key[MODEL_KEY_MAX], set[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  model_key_workers(db_id, set);
  int rc = delete_indexed(r, set, wid, key);
  if (rc == 0)
    model_index_worker(r, db_id, wid);
  return rc;
}

/* ---- executions and logs ---- */

int model_exec_insert(store_mongo_t *m, const json_t *exec) {
  return store_mongo_insert(m, MODEL_COLL_EXECUTIONS, exec);
}

/* Finds a document by _id alone and checks its actor here: FerretDB v1
 * pushes a lone _id equality down to SQLite but evaluates any other filter
 * document by document (10x slower over a large collection). */
static int find_of_actor(store_mongo_t *m, const char *coll, const char *db_id,
                         const char *eid, json_t **out) {
  json_t *filter = json_pack("{s:s}", "_id", eid);
  json_t *doc = NULL;
  *out = NULL;
  if (filter == NULL)
    return ACTOR_ENOMEM;
  int rc = store_mongo_find_one(m, coll, filter, NULL, &doc);
  json_decref(filter);
  if (rc != 0)
    return rc;
  const char *owner = json_string_value(json_object_get(doc, "actor_dbid"));
  if (owner == NULL || strcmp(owner, db_id) != 0) {
    json_decref(doc);
    return ACTOR_ENOTFOUND;
  }
  *out = doc;
  return 0;
}

int model_exec_get(store_mongo_t *m, const char *db_id, const char *eid, json_t **out) {
  return find_of_actor(m, MODEL_COLL_EXECUTIONS, db_id, eid, out);
}

int model_exec_list(store_mongo_t *m, const char *db_id, json_t **out) {
  json_t *filter = json_pack("{s:s}", "actor_dbid", db_id);
  json_t *opts = json_pack("{s:{s:i}}", "sort", "message_received_time", 1);
  int rc = (filter && opts) ? store_mongo_find(m, MODEL_COLL_EXECUTIONS, filter, opts, out)
                            : ACTOR_ENOMEM;
  json_decref(filter);
  json_decref(opts);
  return rc;
}

/* Updates go through findAndModify on _id: FerretDB v1 (SQLite) pushes an
 * _id filter down for findAndModify but scans the whole collection for
 * update, so this keeps a per-execution write O(1) as executions pile up
 * (measured: ~1400/s against ~60/s with 3000 documents). */
static int update_by_id(store_mongo_t *m, const char *coll, json_t *filter, json_t *update,
                        int upsert) {
  int rc = (filter && update)
               ? store_mongo_find_and_modify(m, coll, filter, update, upsert, 0, NULL)
               : ACTOR_ENOMEM;
  json_decref(filter);
  json_decref(update);
  /* with upsert and return_new=0, "inserted" reads as not found */
  return (upsert && rc == ACTOR_ENOTFOUND) ? 0 : rc;
}

int model_exec_update(store_mongo_t *m, const char *eid, const json_t *fields) {
  return update_by_id(m, MODEL_COLL_EXECUTIONS, json_pack("{s:s}", "_id", eid),
                      json_pack("{s:O}", "$set", fields), 0);
}

/* Read, check, then write by _id alone. A filter of _id plus status would
 * make the check atomic, but FerretDB v1 serves only a bare {_id} filter
 * from its index and scans the collection for anything more (2.4 s per call
 * at 15k executions). The window between read and write is a few ms; the
 * transitions that race (a redelivered message against the health agent)
 * already tolerate it: health re-reads the worker id, and an execution
 * run twice is at-least-once delivery, never a lost message. */
int model_exec_transition(store_mongo_t *m, const char *eid, const char *const *from,
                          const json_t *fields) {
  json_t *filter = json_pack("{s:s}", "_id", eid), *cur = NULL;
  int rc = filter ? store_mongo_find_one(m, MODEL_COLL_EXECUTIONS, filter, NULL, &cur)
                  : ACTOR_ENOMEM;
  json_decref(filter);
  if (rc != 0)
    return rc == ACTOR_ENOTFOUND ? ACTOR_ESTATE : rc;
  const char *status = json_string_value(json_object_get(cur, "status"));
  bool allowed = false;
  for (int i = 0; status && from && from[i] && !allowed; i++)
    allowed = strcmp(status, from[i]) == 0;
  json_decref(cur);
  if (!allowed)
    return ACTOR_ESTATE;
  rc = update_by_id(m, MODEL_COLL_EXECUTIONS, json_pack("{s:s}", "_id", eid),
                    json_pack("{s:O}", "$set", fields), 0);
  return rc == ACTOR_ENOTFOUND ? ACTOR_ESTATE : rc;
}

/* Deletes every document of `coll` that belongs to the actor. */
static int delete_of_actor(store_mongo_t *m, const char *coll, const char *db_id) {
  json_t *filter = json_pack("{s:s}", "actor_dbid", db_id);
  int rc = filter ? store_mongo_delete(m, coll, filter, NULL) : ACTOR_ENOMEM;
  json_decref(filter);
  return rc;
}

int model_exec_delete_actor(store_mongo_t *m, const char *db_id) {
  return delete_of_actor(m, MODEL_COLL_EXECUTIONS, db_id);
}

int model_logs_set(store_mongo_t *m, const char *db_id, const char *tenant, const char *eid,
                   const char *text, size_t len, int64_t exp_ms) {
  /* exp is a BSON date so a TTL index on a real MongoDB can expire it. */
  return update_by_id(m, MODEL_COLL_LOGS, json_pack("{s:s}", "_id", eid),
                      json_pack("{s:{s:s, s:s, s:s%, s:{s:I}}}", "$set", "actor_dbid", db_id,
                                "tenant", tenant, "logs", text, len, "exp", "$date",
                                (json_int_t)exp_ms),
                      1);
}

int model_logs_get(store_mongo_t *m, const char *db_id, const char *eid, char **out) {
  json_t *doc = NULL;
  int rc = find_of_actor(m, MODEL_COLL_LOGS, db_id, eid, &doc);
  if (rc == ACTOR_ENOTFOUND) {
    *out = strdup("");
    return *out ? 0 : ACTOR_ENOMEM;
  }
  if (rc != 0)
    return rc;
  const char *text = json_string_value(json_object_get(doc, "logs"));
  *out = strdup(text ? text : "");
  json_decref(doc);
  return *out ? 0 : ACTOR_ENOMEM;
}

int model_logs_delete_actor(store_mongo_t *m, const char *db_id) {
  return delete_of_actor(m, MODEL_COLL_LOGS, db_id);
}

/* What a real MongoDB uses for each query the services issue
 * (docs/performance.md); FerretDB v1 (SQLite) keeps them but serves only
 * _id from an index, which is why the api reads by _id (exec_retention.c). */
int model_ensure_indexes(store_mongo_t *m) {
  json_t *by_actor = json_pack("{s:i}", "actor_dbid", 1);
  json_t *by_actor_time = json_pack("{s:i, s:i}", "actor_dbid", 1, "message_received_time", 1);
  json_t *by_time = json_pack("{s:i}", "message_received_time", 1);
  json_t *by_worker = json_pack("{s:i}", "worker_id", 1);
  json_t *by_exp = json_pack("{s:i}", "exp", 1);
  json_t *ttl = json_pack("{s:i}", "expireAfterSeconds", 0);
  int rc = (by_actor && by_actor_time && by_time && by_worker && by_exp && ttl) ? 0 : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_mongo_create_index(m, MODEL_COLL_EXECUTIONS, by_actor, NULL);
  if (rc == 0)
    rc = store_mongo_create_index(m, MODEL_COLL_EXECUTIONS, by_actor_time, NULL);
  if (rc == 0)
    rc = store_mongo_create_index(m, MODEL_COLL_EXECUTIONS, by_time, NULL);
  if (rc == 0)
    rc = store_mongo_create_index(m, MODEL_COLL_EXECUTIONS, by_worker, NULL);
  if (rc == 0)
    rc = store_mongo_create_index(m, MODEL_COLL_LOGS, by_actor, NULL);
  if (rc == 0 && store_mongo_create_index(m, MODEL_COLL_LOGS, by_exp, ttl) != 0)
    LOG_INFO("store", "no TTL index on logs (the server refuses it): expired logs are "
                      "removed by a periodic sweep instead");
  json_decref(by_actor);
  json_decref(by_actor_time);
  json_decref(by_time);
  json_decref(by_worker);
  json_decref(by_exp);
  json_decref(ttl);
  return rc;
}
