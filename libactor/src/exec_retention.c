/* The executions' indexes in Redis and [store] executions_retention
 * (model.h).
 *
 * Design note. FerretDB v1 (SQLite backend) serves only a filter that is a
 * lone _id equality from an index; any other filter (an actor, a time
 * range, an `_id $in` list) is evaluated document by document over the
 * whole collection (docs/performance.md has the plans). So what the api
 * asks of executions besides one _id is kept beside them, in Redis:
 *   MODEL_KEY_EXEC_TIMES     every execution id scored by
 *                            message_received_time (ms): retention takes
 *                            the oldest ids below its cutoff;
 *   abaco:executions:of:ID   an actor's execution ids by the same score:
 *                            its list is a page of ids (ZRANGE) and one
 *                            find by _id each;
 *   abaco:executions:totals:ID  the actor's cpu, io and runtime summed
 *                            (total_executions is the ZCARD of the above).
 * All three are changed by one server-side script per batch, so they agree:
 * an id is added (and its cpu/io/runtime counted) only if it was not in the
 * actor's set, and removed (and discounted) only if it was, which makes
 * adding twice -- a rebuild racing new executions -- harmless. Ids are
 * added before the executions are inserted (one call per group commit), so
 * an execution never exists unindexed; an id whose insert then failed is
 * taken out again (model_exec_index_remove, at each insert site). Should
 * that fail too, the id is skipped by the list, but it stays in its
 * actor's index (total_executions one too high) until retention reaches
 * it: retention finds no document and, not knowing the actor, takes it
 * out of the time index only; a forced rebuild does not remove it either
 * (it only adds). A mark key says
 * the indexes were built from the collection; without it the list falls
 * back to the scan and the api's index tick rebuilds them by one streaming
 * scan (a stack upgraded from a release without them, or a Redis flushed).
 * The indexes are kept whatever the retention, so that turning retention
 * on later finds every execution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "store_int.h"

#define CHUNK 500 /* executions per script call */
#define PREFIX_OF "abaco:executions:of:"
#define PREFIX_TOTALS "abaco:executions:totals:"

/* ARGV: of-prefix, totals-prefix, time key, then per execution: db_id,
 * eid, score (-1: no readable time: in the actor's set at 0, not in the
 * time index), cpu, io, runtime. */
static const char ADD_LUA[] =
    "local n = 0\n"
    "for i = 4, #ARGV, 6 do\n"
    "  local db, eid, s = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])\n"
    "  if s >= 0 then redis.call('ZADD', ARGV[3], s, eid) else s = 0 end\n"
    "  if db ~= '' and redis.call('ZADD', ARGV[1] .. db, 'NX', s, eid) == 1 then\n"
    "    n = n + 1\n"
    "    local t = ARGV[2] .. db\n"
    "    if ARGV[i + 3] ~= '0' then redis.call('HINCRBY', t, 'cpu', ARGV[i + 3]) end\n"
    "    if ARGV[i + 4] ~= '0' then redis.call('HINCRBY', t, 'io', ARGV[i + 4]) end\n"
    "    if ARGV[i + 5] ~= '0' then redis.call('HINCRBY', t, 'runtime', ARGV[i + 5]) end\n"
    "  end\n"
    "end\n"
    "return n\n";

/* ARGV: of-prefix, totals-prefix, time key, then per execution: db_id
 * ('' when unknown), eid, cpu, io, runtime. */
static const char REMOVE_LUA[] =
    "local n = 0\n"
    "for i = 4, #ARGV, 5 do\n"
    "  local db, eid = ARGV[i], ARGV[i + 1]\n"
    "  redis.call('ZREM', ARGV[3], eid)\n"
    "  if db ~= '' and redis.call('ZREM', ARGV[1] .. db, eid) == 1 then\n"
    "    n = n + 1\n"
    "    local t = ARGV[2] .. db\n"
    "    if redis.call('ZCARD', ARGV[1] .. db) == 0 then redis.call('DEL', t)\n"
    "    else\n"
    "      if ARGV[i + 2] ~= '0' then redis.call('HINCRBY', t, 'cpu', -ARGV[i + 2]) end\n"
    "      if ARGV[i + 3] ~= '0' then redis.call('HINCRBY', t, 'io', -ARGV[i + 3]) end\n"
    "      if ARGV[i + 4] ~= '0' then redis.call('HINCRBY', t, 'runtime', -ARGV[i + 4]) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return n\n";

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

static long long num(const json_t *doc, const char *k) {
  const json_t *v = json_object_get(doc, k);
  if (json_is_integer(v))
    return (long long)json_integer_value(v);
  if (json_is_real(v))
    return (long long)json_real_value(v);
  return 0;
}

/* One script call under construction: argv points into nums and into
 * the borrowed strings of the documents, which must outlive the flush. */
typedef struct {
  const char *script;
  int per; /* arguments per execution */
  const char **argv;
  char (*nums)[24];
  size_t nn, cap, n; /* nums used, executions capacity, executions */
  int argc;
} call_t;

