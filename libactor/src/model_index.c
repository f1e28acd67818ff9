/* Indexes of actors and workers kept where their records are written
 * (model.h "indexes kept on writes"), so that periodic readers (the
 * /metrics scrape, the health agent's tick) cost what they must look at,
 * not every record stored.
 *
 * One Lua script per record write brings a member's index entries in line
 * with its record as it is now: it reads the record's status (and, for a
 * worker, host_id), compares them with what the index holds for the member
 * (a hash member -> value, so the old value is known even after the record
 * is deleted), and moves the member: counters by status (HINCRBY -1/+1),
 * and for workers the set of their host (or of the unplaced ones). The
 * script reads the record itself, so writes that race each other leave the
 * index as the last one left the record; running it twice changes nothing.
 * A failed index update is logged and not returned: the record write it
 * follows succeeded, and the entry is put right by the member's next write
 * or by model_index_rebuild. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "store_int.h"

/* KEYS[1]: the record. ARGV: member, status hash, count hash, host hash
 * ("" for actors), unplaced set, host set prefix. */
static const char SCRIPT_SYNC[] =
    "local function dec(v) "
    "  if not v then return nil end "
    "  local ok, x = pcall(cjson.decode, v) "
    "  if ok and type(x) == 'string' then return x end "
    "  return nil "
    "end "
    "local m = ARGV[1] "
    "local exists = redis.call('EXISTS', KEYS[1]) == 1 "
    "local new = nil "
    "if exists then new = dec(redis.call('HGET', KEYS[1], 'status')) end "
    "local old = redis.call('HGET', ARGV[2], m) "
    "if old == false then old = nil end "
    "if old ~= new then "
    "  if old then redis.call('HINCRBY', ARGV[3], old, -1) end "
    "  if new then "
    "    redis.call('HINCRBY', ARGV[3], new, 1) "
    "    redis.call('HSET', ARGV[2], m, new) "
    "  else redis.call('HDEL', ARGV[2], m) end "
    "end "
    "if ARGV[4] ~= '' then "
    "  local nh = nil "
    "  if exists then nh = dec(redis.call('HGET', KEYS[1], 'host_id')) or '' end "
    "  local oh = redis.call('HGET', ARGV[4], m) "
    "  if oh == false then oh = nil end "
    "  if oh ~= nh then "
    "    if oh then "
    "      if oh == '' then redis.call('SREM', ARGV[5], m) "
    "      else redis.call('SREM', ARGV[6] .. oh, m) end "
    "    end "
    "    if nh then "
    "      if nh == '' then redis.call('SADD', ARGV[5], m) "
    "      else redis.call('SADD', ARGV[6] .. nh, m) end "
    "      redis.call('HSET', ARGV[4], m, nh) "
    "    else redis.call('HDEL', ARGV[4], m) end "
    "  end "
    "end "
    "return 1";

void model_worker_member(const char *db_id, const char *wid, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "%s:%s", db_id, wid);
}

int model_worker_member_split(const char *member, char db_id[MODEL_KEY_MAX],
                              char wid[MODEL_KEY_MAX]) {
  const char *colon = member ? strrchr(member, ':') : NULL;
  if (colon == NULL || colon == member || colon[1] == '\0' ||
      (size_t)(colon - member) >= MODEL_KEY_MAX || strlen(colon + 1) >= MODEL_KEY_MAX)
    return ACTOR_EINVAL;
  snprintf(db_id, MODEL_KEY_MAX, "%.*s", (int)(colon - member), member);
  snprintf(wid, MODEL_KEY_MAX, "%s", colon + 1);
  return 0;
}

static int sync_member(store_redis_t *r, const char *key, const char *member, bool worker) {
  const char *argv[] = {"EVAL",
                        SCRIPT_SYNC,
                        "1",
                        key,
                        member,
                        worker ? MODEL_KEY_IDX_WORKER_STATUS : MODEL_KEY_IDX_ACTOR_STATUS,
                        worker ? MODEL_KEY_IDX_WORKER_COUNTS : MODEL_KEY_IDX_ACTOR_COUNTS,
                        worker ? MODEL_KEY_IDX_WORKER_HOST : "",
                        MODEL_KEY_IDX_UNPLACED,
                        MODEL_KEY_IDX_HOST_PREFIX};
  return store_redis_reply_rc(
      store_redis_cmdargv(r, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL));
}

int model_index_actor(store_redis_t *r, const char *db_id) {
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  int rc = sync_member(r, key, db_id, false);
  if (rc != 0)
    LOG_WARN("store", "actor %s: its status index entry could not be updated (%s): put right "
                      "by its next write or the next index rebuild",
             db_id, actor_strerror(rc));
  return rc;
}

int model_index_worker(store_redis_t *r, const char *db_id, const char *wid) {
  char key[MODEL_KEY_MAX], member[MODEL_KEY_MAX];
  model_key_worker(db_id, wid, key);
  model_worker_member(db_id, wid, member);
  int rc = sync_member(r, key, member, true);
  if (rc != 0)
    LOG_WARN("store", "worker %s of actor %s: its index entries could not be updated (%s): put "
                      "right by its next write or the next index rebuild",
             wid, db_id, actor_strerror(rc));
  return rc;
}

