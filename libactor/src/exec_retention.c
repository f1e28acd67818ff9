/* The executions' time index and [store] executions_retention (model.h).
 *
 * Design note. FerretDB v1 (SQLite backend) serves only a filter that is a
 * lone _id equality from an index; any other filter (a time range
 * included) is evaluated document by document over the whole collection.
 * So the age of executions is kept beside them, in Redis: a sorted set of
 * execution ids scored by message_received_time (ms). Retention takes the
 * oldest ids below the cutoff (ZRANGEBYSCORE ... LIMIT, O(log n + batch)),
 * deletes each execution and its logs by _id (served by the _id index),
 * then removes the ids from the set: a pass costs the batch, never the
 * size of the collection. Ids are added before the executions are
 * inserted (one ZADD per group commit), so an execution never exists
 * unindexed; an id whose insert then failed is deleted harmlessly later.
 * The set is only kept while retention is on; a mark key says the set was
 * built from the collection, which is done once (a stack upgraded from a
 * release without it, or retention just turned on) by one streaming scan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "store_int.h"

#define ZADD_CHUNK 1000

/* message_received_time in ms: our "2026-11-22T14:45:41.591Z" text, or a
 * BSON date ({"$date": ms}, as Abaco's Python stored it); -1 otherwise. */
static int64_t received_ms(const json_t *exec) {
  const json_t *t = json_object_get(exec, "message_received_time");
  int64_t ms;
  if (json_is_string(t) && actor_time_parse(json_string_value(t), &ms) == 0)
    return ms;
  const json_t *d = json_object_get(t, "$date");
  if (json_is_integer(d))
    return (int64_t)json_integer_value(d);
  return -1;
}

typedef struct {
  const char **argv;
  char (*scores)[24];
  int argc;
  size_t n, cap;
} zadd_t;

static int zadd_init(zadd_t *z, size_t cap) {
  memset(z, 0, sizeof(*z));
  z->argv = calloc(2 + 2 * cap, sizeof(*z->argv));
  z->scores = calloc(cap ? cap : 1, sizeof(*z->scores));
  if (z->argv == NULL || z->scores == NULL) {
    free(z->argv);
    free(z->scores);
    return ACTOR_ENOMEM;
  }
  z->cap = cap;
  z->argv[0] = "ZADD";
  z->argv[1] = MODEL_KEY_EXEC_TIMES;
  z->argc = 2;
  return 0;
}

/* Adds one id (borrowed: it must outlive the flush). */
static void zadd_push(zadd_t *z, const char *eid, int64_t ms) {
  snprintf(z->scores[z->n], sizeof(z->scores[z->n]), "%lld", (long long)ms);
  z->argv[z->argc++] = z->scores[z->n];
  z->argv[z->argc++] = eid;
  z->n++;
}

static int zadd_flush(store_redis_t *r, zadd_t *z) {
  int rc = 0;
  if (z->n > 0)
    rc = store_redis_reply_rc(store_redis_cmdargv(r, z->argc, z->argv, NULL));
  z->n = 0;
  z->argc = 2;
  return rc;
}

static void zadd_free(zadd_t *z) {
  free(z->argv);
  free(z->scores);
}

int model_exec_index_add(store_redis_t *r, const json_t *execs) {
  size_t n = json_array_size(execs), i;
  zadd_t z;
  int rc = zadd_init(&z, n);
  if (rc != 0)
    return rc;
  json_t *e;
  json_array_foreach(execs, i, e) {
    const char *eid = json_string_value(json_object_get(e, "_id"));
    int64_t ms = received_ms(e);
    if (eid && ms >= 0)
      zadd_push(&z, eid, ms);
  }
  rc = zadd_flush(r, &z);
  zadd_free(&z);
  return rc;
}

int model_exec_index_drop(store_redis_t *r) {
  int rc = store_key_delete(r, MODEL_KEY_EXEC_TIMES_BUILT, NULL);
  if (rc == 0)
    rc = store_key_delete(r, MODEL_KEY_EXEC_TIMES, NULL);
  return rc;
}

int model_exec_index_built(store_redis_t *r, bool *built) {
  return store_key_exists(r, MODEL_KEY_EXEC_TIMES_BUILT, built);
}

