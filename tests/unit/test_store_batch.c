/* Group commit (store_batch_*) against the real MongoDB-wire server at
 * MONGO_URL in a database unique to the run: concurrent inserts all land
 * exactly once, a duplicate id fails only its own caller, and concurrent
 * callers share batches. Skipped when MONGO_URL is unset; fails when the
 * server is unreachable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "test.h"

#define THREADS 8
#define PER_THREAD 150

static store_mongo_t *mongo;
static store_batch_t *batch;
static int failures[THREADS];

static void *inserter(void *arg) {
  long t = (long)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    char id[64];
    snprintf(id, sizeof(id), "t%ld-%d", t, i);
    json_t *doc = json_pack("{s:s, s:i, s:I}", "_id", id, "thread", (int)t, "i", (json_int_t)i);
    if (store_batch_insert(batch, doc) != 0)
      failures[t]++;
    json_decref(doc);
  }
  return NULL;
}

static void test_concurrent_inserts_land_once(void) {
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, inserter, (void *)t);
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  for (int t = 0; t < THREADS; t++)
    ASSERT_EQ_INT(failures[t], 0);
  long long count = -1;
  ASSERT_EQ_INT(store_mongo_count(mongo, "batched", NULL, &count), 0);
  ASSERT_EQ_INT(count, THREADS * PER_THREAD);
  unsigned long long batches = 0, docs = 0;
  store_batch_stats(batch, &batches, &docs);
  ASSERT_EQ_INT(docs, THREADS * PER_THREAD);
  /* 8 threads contending: many inserts must have shared a round trip. */
  ASSERT_TRUE(batches < docs);
  fprintf(stderr, "    %llu documents in %llu batches\n", docs, batches);
}

static void test_duplicate_fails_only_its_caller(void) {
  json_t *dup = json_pack("{s:s}", "_id", "dup-one");
  json_t *fresh = json_pack("{s:s}", "_id", "fresh-one");
  ASSERT_EQ_INT(store_batch_insert(batch, dup), 0);
  ASSERT_EQ_INT(store_batch_insert(batch, dup), ACTOR_EEXIST);
  ASSERT_EQ_INT(store_batch_insert(batch, fresh), 0);
  json_t *found = NULL;
  json_t *filter = json_pack("{s:s}", "_id", "fresh-one");
  ASSERT_EQ_INT(store_mongo_find_one(mongo, "batched", filter, NULL, &found), 0);
  json_decref(found);
  json_decref(filter);
  json_decref(dup);
  json_decref(fresh);
}

static void test_insert_many_reports_per_document(void) {
  json_t *docs = json_pack("[{s:s}, {s:s}, {s:s}]", "_id", "m1", "_id", "there", "_id", "m2");
  json_t *there = json_pack("{s:s}", "_id", "there");
  ASSERT_EQ_INT(store_mongo_insert(mongo, "batched", there), 0);
  json_decref(there);
  int results[3] = {9, 9, 9};
  ASSERT_EQ_INT(store_mongo_insert_many(mongo, "batched", docs, results), 0);
  ASSERT_EQ_INT(results[0], 0);
  ASSERT_EQ_INT(results[1], ACTOR_EEXIST);
  ASSERT_EQ_INT(results[2], 0);
  json_decref(docs);
}

int main(void) {
  const char *url = test_server_env("MONGO_URL");
  char text[512];
  snprintf(text, sizeof(text), "[store]\nmongo_url = %s\nmongo_db = test_batch_%d\n", url,
           (int)getpid());
  actor_config_t *cfg = NULL;
  if (actor_config_parse(text, &cfg) != 0 || store_mongo_new(cfg, &mongo) != 0 ||
      store_mongo_ping(mongo) != 0) {
    fprintf(stderr, "the MongoDB-wire server at %s is not reachable\n", url);
    return 1;
  }
  if (store_batch_new(mongo, "batched", 64, &batch) != 0)
    return 1;
  RUN_TEST(test_concurrent_inserts_land_once);
  RUN_TEST(test_duplicate_fails_only_its_caller);
  RUN_TEST(test_insert_many_reports_per_document);
  store_batch_free(batch);
  ACTOR_IGNORE(store_mongo_drop_database(mongo)); /* cleanup */
  store_mongo_free(mongo);
  actor_config_free(cfg);
  store_mongo_cleanup();
  TEST_EXIT();
}
