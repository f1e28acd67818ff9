/* Cluster runs in Redis (actor/cluster.h) against a live Redis (REDIS_URL,
 * database 15): the newest CLUSTER_RUNS_KEPT run ids are listed, and the
 * record of a run the cap drops is deleted with it unless the run is still
 * pending. Uses a tenant and a tag unique to its process and deletes their
 * keys at the end. Skipped when REDIS_URL is unset; fails when Redis is
 * unreachable. */
#include <jansson.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "actor/cluster.h"
#include "actor/errors.h"
#include "actor/store_kv.h"
#include "redis_test_store.h"
#include "test.h"

static store_redis_t *store;
static char tenant[64], tag[64];
#define CID "c1"
#define RUNS (CLUSTER_RUNS_KEPT + 5)

static void run_id(char *buf, size_t len, int i) { snprintf(buf, len, "run%03d", i); }

static void test_dropped_run_records_deleted(void) {
  char id[32];
  for (int i = 0; i < RUNS; i++) {
    run_id(id, sizeof id, i);
    json_t *run = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "tenant", tenant, "cluster",
                            CID, "tag", tag, "status", "pending");
    ASSERT_TRUE(run != NULL);
    ASSERT_EQ_INT(cluster_run_create(store, run), 0);
    json_decref(run);
    if (i != 0) /* run000 stays pending */
      ASSERT_EQ_INT(cluster_run_done(store, tag, tenant, CID, id), 0);
  }
  json_t *recent = NULL;
  ASSERT_EQ_INT(cluster_runs_recent(store, tenant, CID, 1000, &recent), 0);
  ASSERT_EQ_INT((long long)json_array_size(recent), CLUSTER_RUNS_KEPT);
  run_id(id, sizeof id, RUNS - 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(recent, 0), "id")), id);
  json_decref(recent);
  for (int i = 0; i < RUNS; i++) {
    json_t *run = NULL;
    run_id(id, sizeof id, i);
    int rc = cluster_run_get(store, tenant, id, &run);
    if (i == 0 || i >= RUNS - CLUSTER_RUNS_KEPT)
      ASSERT_EQ_INT(rc, 0); /* pending, or among the newest */
    else
      ASSERT_EQ_INT(rc, ACTOR_ENOTFOUND); /* dropped from the list: its record gone */
    json_decref(run);
  }
  json_t *pending = NULL;
  ASSERT_EQ_INT(cluster_runs_pending(store, tag, &pending), 0);
  ASSERT_EQ_INT((long long)json_array_size(pending), 1);
  json_decref(pending);
}

static void cleanup(void) {
  char id[32], key[256];
  for (int i = 0; i < RUNS; i++) {
    run_id(id, sizeof id, i);
    snprintf(key, sizeof key, "abaco:cluster:run:%s:%s", tenant, id);
    ACTOR_IGNORE(store_key_delete(store, key, NULL)); /* best effort */
  }
  snprintf(key, sizeof key, "abaco:cluster:%s:%s:runs", tenant, CID);
  ACTOR_IGNORE(store_key_delete(store, key, NULL));
  snprintf(key, sizeof key, "abaco:cluster:runs:pending:%s", tag);
  ACTOR_IGNORE(store_key_delete(store, key, NULL));
}

int main(void) {
  store = redis_test_store();
  if (store == NULL)
    return 1;
  snprintf(tenant, sizeof(tenant), "TCC%ld-%ld", (long)getpid(), (long)time(NULL));
  snprintf(tag, sizeof(tag), "TAGC%ld-%ld", (long)getpid(), (long)time(NULL));
  RUN_TEST(test_dropped_run_records_deleted);
  cleanup();
  store_redis_free(store);
  TEST_EXIT();
}
