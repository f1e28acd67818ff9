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

static json_t *cluster_obj(const char *id) {
  return json_pack("{s:s, s:s, s:s, s:s}", "id", id, "tenant", tenant, "tag", tag, "name", id);
}

/* DELETE of a cluster takes its finished runs' records with it (nothing
 * could read them again); a pending run's stays for its resume. */
static void test_delete_removes_finished_runs(void) {
  json_t *c = cluster_obj("cdel");
  ASSERT_EQ_INT(cluster_create(store, c), 0);
  json_decref(c);
  static const char *const ids[] = {"rdel0", "rdel1", "rdel2"};
  for (int i = 0; i < 3; i++) {
    json_t *run = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", ids[i], "tenant", tenant,
                            "cluster", "cdel", "tag", tag, "status", "pending");
    ASSERT_TRUE(run != NULL);
    ASSERT_EQ_INT(cluster_run_create(store, run), 0);
    json_decref(run);
    if (i != 0) /* rdel0 stays pending */
      ASSERT_EQ_INT(cluster_run_done(store, tag, tenant, "cdel", ids[i]), 0);
  }
  ASSERT_EQ_INT(cluster_delete(store, tenant, "cdel", tag), 0);
  json_t *run = NULL;
  ASSERT_EQ_INT(cluster_run_get(store, tenant, "rdel0", &run), 0);
  json_decref(run);
  run = NULL;
  ASSERT_EQ_INT(cluster_run_get(store, tenant, "rdel1", &run), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cluster_run_get(store, tenant, "rdel2", &run), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cluster_get(store, tenant, "cdel", &run), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cluster_run_done(store, tag, tenant, "cdel", "rdel0"), 0);
  char key[256];
  snprintf(key, sizeof key, "abaco:cluster:run:%s:rdel0", tenant);
  ACTOR_IGNORE(store_key_delete(store, key, NULL));
}

/* The tenant's limit: the one over it is refused and leaves no trace. */
static void test_limit_per_tenant(void) {
  char id[32];
  for (int i = 0; i < CLUSTER_MAX_PER_TENANT; i++) {
    snprintf(id, sizeof id, "lim%04d", i);
    json_t *c = cluster_obj(id);
    ASSERT_EQ_INT(cluster_create(store, c), 0);
    json_decref(c);
  }
  json_t *c = cluster_obj("limover");
  ASSERT_EQ_INT(cluster_create(store, c), ACTOR_ETOOBIG);
  json_decref(c);
  json_t *ids = NULL;
  ASSERT_EQ_INT(cluster_ids(store, tenant, &ids), 0);
  ASSERT_EQ_INT((long long)json_array_size(ids), CLUSTER_MAX_PER_TENANT);
  json_decref(ids);
  json_t *got = NULL;
  ASSERT_EQ_INT(cluster_get(store, tenant, "limover", &got), ACTOR_ENOTFOUND);
  for (int i = 0; i < CLUSTER_MAX_PER_TENANT; i++) {
    snprintf(id, sizeof id, "lim%04d", i);
    ASSERT_EQ_INT(cluster_delete(store, tenant, id, tag), 0);
  }
  ASSERT_EQ_INT(cluster_ids(store, tenant, &ids), 0);
  ASSERT_EQ_INT((long long)json_array_size(ids), 0);
  json_decref(ids);
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
  RUN_TEST(test_delete_removes_finished_runs);
  RUN_TEST(test_limit_per_tenant);
  cleanup();
  store_redis_free(store);
  TEST_EXIT();
}
