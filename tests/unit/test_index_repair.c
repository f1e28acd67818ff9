/* Index repairs. An execution whose insert failed is taken out of the
 * executions' indexes again (libactor exec_retention.c model_exec_index_remove, the group
 * commit's after hook, store_batch.c): its actor's index, the time index
 * and the actor's totals end as they were before it. Against the Redis of
 * REDIS_URL; the insert failure is real: a MongoDB-wire URL where nothing
 * listens. And the workers health treats as known (its orphan-queue sweep)
 * come from the actors' sets of workers, not only from the worker index,
 * which a failed index update leaves short. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/model.h"
#include "actor/store.h"
#include "actor/store_kv.h"
#include "redis_test_store.h"
#include "test.h"

static store_redis_t *redis;
static char db[64], of[MODEL_KEY_MAX], tot[MODEL_KEY_MAX];

static json_t *exec_doc(const char *eid, int cpu) {
  return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "_id", eid, "actor_dbid", db,
                   "message_received_time", "2026-11-22T14:45:41.591Z", "cpu", cpu, "io", 2,
                   "runtime", 3);
}

/* 1 when member is in the sorted set key, 0 when not. */
static int in_zset(const char *key, const char *member) {
  redisReply *rep = store_redis_cmd(redis, "ZSCORE %s %s", key, member);
  ASSERT_TRUE(rep != NULL);
  int in = rep->type != REDIS_REPLY_NIL;
  freeReplyObject(rep);
  return in;
}

static long long totals_cpu(void) {
  model_exec_totals_t t;
  ASSERT_EQ_INT(model_exec_count(redis, db, &t), 0);
  return t.cpu;
}

static void cleanup(void) {
  ACTOR_IGNORE(store_redis_reply_rc(store_redis_cmd(redis, "DEL %s %s", of, tot)));
}

static void test_remove_undoes_add(void) {
  json_t *keep = json_pack("[o]", exec_doc("UTkeep", 10));
  json_t *gone = json_pack("[o]", exec_doc("UTgone", 7));
  ASSERT_TRUE(keep && gone);
  ASSERT_EQ_INT(model_exec_index_add(redis, keep), 0);
  ASSERT_EQ_INT(model_exec_index_add(redis, gone), 0);
  ASSERT_EQ_INT((int)totals_cpu(), 17);
  ASSERT_EQ_INT(model_exec_index_remove(redis, gone), 0);
  ASSERT_EQ_INT(in_zset(of, "UTgone"), 0);
  ASSERT_EQ_INT(in_zset(MODEL_KEY_EXEC_TIMES, "UTgone"), 0);
  ASSERT_EQ_INT(in_zset(of, "UTkeep"), 1);
  model_exec_totals_t t;
  ASSERT_EQ_INT(model_exec_count(redis, db, &t), 0);
  ASSERT_EQ_INT((int)t.count, 1);
  ASSERT_EQ_INT((int)t.cpu, 10);
  /* removing again subtracts nothing */
  ASSERT_EQ_INT(model_exec_index_remove(redis, gone), 0);
  ASSERT_EQ_INT((int)totals_cpu(), 10);
  json_decref(keep);
  json_decref(gone);
  cleanup();
}

static int before(const json_t *docs, void *ud) { return model_exec_index_add(ud, docs); }
static int after_calls;
static void after(const json_t *failed, void *ud) {
  after_calls++;
  ASSERT_EQ_INT(model_exec_index_remove(ud, failed), 0);
}

static void test_failed_batch_insert_is_unindexed(void) {
  actor_config_t *cfg = NULL;
  store_mongo_t *mongo = NULL;
  store_batch_t *batch = NULL;
  /* port 1: nothing listens, the insert fails after server selection */
  ASSERT_EQ_INT(actor_config_parse("[store]\nmongo_url = "
                                   "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"
                                   "&connectTimeoutMS=300\nmongo_db = test_unindex\n",
                                   &cfg),
                0);
  ASSERT_EQ_INT(store_mongo_new(cfg, &mongo), 0);
  ASSERT_EQ_INT(store_batch_new(mongo, "executions", 8, &batch), 0);
  store_batch_set_before(batch, before, redis);
  store_batch_set_after(batch, after, redis);
  json_t *keep = json_pack("[o]", exec_doc("UTkeep", 10));
  ASSERT_EQ_INT(model_exec_index_add(redis, keep), 0);
  json_t *doc = exec_doc("UTfailed", 5);
  ASSERT_TRUE(doc != NULL);
  int rc = store_batch_insert(batch, doc);
  ASSERT_TRUE(rc != 0);
  ASSERT_EQ_INT(after_calls, 1);
  ASSERT_EQ_INT(in_zset(of, "UTfailed"), 0);
  ASSERT_EQ_INT(in_zset(MODEL_KEY_EXEC_TIMES, "UTfailed"), 0);
  model_exec_totals_t t;
  ASSERT_EQ_INT(model_exec_count(redis, db, &t), 0);
  ASSERT_EQ_INT((int)t.count, 1);
  ASSERT_EQ_INT((int)t.cpu, 10);
  json_decref(doc);
  json_decref(keep);
  store_batch_free(batch);
  store_mongo_free(mongo);
  actor_config_free(cfg);
  cleanup();
}

static void test_known_workers_from_sets(void) {
  char set[MODEL_KEY_MAX];
  model_key_workers(db, set);
  /* a worker whose record was written but whose index update failed: in
   * its actor's set, absent from the index */
  ASSERT_EQ_INT(store_set_add(redis, MODEL_KEY_ACTORS, db, NULL), 0);
  ASSERT_EQ_INT(store_set_add(redis, set, "UTwnoindex", NULL), 0);
  json_t *known = NULL;
  int rc = model_worker_ids_known(redis, &known);
  ACTOR_IGNORE(store_set_remove(redis, MODEL_KEY_ACTORS, db));
  ACTOR_IGNORE(store_redis_reply_rc(store_redis_cmd(redis, "DEL %s", set)));
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(json_object_get(known, "UTwnoindex") != NULL);
  ASSERT_TRUE(json_object_get(known, "UTwnever") == NULL);
  json_decref(known);
}

int main(void) {
  redis = redis_test_store();
  if (redis == NULL)
    return 1;
  snprintf(db, sizeof(db), "UTunindex%d", (int)getpid());
  model_key_exec_of(db, of);
  model_key_exec_totals(db, tot);
  RUN_TEST(test_remove_undoes_add);
  RUN_TEST(test_failed_batch_insert_is_unindexed);
  RUN_TEST(test_known_workers_from_sets);
  ACTOR_IGNORE(store_redis_reply_rc(store_redis_cmd(redis, "ZREM %s UTkeep UTgone UTfailed",
                                                    MODEL_KEY_EXEC_TIMES)));
  store_redis_free(redis);
  store_mongo_cleanup();
  TEST_EXIT();
}