static int call_init(call_t *c, const char *script, int per, size_t cap) {
  memset(c, 0, sizeof(*c));
  c->script = script;
  c->per = per;
  c->cap = cap ? cap : 1;
  c->argv = calloc(6 + (size_t)per * c->cap, sizeof(*c->argv));
  c->nums = calloc(4 * c->cap, sizeof(*c->nums));
  if (c->argv == NULL || c->nums == NULL) {
    free(c->argv);
    free(c->nums);
    return ACTOR_ENOMEM;
  }
  c->argv[0] = "EVAL";
  c->argv[1] = script;
  c->argv[2] = "0";
  c->argv[3] = PREFIX_OF;
  c->argv[4] = PREFIX_TOTALS;
  c->argv[5] = MODEL_KEY_EXEC_TIMES;
  c->argc = 6;
  return 0;
}

static const char *call_num(call_t *c, long long v) {
  char *s = c->nums[c->nn++];
  snprintf(s, sizeof(c->nums[0]), "%lld", v);
  return s;
}

/* Adds one execution document (borrowed). */
static void call_push(call_t *c, const json_t *doc) {
  const char *eid = json_string_value(json_object_get(doc, "_id"));
  const char *db = json_string_value(json_object_get(doc, "actor_dbid"));
  if (eid == NULL)
    return;
  c->argv[c->argc++] = db ? db : "";
  c->argv[c->argc++] = eid;
  if (c->per == 6)
    c->argv[c->argc++] = call_num(c, received_ms(doc));
  c->argv[c->argc++] = call_num(c, num(doc, "cpu"));
  c->argv[c->argc++] = call_num(c, num(doc, "io"));
  c->argv[c->argc++] = call_num(c, num(doc, "runtime"));
  c->n++;
}

static int call_flush(store_redis_t *r, call_t *c) {
  int rc = 0;
  if (c->n > 0)
    rc = store__redis_integer(store_redis_cmdargv(r, c->argc, c->argv, NULL), "EVAL",
                              "executions index", NULL);
  c->n = c->nn = 0;
  c->argc = 6;
  return rc;
}

static void call_free(call_t *c) {
  free(c->argv);
  free(c->nums);
}

/* Runs script (per arguments an execution) over execs, CHUNK at a time. */
static int call_all(store_redis_t *r, const json_t *execs, const char *script, int per) {
  size_t n = json_array_size(execs), i;
  call_t c;
  int rc = call_init(&c, script, per, n < CHUNK ? n : CHUNK);
  json_t *e;
  json_array_foreach(execs, i, e) {
    if (rc != 0)
      break;
    call_push(&c, e);
    if (c.n == c.cap)
      rc = call_flush(r, &c);
  }
  if (rc == 0)
    rc = call_flush(r, &c);
  if (c.argv)
    call_free(&c);
  return rc;
}

int model_exec_index_add(store_redis_t *r, const json_t *execs) {
  return call_all(r, execs, ADD_LUA, 6);
}

int model_exec_index_remove(store_redis_t *r, const json_t *execs) {
  return call_all(r, execs, REMOVE_LUA, 5);
}

int model_exec_index_built(store_redis_t *r, bool *built) {
  bool a = false, b = false;
  int rc = store_key_exists(r, MODEL_KEY_EXEC_TIMES_BUILT, &a);
  if (rc == 0)
    rc = store_key_exists(r, MODEL_KEY_EXEC_INDEX_BUILT, &b);
  *built = a && b;
  return rc;
}

int model_exec_count(store_redis_t *r, const char *db_id, model_exec_totals_t *t) {
  char of[MODEL_KEY_MAX], tot[MODEL_KEY_MAX];
  model_key_exec_of(db_id, of);
  model_key_exec_totals(db_id, tot);
  memset(t, 0, sizeof(*t));
  int rc = store__redis_integer(store_redis_cmd(r, "ZCARD %s", of), "ZCARD", of, &t->count);
  static const char *const F[] = {"cpu", "io", "runtime", NULL};
  json_t *got = NULL;
  if (rc == 0)
    rc = store_hash_get_fields(r, tot, F, &got);
  long long *dst[] = {&t->cpu, &t->io, &t->runtime};
  for (int i = 0; rc == 0 && i < 3; i++) {
    const char *s = json_string_value(json_object_get(got, F[i]));
    *dst[i] = s ? strtoll(s, NULL, 10) : 0;
  }
  json_decref(got);
  return rc;
}

int model_exec_ids(store_redis_t *r, const char *db_id, long long offset, long long limit,
                   json_t **out) {
  char of[MODEL_KEY_MAX], a[24], b[24];
  *out = NULL;
  model_key_exec_of(db_id, of);
  if (limit == 0) {
    *out = json_array();
    return *out ? 0 : ACTOR_ENOMEM;
  }
  snprintf(a, sizeof(a), "%lld", offset);
  snprintf(b, sizeof(b), "%lld", limit < 0 ? -1 : offset + limit - 1);
  const char *argv[] = {"ZRANGE", of, a, b};
  return store__redis_strings(store_redis_cmdargv(r, 4, argv, NULL), "ZRANGE", of, out);
}