/* Members of a hash index (HKEYS) whose record may be gone. */
static int hash_keys(store_redis_t *r, const char *key, json_t **out) {
  return store__redis_strings(store_redis_cmd(r, "HKEYS %s", key), "HKEYS", key, out);
}

int model_index_rebuild(store_redis_t *r, bool force, long long *n) {
  long long done = 0;
  if (n)
    *n = 0;
  if (!force) {
    bool built = false;
    int rc = store_key_exists(r, MODEL_KEY_IDX_BUILT, &built);
    if (rc != 0 || built)
      return rc;
  }
  json_t *actors = NULL;
  int rc = model_actor_all_ids(r, &actors);
  for (size_t i = 0; rc == 0 && i < json_array_size(actors); i++) {
    const char *db = json_string_value(json_array_get(actors, i));
    json_t *wids = NULL;
    char set[MODEL_KEY_MAX];
    if (db == NULL)
      continue;
    model_key_workers(db, set);
    rc = model_index_actor(r, db);
    if (rc == 0)
      rc = store_set_members(r, set, &wids);
    for (size_t k = 0; rc == 0 && k < json_array_size(wids); k++) {
      rc = model_index_worker(r, db, json_string_value(json_array_get(wids, k)));
      done++;
    }
    json_decref(wids);
    done++;
  }
  json_decref(actors);
  /* entries whose record went without its index being told */
  json_t *stale = NULL;
  if (rc == 0)
    rc = hash_keys(r, MODEL_KEY_IDX_ACTOR_STATUS, &stale);
  for (size_t i = 0; rc == 0 && i < json_array_size(stale); i++)
    rc = model_index_actor(r, json_string_value(json_array_get(stale, i)));
  json_decref(stale);
  stale = NULL;
  static const char *const WORKER_HASHES[] = {MODEL_KEY_IDX_WORKER_STATUS,
                                              MODEL_KEY_IDX_WORKER_HOST, NULL};
  for (int h = 0; rc == 0 && WORKER_HASHES[h]; h++) {
    rc = hash_keys(r, WORKER_HASHES[h], &stale);
    for (size_t i = 0; rc == 0 && i < json_array_size(stale); i++) {
      char db[MODEL_KEY_MAX], wid[MODEL_KEY_MAX];
      if (model_worker_member_split(json_string_value(json_array_get(stale, i)), db, wid) == 0)
        rc = model_index_worker(r, db, wid);
    }
    json_decref(stale);
    stale = NULL;
  }
  if (rc == 0)
    rc = store_redis_reply_rc(store_redis_cmd(r, "SET %s 1", MODEL_KEY_IDX_BUILT));
  if (n)
    *n = done;
  return rc;
}

int model_index_counts(store_redis_t *r, bool workers, json_t **out) {
  return store_hash_get_all(r, workers ? MODEL_KEY_IDX_WORKER_COUNTS : MODEL_KEY_IDX_ACTOR_COUNTS,
                            out);
}

int model_workers_of_host(store_redis_t *r, const char *host_id, json_t **out) {
  char key[MODEL_KEY_MAX];
  snprintf(key, sizeof(key), "%s%s", MODEL_KEY_IDX_HOST_PREFIX, host_id);
  json_t *placed = NULL, *unplaced = NULL;
  int rc = store_set_members(r, key, &placed);
  if (rc == 0)
    rc = store_set_members(r, MODEL_KEY_IDX_UNPLACED, &unplaced);
  if (rc == 0 && json_array_extend(placed, unplaced) != 0)
    rc = ACTOR_ENOMEM;
  json_decref(unplaced);
  if (rc != 0) {
    json_decref(placed);
    return rc;
  }
  *out = placed;
  return 0;
}

int model_worker_ids_known(store_redis_t *r, json_t **out) {
  json_t *known = json_object(), *actors = NULL, *members = NULL;
  int rc = known ? model_actor_all_ids(r, &actors) : ACTOR_ENOMEM;
  /* every actor's set of workers: what the records are written with */
  for (size_t i = 0; rc == 0 && i < json_array_size(actors); i++) {
    const char *db = json_string_value(json_array_get(actors, i));
    char set[MODEL_KEY_MAX];
    json_t *wids = NULL;
    if (db == NULL)
      continue;
    model_key_workers(db, set);
    rc = store_set_members(r, set, &wids);
    for (size_t k = 0; rc == 0 && k < json_array_size(wids); k++) {
      const char *wid = json_string_value(json_array_get(wids, k));
      if (wid && json_object_set_new(known, wid, json_true()) != 0)
        rc = ACTOR_ENOMEM;
    }
    json_decref(wids);
  }
  json_decref(actors);
  /* and the index, which may name one whose set entry failed */
  if (rc == 0)
    rc = hash_keys(r, MODEL_KEY_IDX_WORKER_HOST, &members);
  for (size_t i = 0; rc == 0 && i < json_array_size(members); i++) {
    char db[MODEL_KEY_MAX], wid[MODEL_KEY_MAX];
    if (model_worker_member_split(json_string_value(json_array_get(members, i)), db, wid) == 0 &&
        json_object_set_new(known, wid, json_true()) != 0)
      rc = ACTOR_ENOMEM;
  }
  json_decref(members);
  if (rc != 0) {
    json_decref(known);
    return rc;
  }
  *out = known;
  return 0;
}