typedef struct {
  store_redis_t *r;
  zadd_t z;
  json_t *hold; /* the ids of the chunk being built */
  long long n, undated;
} rebuild_t;

static int rebuild_one(const json_t *doc, void *ud) {
  rebuild_t *b = ud;
  const char *eid = json_string_value(json_object_get(doc, "_id"));
  int64_t ms = received_ms(doc);
  if (eid == NULL || ms < 0) {
    b->undated++;
    return 0;
  }
  json_t *s = json_string(eid);
  if (s == NULL || json_array_append_new(b->hold, s) != 0)
    return ACTOR_ENOMEM;
  zadd_push(&b->z, json_string_value(s), ms);
  b->n++;
  if (b->z.n < b->z.cap)
    return 0;
  int rc = zadd_flush(b->r, &b->z);
  json_array_clear(b->hold);
  return rc;
}

int model_exec_index_rebuild(store_redis_t *r, store_mongo_t *m, long long *n) {
  rebuild_t b = {.r = r};
  *n = 0;
  int rc = zadd_init(&b.z, ZADD_CHUNK);
  if (rc != 0)
    return rc;
  b.hold = json_array();
  json_t *opts = json_pack("{s:{s:i, s:i}}", "projection", "_id", 1, "message_received_time", 1);
  rc = (b.hold && opts) ? 0 : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_mongo_find_each(m, MODEL_COLL_EXECUTIONS, NULL, opts, rebuild_one, &b);
  if (rc == 0)
    rc = zadd_flush(r, &b.z);
  if (rc == 0)
    rc = store_redis_reply_rc(store_redis_cmd(r, "SET %s 1", MODEL_KEY_EXEC_TIMES_BUILT));
  if (rc == 0 && b.undated > 0)
    LOG_WARN("store",
             "executions index: %lld execution(s) without a readable message_received_time "
             "are not indexed, and executions_retention never removes them",
             b.undated);
  json_decref(opts);
  json_decref(b.hold);
  zadd_free(&b.z);
  *n = b.n;
  return rc;
}

int model_exec_retire(store_redis_t *r, store_mongo_t *m, int64_t cutoff_ms, size_t max,
                      size_t *removed) {
  *removed = 0;
  char lim[32], cut[32];
  snprintf(lim, sizeof(lim), "%zu", max);
  snprintf(cut, sizeof(cut), "(%lld", (long long)cutoff_ms);
  const char *argv[] = {"ZRANGEBYSCORE", MODEL_KEY_EXEC_TIMES, "-inf", cut, "LIMIT", "0", lim};
  json_t *ids = NULL;
  int rc = store__redis_strings(store_redis_cmdargv(r, 7, argv, NULL), "ZRANGEBYSCORE",
                                MODEL_KEY_EXEC_TIMES, &ids);
  if (rc != 0)
    return rc;
  size_t n = json_array_size(ids), done = 0;
  const char **rem = calloc(2 + n, sizeof(*rem));
  if (rem == NULL) {
    json_decref(ids);
    return ACTOR_ENOMEM;
  }
  rem[0] = "ZREM";
  rem[1] = MODEL_KEY_EXEC_TIMES;
  for (; rc == 0 && done < n; done++) {
    const char *eid = json_string_value(json_array_get(ids, done));
    json_t *f = json_pack("{s:s}", "_id", eid ? eid : "");
    rc = f ? store_mongo_delete(m, MODEL_COLL_EXECUTIONS, f, NULL) : ACTOR_ENOMEM;
    if (rc == 0)
      rc = store_mongo_delete(m, MODEL_COLL_LOGS, f, NULL);
    json_decref(f);
    if (rc == 0)
      rem[2 + done] = eid;
  }
  if (rc != 0)
    done--; /* the one that failed stays indexed */
  int zrc = done > 0 ? store_redis_reply_rc(store_redis_cmdargv(r, (int)(2 + done), rem, NULL)) : 0;
  free(rem);
  json_decref(ids);
  if (zrc == 0)
    *removed = done;
  return rc != 0 ? rc : zrc;
}
