/* The execution figures behind /metrics (actor/execstats.h) against a live
 * Redis (database 15, see redis_test_store.h): status counters, and the
 * runtime histogram's cumulative buckets, +Inf, count and sum for runtimes
 * on, between and beyond the bucket bounds. */
#include <math.h>

#include "actor/errors.h"
#include "actor/execstats.h"
#include "redis_test_store.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

static store_redis_t *store;

static long long hget_int(const char *key, const char *field) {
  redisReply *rep = store_redis_cmd(store, "HGET %s %s", key, field);
  long long v = rep && rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
  freeReplyObject(rep);
  return v;
}

static double hget_double(const char *key, const char *field) {
  redisReply *rep = store_redis_cmd(store, "HGET %s %s", key, field);
  double v = rep && rep->type == REDIS_REPLY_STRING ? strtod(rep->str, NULL) : 0;
  freeReplyObject(rep);
  return v;
}

static void del(const char *key) {
  redisReply *rep = store_redis_cmd(store, "DEL %s", key);
  freeReplyObject(rep);
}

static void test_status_counts(void) {
  del(ACTOR_METRICS_EXECUTIONS);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ_INT(actor_execstats_status(store, "COMPLETE"), 0);
  ASSERT_EQ_INT(actor_execstats_status(store, "ERROR"), 0);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_EXECUTIONS, "COMPLETE"), 3);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_EXECUTIONS, "ERROR"), 1);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_EXECUTIONS, "RUNNING"), 0);
}

static void test_runtime_histogram(void) {
  del(ACTOR_METRICS_RUNTIME);
  /* 0.05 (below the first bound), 0.1 (on it), 2 (between), 7200 (beyond
   * the last), and a negative one, counted as 0. */
  const double runs[] = {0.05, 0.1, 2, 7200, -3};
  for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
    ASSERT_EQ_INT(actor_execstats_runtime(store, runs[i]), 0);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "0.1"), 3);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "0.5"), 3);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "1"), 3);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "2.5"), 4);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "3600"), 4);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "+Inf"), 5);
  ASSERT_EQ_INT(hget_int(ACTOR_METRICS_RUNTIME, "count"), 5);
  ASSERT_TRUE(fabs(hget_double(ACTOR_METRICS_RUNTIME, "sum") - 7202.15) < 1e-6);
  /* Cumulative: no bucket holds more than the next one. */
  long long prev = 0;
  for (int i = 0; ACTOR_RUNTIME_BUCKETS[i]; i++) {
    long long n = hget_int(ACTOR_METRICS_RUNTIME, ACTOR_RUNTIME_BUCKETS[i]);
    ASSERT_TRUE(n >= prev);
    prev = n;
  }
}

int main(void) {
  store = redis_test_store();
  if (store == NULL)
    return 1;
  RUN_TEST(test_status_counts);
  RUN_TEST(test_runtime_histogram);
  del(ACTOR_METRICS_EXECUTIONS);
  del(ACTOR_METRICS_RUNTIME);
  store_redis_free(store);
  TEST_EXIT();
}