int model_exec_page(store_redis_t *r, store_mongo_t *m, const char *db_id, long long offset,
                    long long limit, json_t **out) {
  json_t *ids = NULL;
  *out = NULL;
  int rc = model_exec_ids(r, db_id, offset, limit, &ids);
  if (rc != 0)
    return rc;
  json_t *list = json_array();
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    json_t *doc = NULL;
    rc = list ? model_exec_get(m, db_id, json_string_value(id), &doc) : ACTOR_ENOMEM;
    if (rc == ACTOR_ENOTFOUND) { /* indexed, never inserted or just removed */
      rc = 0;
      continue;
    }
    if (rc != 0)
      break;
    json_array_append_new(list, doc);
  }
  json_decref(ids);
  if (rc != 0) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return 0;
}

typedef struct {
  store_redis_t *r;
  call_t c;
  json_t *hold; /* the documents of the chunk being built */
  long long n, undated;
} rebuild_t;

static int rebuild_one(const json_t *doc, void *ud) {
  rebuild_t *b = ud;
  if (!json_is_string(json_object_get(doc, "_id")))
    return 0;
  if (received_ms(doc) < 0)
    b->undated++;
  if (json_array_append(b->hold, (json_t *)doc) != 0)
    return ACTOR_ENOMEM;
  call_push(&b->c, doc);
  b->n++;
  if (b->c.n < b->c.cap)
    return 0;
  int rc = call_flush(b->r, &b->c);
  json_array_clear(b->hold);
  return rc;
}

int model_exec_index_rebuild(store_redis_t *r, store_mongo_t *m, long long *n) {
  rebuild_t b = {.r = r};
  *n = 0;
  int rc = call_init(&b.c, ADD_LUA, 6, CHUNK);
  if (rc != 0)
    return rc;
  b.hold = json_array();
  json_t *opts = json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "projection", "_id", 1,
                           "actor_dbid", 1, "message_received_time", 1, "cpu", 1, "io", 1,
                           "runtime", 1);
  rc = (b.hold && opts) ? 0 : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_mongo_find_each(m, MODEL_COLL_EXECUTIONS, NULL, opts, rebuild_one, &b);
  if (rc == 0)
    rc = call_flush(r, &b.c);
  if (rc == 0)
    rc = store_redis_reply_rc(store_redis_cmd(r, "SET %s 1", MODEL_KEY_EXEC_TIMES_BUILT));
  if (rc == 0)
    rc = store_redis_reply_rc(store_redis_cmd(r, "SET %s 1", MODEL_KEY_EXEC_INDEX_BUILT));
  if (rc == 0 && b.undated > 0)
    LOG_WARN("store",
             "executions index: %lld execution(s) without a readable message_received_time "
             "are listed first and executions_retention never removes them",
             b.undated);
  json_decref(opts);
  json_decref(b.hold);
  call_free(&b.c);
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
  call_t c;
  json_t *docs = json_array();
  json_t *proj = json_pack("{s:i, s:i, s:i, s:i, s:i}", "_id", 1, "actor_dbid", 1, "cpu", 1,
                           "io", 1, "runtime", 1);
  rc = (docs && proj) ? call_init(&c, REMOVE_LUA, 5, n) : ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(ids);
    json_decref(docs);
    json_decref(proj);
    return rc;
  }
  /* Each by _id (the only filter FerretDB serves from an index): read what
   * the counters need, then delete the execution and its logs. */
  for (; rc == 0 && done < n; done++) {
    const char *eid = json_string_value(json_array_get(ids, done));
    json_t *f = json_pack("{s:s}", "_id", eid ? eid : ""), *doc = NULL;
    rc = f ? store_mongo_find_one(m, MODEL_COLL_EXECUTIONS, f, proj, &doc) : ACTOR_ENOMEM;
    if (rc == ACTOR_ENOTFOUND) { /* never inserted, or deleted already: the
                                  * actor is unknown, see the design note */
      doc = json_pack("{s:s, s:s}", "_id", eid ? eid : "", "actor_dbid", "");
      rc = doc ? 0 : ACTOR_ENOMEM;
    }
    if (rc == 0)
      rc = store_mongo_delete(m, MODEL_COLL_EXECUTIONS, f, NULL);
    if (rc == 0)
      rc = store_mongo_delete(m, MODEL_COLL_LOGS, f, NULL);
    json_decref(f);
    if (rc != 0)
      json_decref(doc);
    else if (json_array_append_new(docs, doc) != 0)
      rc = ACTOR_ENOMEM;
    else
      call_push(&c, doc);
  }
  if (rc != 0)
    done--; /* the one that failed stays indexed */
  int zrc = call_flush(r, &c);
  call_free(&c);
  json_decref(docs);
  json_decref(proj);
  json_decref(ids);
  if (zrc == 0)
    *removed = done;
  return rc != 0 ? rc : zrc;
}
