/* The domain models against live stores: Redis (REDIS_URL) for actors and
 * workers, the MongoDB-wire server (MONGO_URL, FerretDB here) for
 * executions and logs. Actors: keys and ids (a tenant with '_' splits at
 * the last '_'), put/get, list_ids by tenant (another tenant, even one
 * whose name extends this one, with '_' or not, is not listed),
 * guarded transitions, set_status, delete. Workers: the fields of a new
 * worker, put/get/list/count, update, guarded transitions, a vanished
 * worker record, delete. Executions: insert, get (wrong actor db_id: not
 * found), list oldest first, guarded transitions, update, delete by actor.
 * Logs: set/get (missing: ""), replace, exp stored as a date, delete by
 * actor. Tenants are unique to the run and every key is removed; the Mongo
 * database is unique to the run and dropped. Skipped when either variable
 * is unset; fails when a server is unreachable. */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/model.h"
#include "actor/store.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

/* internal, from store_redis.c */
int store__redis_parse_url(const char *url, char **host, int *port, char **user, char **password,
                           int *db);

static store_redis_t *redis;
static store_mongo_t *mongo;
static char tenant_a[64], tenant_b[64], tenant_ab[72], tenant_us[80];

static int is_time(const json_t *v) {
  int64_t ms = 0;
  const char *s = json_string_value(v);
  return s != NULL && actor_time_parse(s, &ms) == 0 && ms > 0 && s[strlen(s) - 1] == 'Z';
}

static long long sismember(const char *set, const char *member) {
  redisReply *rep = store_redis_cmd(redis, "SISMEMBER %s %s", set, member);
  long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
  freeReplyObject(rep);
  return n;
}

static int array_has_str(const json_t *a, const char *s) {
  for (size_t i = 0; i < json_array_size(a); i++)
    if (json_string_value(json_array_get(a, i)) &&
        strcmp(json_string_value(json_array_get(a, i)), s) == 0)
      return 1;
  return 0;
}

/* ---- actors ---- */

static void test_keys(void) {
  char out[MODEL_KEY_MAX];
  model_db_id("TACC", "oA4rZ5m", out);
  ASSERT_EQ_STR(out, "TACC_oA4rZ5m");
  model_key_actor("TACC_x", out);
  ASSERT_EQ_STR(out, "abaco:actor:TACC_x");
  model_key_worker("TACC_x", "w1", out);
  ASSERT_EQ_STR(out, "abaco:worker:TACC_x:w1");
  model_key_workers("TACC_x", out);
  ASSERT_EQ_STR(out, "abaco:workers:TACC_x");
  ASSERT_EQ_STR(MODEL_KEY_ACTORS, "abaco:actors");
  /* Abaco's tenant_name dev_staging: a db_id splits at its last '_'. */
  model_db_id("DEV_STAGING", "oA4rZ5m", out);
  ASSERT_EQ_STR(out, "DEV_STAGING_oA4rZ5m");
  ASSERT_EQ_STR(model_db_id_actor(out), "oA4rZ5m");
  ASSERT_EQ_STR(model_db_id_actor("TACC_x"), "x");
  ASSERT_EQ_STR(model_db_id_actor("noscore"), "noscore");
  ASSERT_TRUE(model_db_id_in_tenant(out, "DEV_STAGING"));
  ASSERT_TRUE(!model_db_id_in_tenant(out, "DEV"));
  ASSERT_TRUE(!model_db_id_in_tenant(out, "DEV_STAGING_oA4rZ5m"));
  ASSERT_TRUE(!model_db_id_in_tenant("DEV_", "DEV"));
  ASSERT_TRUE(!model_db_id_in_tenant("DEV_x", ""));
  ASSERT_TRUE(!model_db_id_in_tenant(NULL, "DEV"));
}

static json_t *new_actor(const char *tenant, const char *id) {
  char db_id[MODEL_KEY_MAX];
  model_db_id(tenant, id, db_id);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:{}, s:I, s:b, s:n}", "id", id, "db_id",
                   db_id, "tenant", tenant, "image", "me/img:1", "status", ACTOR_SUBMITTED,
                   "default_environment", "K", "v", "state", "revision", (json_int_t)1, "stateless",
                   1, "link");
}

static void test_actor_crud(void) {
  char a1[MODEL_KEY_MAX], a2[MODEL_KEY_MAX], b1[MODEL_KEY_MAX], ab1[MODEL_KEY_MAX];
  char us1[MODEL_KEY_MAX];
  model_db_id(tenant_a, "act1", a1);
  model_db_id(tenant_a, "act2", a2);
  model_db_id(tenant_b, "act1", b1);
  model_db_id(tenant_ab, "act9", ab1);
  model_db_id(tenant_us, "act7", us1);
  json_t *x1 = new_actor(tenant_a, "act1"), *x2 = new_actor(tenant_a, "act2");
  json_t *y1 = new_actor(tenant_b, "act1"), *z1 = new_actor(tenant_ab, "act9");
  json_t *u1 = new_actor(tenant_us, "act7");
  json_t *out = NULL, *ids = NULL;

  ASSERT_EQ_INT(model_actor_get(redis, a1, &out), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_INT(model_actor_put(redis, a1, x1), 0);
  ASSERT_EQ_INT(model_actor_put(redis, a2, x2), 0);
  ASSERT_EQ_INT(model_actor_put(redis, b1, y1), 0);
  ASSERT_EQ_INT(model_actor_put(redis, ab1, z1), 0);
  ASSERT_EQ_INT(model_actor_put(redis, us1, u1), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a1, &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, x1));
  json_decref(out);
  ASSERT_EQ_INT(sismember(MODEL_KEY_ACTORS, a1), 1);

  /* list_ids: this tenant's actors only */
  ASSERT_EQ_INT(model_actor_list_ids(redis, tenant_a, &ids), 0);
  ASSERT_EQ_INT(json_array_size(ids), 2);
  ASSERT_TRUE(array_has_str(ids, a1) && array_has_str(ids, a2));
  ASSERT_TRUE(!array_has_str(ids, b1) && !array_has_str(ids, ab1) && !array_has_str(ids, us1));
  json_decref(ids);
  ASSERT_EQ_INT(model_actor_list_ids(redis, tenant_us, &ids), 0); /* "<tenant_a>_STAGING" */
  ASSERT_EQ_INT(json_array_size(ids), 1);
  ASSERT_TRUE(array_has_str(ids, us1));
  json_decref(ids);
  ASSERT_EQ_INT(model_actor_list_ids(redis, tenant_b, &ids), 0);
  ASSERT_EQ_INT(json_array_size(ids), 1);
  ASSERT_TRUE(array_has_str(ids, b1));
  json_decref(ids);
  ASSERT_EQ_INT(model_actor_list_ids(redis, "NOSUCHTENANTXYZ", &ids), 0);
  ASSERT_TRUE(json_is_array(ids) && json_array_size(ids) == 0);
  json_decref(ids);

  /* a put replaces the record and indexes it once */
  json_object_set_new(x2, "image", json_string("me/img:2"));
  json_object_del(x2, "link");
  ASSERT_EQ_INT(model_actor_put(redis, a2, x2), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a2, &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, x2));
  json_decref(out);
  ASSERT_EQ_INT(model_actor_list_ids(redis, tenant_a, &ids), 0);
  ASSERT_EQ_INT(json_array_size(ids), 2);
  json_decref(ids);

  /* delete: gone from the record and the index; deleting again is fine */
  ASSERT_EQ_INT(model_actor_delete(redis, a2), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a2, &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(sismember(MODEL_KEY_ACTORS, a2), 0);
  ASSERT_EQ_INT(model_actor_list_ids(redis, tenant_a, &ids), 0);
  ASSERT_EQ_INT(json_array_size(ids), 1);
  ASSERT_TRUE(array_has_str(ids, a1));
  json_decref(ids);
  ASSERT_EQ_INT(model_actor_delete(redis, a2), 0);
  ASSERT_EQ_INT(model_actor_delete(redis, b1), 0);
  ASSERT_EQ_INT(model_actor_delete(redis, ab1), 0);
  ASSERT_EQ_INT(model_actor_delete(redis, us1), 0);
  ASSERT_EQ_INT(model_actor_delete(redis, a1), 0);
  json_decref(u1);
  json_decref(x1);
  json_decref(x2);
  json_decref(y1);
  json_decref(z1);
}

static void test_actor_transition(void) {
  char a1[MODEL_KEY_MAX], none[MODEL_KEY_MAX];
  model_db_id(tenant_a, "act1", a1);
  model_db_id(tenant_a, "nosuch", none);
  const char *const from_new[] = {ACTOR_SUBMITTED, NULL};
  json_t *out = NULL, *x1 = new_actor(tenant_a, "act1");
  ASSERT_EQ_INT(model_actor_put(redis, a1, x1), 0);
  json_decref(x1);

  ASSERT_EQ_INT(model_actor_transition(redis, a1, from_new, ACTOR_READY, NULL), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a1, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), ACTOR_READY);
  ASSERT_TRUE(is_time(json_object_get(out, "last_update_time")));
  ASSERT_TRUE(json_object_get(out, "status_message") == NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "image")), "me/img:1"); /* kept */
  json_decref(out);
  /* no longer SUBMITTED */
  ASSERT_EQ_INT(model_actor_transition(redis, a1, from_new, ACTOR_READY, NULL), ACTOR_ESTATE);
  ASSERT_EQ_INT(model_actor_transition(redis, none, from_new, ACTOR_READY, NULL), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(model_actor_get(redis, none, &out), ACTOR_ENOTFOUND); /* not created */

  /* set_status: from anything, with a message */
  ASSERT_EQ_INT(model_actor_set_status(redis, a1, ACTOR_ERROR, "image not found"), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a1, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), ACTOR_ERROR);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status_message")), "image not found");
  json_decref(out);
  ASSERT_EQ_INT(model_actor_set_status(redis, none, ACTOR_ERROR, NULL), ACTOR_ENOTFOUND);
  const char *const from_err[] = {ACTOR_READY, ACTOR_ERROR, NULL};
  ASSERT_EQ_INT(model_actor_transition(redis, a1, from_err, ACTOR_SHUTTING_DOWN, "bye"), 0);
  ASSERT_EQ_INT(model_actor_get(redis, a1, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), ACTOR_SHUTTING_DOWN);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status_message")), "bye");
  json_decref(out);
  ASSERT_EQ_INT(model_actor_delete(redis, a1), 0);
}

/* ---- workers ---- */

static void test_worker_new(void) {
  json_t *w = model_worker_new("T_a", "wid1", "worker_wid1", "me/img:3", "T", 4);
  ASSERT_TRUE(w != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "id")), "wid1");
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "actor_id")), "T_a");
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "status")), WORKER_REQUESTED);
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "image")), "me/img:3");
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "tenant")), "T");
  ASSERT_EQ_STR(json_string_value(json_object_get(w, "ch_name")), "worker_wid1");
  ASSERT_TRUE(is_time(json_object_get(w, "create_time")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(w, "revision")), 4);
  static const char *const later[] = {"location",
                                      "cid",
                                      "host_id",
                                      "host_ip",
                                      "pid",
                                      "last_execution_time",
                                      "last_health_check_time",
                                      "status_message"};
  for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
    ASSERT_TRUE(json_is_null(json_object_get(w, later[i])));
  ASSERT_EQ_INT(json_object_size(w), 16);
  json_decref(w);
}

static void test_worker_crud(void) {
  char a[MODEL_KEY_MAX], set[MODEL_KEY_MAX], k2[MODEL_KEY_MAX];
  model_db_id(tenant_a, "wact", a);
  model_key_workers(a, set);
  json_t *w1 = model_worker_new(a, "w1", "worker_w1", "img", tenant_a, 1);
  json_t *w2 = model_worker_new(a, "w2", "worker_w2", "img", tenant_a, 1);
  json_t *out = NULL, *list = NULL;
  long long n = -1;

  ASSERT_EQ_INT(model_worker_count(redis, a, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(model_worker_list(redis, a, &list), 0);
  ASSERT_TRUE(json_is_array(list) && json_array_size(list) == 0);
  json_decref(list);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), ACTOR_ENOTFOUND);

  ASSERT_EQ_INT(model_worker_put(redis, a, "w1", w1), 0);
  ASSERT_EQ_INT(model_worker_put(redis, a, "w2", w2), 0);
  ASSERT_EQ_INT(model_worker_put(redis, a, "w2", w2), 0); /* again: still two */
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, w1));
  json_decref(out);
  ASSERT_EQ_INT(model_worker_count(redis, a, &n), 0);
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(model_worker_list(redis, a, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 2);
  int seen1 = 0, seen2 = 0;
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *w = json_array_get(list, i);
    seen1 += json_equal(w, w1);
    seen2 += json_equal(w, w2);
  }
  ASSERT_EQ_INT(seen1, 1);
  ASSERT_EQ_INT(seen2, 1);
  json_decref(list);

  /* update: given fields only, existing workers only */
  json_t *f = test_json("{\"host_id\": \"h1\", \"pid\": 1234}");
  ASSERT_EQ_INT(model_worker_update(redis, a, "w1", f), 0);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "host_id")), "h1");
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "pid")), 1234);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), WORKER_REQUESTED);
  json_decref(out);
  ASSERT_EQ_INT(model_worker_update(redis, a, "nosuch", f), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(model_worker_get(redis, a, "nosuch", &out), ACTOR_ENOTFOUND);
  json_decref(f);

  /* transitions: guarded, fields set along, the caller's fields untouched */
  const char *const from_req[] = {WORKER_REQUESTED, NULL};
  const char *const from_setup[] = {WORKER_SPAWNER_SETUP, WORKER_UPDATING_STORE, NULL};
  f = test_json("{\"cid\": \"c0ffee\", \"location\": \"unix:///var/run/docker.sock\"}");
  ASSERT_EQ_INT(model_worker_transition(redis, a, "w1", from_req, WORKER_SPAWNER_SETUP, f), 0);
  ASSERT_TRUE(json_object_get(f, "status") == NULL);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), WORKER_SPAWNER_SETUP);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "cid")), "c0ffee");
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "host_id")), "h1");
  json_decref(out);
  ASSERT_EQ_INT(model_worker_transition(redis, a, "w1", from_req, WORKER_SPAWNER_SETUP, f),
                ACTOR_ESTATE);
  ASSERT_EQ_INT(model_worker_transition(redis, a, "w1", from_setup, WORKER_READY, NULL), 0);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), WORKER_READY);
  json_decref(out);
  ASSERT_EQ_INT(model_worker_transition(redis, a, "nosuch", NULL, WORKER_ERROR, NULL),
                ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(model_worker_transition(redis, a, "w2", NULL, WORKER_ERROR, f), 0);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w2", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), WORKER_ERROR);
  json_decref(out);
  json_decref(f);

  /* a record that vanished while still indexed is not listed */
  model_key_worker(a, "w2", k2);
  freeReplyObject(store_redis_cmd(redis, "DEL %s", k2));
  ASSERT_EQ_INT(model_worker_list(redis, a, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "id")), "w1");
  json_decref(list);

  /* delete: record and index entry */
  ASSERT_EQ_INT(model_worker_delete(redis, a, "w2"), 0);
  ASSERT_EQ_INT(model_worker_count(redis, a, &n), 0);
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_INT(model_worker_delete(redis, a, "w1"), 0);
  ASSERT_EQ_INT(model_worker_get(redis, a, "w1", &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(sismember(set, "w1"), 0);
  ASSERT_EQ_INT(model_worker_count(redis, a, &n), 0);
  ASSERT_EQ_INT(n, 0);
  json_decref(w1);
  json_decref(w2);
}

/* ---- executions ---- */

static json_t *new_exec(const char *eid, const char *db_id, const char *received) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, "
                   "s:n, s:n}",
                   "_id", eid, "id", eid, "actor_id", "x", "actor_dbid", db_id, "tenant", tenant_a,
                   "worker_id", "executor", "jdoe", "status", EXEC_SUBMITTED,
                   "message_received_time", received, "start_time", "finish_time", "runtime", "cpu",
                   "io", "exit_code", "final_state");
}

static void test_exec(void) {
  char a[MODEL_KEY_MAX], b[MODEL_KEY_MAX];
  model_db_id(tenant_a, "eact", a);
  model_db_id(tenant_b, "eact", b);
  /* inserted out of order; listed oldest first */
  json_t *e2 = new_exec("ex2", a, "2026-11-22T10:00:02.000Z");
  json_t *e1 = new_exec("ex1", a, "2026-11-22T10:00:01.000Z");
  json_t *e3 = new_exec("ex3", a, "2026-11-22T10:00:10.500Z");
  json_t *eb = new_exec("exb", b, "2026-11-22T09:00:00.000Z");
  json_t *out = NULL, *list = NULL;

  ASSERT_EQ_INT(model_ensure_indexes(mongo), 0);
  ASSERT_EQ_INT(model_ensure_indexes(mongo), 0); /* idempotent */
  ASSERT_EQ_INT(model_exec_insert(mongo, e2), 0);
  ASSERT_EQ_INT(model_exec_insert(mongo, e1), 0);
  ASSERT_EQ_INT(model_exec_insert(mongo, e3), 0);
  ASSERT_EQ_INT(model_exec_insert(mongo, eb), 0);
  ASSERT_EQ_INT(model_exec_insert(mongo, e1), ACTOR_EEXIST);

  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex1", &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, e1));
  json_decref(out);
  out = NULL;
  ASSERT_EQ_INT(model_exec_get(mongo, b, "ex1", &out), ACTOR_ENOTFOUND); /* wrong actor */
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "nosuch", &out), ACTOR_ENOTFOUND);

  ASSERT_EQ_INT(model_exec_list(mongo, a, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 3);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "id")), "ex1");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 1), "id")), "ex2");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 2), "id")), "ex3");
  json_decref(list);
  ASSERT_EQ_INT(model_exec_list(mongo, b, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 1);
  json_decref(list);

  /* guarded: SUBMITTED -> RUNNING once; then RUNNING -> COMPLETE */
  const char *const runnable[] = {EXEC_SUBMITTED, NULL};
  const char *const running[] = {EXEC_RUNNING, NULL};
  json_t *f = json_pack("{s:s, s:s, s:s}", "status", EXEC_RUNNING, "start_time",
                        "2026-11-22T10:00:03.000Z", "worker_id", "w1");
  ASSERT_EQ_INT(model_exec_transition(mongo, "ex1", runnable, f), 0);
  ASSERT_EQ_INT(model_exec_transition(mongo, "ex1", runnable, f), ACTOR_ESTATE);
  ASSERT_EQ_INT(model_exec_transition(mongo, "nosuch", runnable, f), ACTOR_ESTATE);
  json_decref(f);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex1", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), EXEC_RUNNING);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "worker_id")), "w1");
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "executor")), "jdoe"); /* kept */
  json_decref(out);
  f = test_json("{\"status\": \"COMPLETE\", \"exit_code\": 0, \"runtime\": 1.25,"
                " \"final_state\": {\"ExitCode\": 0, \"Status\": \"exited\"}}");
  ASSERT_EQ_INT(model_exec_transition(mongo, "ex1", running, f), 0);
  ASSERT_EQ_INT(model_exec_transition(mongo, "ex2", running, f), ACTOR_ESTATE);
  json_decref(f);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex1", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), EXEC_COMPLETE);
  ASSERT_TRUE(json_is_integer(json_object_get(out, "exit_code")) &&
              json_integer_value(json_object_get(out, "exit_code")) == 0);
  ASSERT_TRUE(json_is_real(json_object_get(out, "runtime")) &&
              json_real_value(json_object_get(out, "runtime")) == 1.25);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(out, "final_state"), "Status")),
                "exited");
  json_decref(out);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex2", &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), EXEC_SUBMITTED);
  json_decref(out);

  /* update: any status */
  f = test_json("{\"cpu\": 12345, \"io\": 678, \"status\": \"ERROR\"}");
  ASSERT_EQ_INT(model_exec_update(mongo, "ex2", f), 0);
  ASSERT_EQ_INT(model_exec_update(mongo, "nosuch", f), ACTOR_ENOTFOUND);
  json_decref(f);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex2", &out), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "cpu")), 12345);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "io")), 678);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), EXEC_ERROR);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "message_received_time")),
                "2026-11-22T10:00:02.000Z");
  json_decref(out);
  f = test_json("{\"status\": \"COMPLETE\"}");
  const char *const none[] = {NULL};
  ASSERT_EQ_INT(model_exec_transition(mongo, "ex3", none, f), ACTOR_ESTATE); /* empty set */
  json_decref(f);

  /* delete by actor: the other actor's executions stay */
  ASSERT_EQ_INT(model_exec_delete_actor(mongo, a), 0);
  ASSERT_EQ_INT(model_exec_list(mongo, a, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 0);
  json_decref(list);
  ASSERT_EQ_INT(model_exec_get(mongo, a, "ex1", &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(model_exec_get(mongo, b, "exb", &out), 0);
  json_decref(out);
  ASSERT_EQ_INT(model_exec_delete_actor(mongo, b), 0);
  json_decref(e1);
  json_decref(e2);
  json_decref(e3);
  json_decref(eb);
}

/* ---- logs ---- */

static void test_logs(void) {
  char a[MODEL_KEY_MAX], b[MODEL_KEY_MAX];
  model_db_id(tenant_a, "lact", a);
  model_db_id(tenant_b, "lact", b);
  char *text = NULL;
  int64_t exp = 1795000000000LL;

  ASSERT_EQ_INT(model_logs_get(mongo, a, "le1", &text), 0);
  ASSERT_EQ_STR(text, "");
  free(text);

  const char *logs = "line 1\nline 2 \xc3\xa9\n";
  ASSERT_EQ_INT(model_logs_set(mongo, a, tenant_a, "le1", logs, strlen(logs), exp), 0);
  ASSERT_EQ_INT(model_logs_get(mongo, a, "le1", &text), 0);
  ASSERT_EQ_STR(text, logs);
  free(text);
  /* the wrong actor sees nothing */
  ASSERT_EQ_INT(model_logs_get(mongo, b, "le1", &text), 0);
  ASSERT_EQ_STR(text, "");
  free(text);

  /* set again: replaced (len counts, not the NUL) */
  ASSERT_EQ_INT(model_logs_set(mongo, a, tenant_a, "le1", "abcdef", 3, exp + 1000), 0);
  ASSERT_EQ_INT(model_logs_get(mongo, a, "le1", &text), 0);
  ASSERT_EQ_STR(text, "abc");
  free(text);

  /* the stored document: tenant, actor and exp as a date */
  json_t *filter = json_pack("{s:s}", "_id", "le1"), *doc = NULL;
  long long count = -1;
  ASSERT_EQ_INT(store_mongo_find_one(mongo, MODEL_COLL_LOGS, filter, NULL, &doc), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(doc, "actor_dbid")), a);
  ASSERT_EQ_STR(json_string_value(json_object_get(doc, "tenant")), tenant_a);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(doc, "exp"), "$date")),
                exp + 1000);
  json_decref(doc);
  json_decref(filter);
  ASSERT_EQ_INT(store_mongo_count(mongo, MODEL_COLL_LOGS, NULL, &count), 0);
  ASSERT_EQ_INT(count, 1); /* an upsert, not a second document */

  ASSERT_EQ_INT(model_logs_set(mongo, b, tenant_b, "le2", "b logs", 6, exp), 0);
  ASSERT_EQ_INT(model_logs_set(mongo, a, tenant_a, "le3", "", 0, exp), 0);
  ASSERT_EQ_INT(model_logs_get(mongo, a, "le3", &text), 0);
  ASSERT_EQ_STR(text, "");
  free(text);

  /* delete by actor: the other actor's logs stay */
  ASSERT_EQ_INT(model_logs_delete_actor(mongo, a), 0);
  ASSERT_EQ_INT(model_logs_get(mongo, a, "le1", &text), 0);
  ASSERT_EQ_STR(text, "");
  free(text);
  ASSERT_EQ_INT(model_logs_get(mongo, b, "le2", &text), 0);
  ASSERT_EQ_STR(text, "b logs");
  free(text);
  ASSERT_EQ_INT(store_mongo_count(mongo, MODEL_COLL_LOGS, NULL, &count), 0);
  ASSERT_EQ_INT(count, 1);
  ASSERT_EQ_INT(model_logs_delete_actor(mongo, b), 0);
}

/* Removes every Redis key and index entry of this run's tenants; returns
 * how many keys were still there. */
/* ---- indexes kept on writes ---- */

static long long hcount(const char *key, const char *field) {
  redisReply *rep = store_redis_cmd(redis, "HGET %s %s", key, field);
  long long n = rep && rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
  freeReplyObject(rep);
  return n;
}

/* HGET as text in out ("" when absent, "?" on another reply). */
static const char *hget(const char *key, const char *field, char out[MODEL_KEY_MAX]) {
  redisReply *rep = store_redis_cmd(redis, "HGET %s %s", key, field);
  snprintf(out, MODEL_KEY_MAX, "%s",
           rep && rep->type == REDIS_REPLY_STRING ? rep->str
           : rep && rep->type == REDIS_REPLY_NIL  ? ""
                                                  : "?");
  freeReplyObject(rep);
  return out;
}

static void test_indexes(void) {
  char a1[MODEL_KEY_MAX], m[MODEL_KEY_MAX], wkey[MODEL_KEY_MAX], hostset[MODEL_KEY_MAX],
      host[64], v[MODEL_KEY_MAX], db[MODEL_KEY_MAX], wid[MODEL_KEY_MAX];
  model_db_id(tenant_b, "idx1", a1);
  model_worker_member(a1, "wi1", m);
  model_key_worker(a1, "wi1", wkey);
  ASSERT_EQ_INT(model_worker_member_split(m, db, wid), 0);
  ASSERT_EQ_STR(db, a1);
  ASSERT_EQ_STR(wid, "wi1");
  ASSERT_EQ_INT(model_worker_member_split("nocolon", db, wid), ACTOR_EINVAL);
  snprintf(host, sizeof(host), "uthost%ld", (long)getpid());
  snprintf(hostset, sizeof(hostset), "%s%s", MODEL_KEY_IDX_HOST_PREFIX, host);
  long long ready0 = hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_READY),
            err0 = hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_ERROR),
            wreq0 = hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_REQUESTED),
            wset0 = hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_SPAWNER_SETUP);

  /* an actor: counted by status, moved on a status change */
  json_t *x = json_pack("{s:s, s:s}", "id", "idx1", "status", ACTOR_READY);
  ASSERT_EQ_INT(model_actor_put(redis, a1, x), 0);
  json_decref(x);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_ACTOR_STATUS, a1, v), ACTOR_READY);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_READY), ready0 + 1);
  ASSERT_EQ_INT(model_actor_set_status(redis, a1, ACTOR_ERROR, "boom"), 0);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_ACTOR_STATUS, a1, v), ACTOR_ERROR);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_READY), ready0);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_ERROR), err0 + 1);
  /* a second index pass changes nothing */
  ASSERT_EQ_INT(model_index_actor(redis, a1), 0);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_ERROR), err0 + 1);

  /* a worker: unplaced while REQUESTED, on its host's set once placed */
  json_t *w = model_worker_new(a1, "wi1", "worker_wi1", "img", tenant_b, 1);
  ASSERT_EQ_INT(model_worker_put(redis, a1, "wi1", w), 0);
  json_decref(w);
  ASSERT_EQ_INT(sismember(MODEL_KEY_IDX_UNPLACED, m), 1);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_WORKER_HOST, m, v), "");
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_REQUESTED), wreq0 + 1);
  json_t *list = NULL;
  ASSERT_EQ_INT(model_workers_of_host(redis, host, &list), 0);
  ASSERT_TRUE(array_has_str(list, m));
  json_decref(list);
  const char *const from[] = {WORKER_REQUESTED, NULL};
  json_t *f = json_pack("{s:s}", "host_id", host);
  ASSERT_EQ_INT(model_worker_transition(redis, a1, "wi1", from, WORKER_SPAWNER_SETUP, f), 0);
  json_decref(f);
  ASSERT_EQ_INT(sismember(MODEL_KEY_IDX_UNPLACED, m), 0);
  ASSERT_EQ_INT(sismember(hostset, m), 1);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_WORKER_HOST, m, v), host);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_REQUESTED), wreq0);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_SPAWNER_SETUP), wset0 + 1);
  json_t *known = NULL;
  ASSERT_EQ_INT(model_worker_ids_known(redis, &known), 0);
  ASSERT_TRUE(json_object_get(known, "wi1") != NULL);
  json_decref(known);
  /* a failed guarded transition leaves the index as the record */
  ASSERT_EQ_INT(model_worker_transition(redis, a1, "wi1", from, WORKER_READY, NULL),
                ACTOR_ESTATE);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_SPAWNER_SETUP), wset0 + 1);

  /* lost entries come back with a rebuild; an entry whose record went
   * behind the index's back goes */
  freeReplyObject(store_redis_cmd(redis, "HDEL %s %s", MODEL_KEY_IDX_ACTOR_STATUS, a1));
  freeReplyObject(store_redis_cmd(redis, "HINCRBY %s %s -1", MODEL_KEY_IDX_ACTOR_COUNTS,
                                  ACTOR_ERROR));
  long long n = 0;
  ASSERT_EQ_INT(model_index_rebuild(redis, true, &n), 0);
  ASSERT_TRUE(n >= 2);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_ACTOR_STATUS, a1, v), ACTOR_ERROR);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_ERROR), err0 + 1);
  bool built = false;
  ASSERT_EQ_INT(store_key_exists(redis, MODEL_KEY_IDX_BUILT, &built), 0);
  ASSERT_TRUE(built);
  freeReplyObject(store_redis_cmd(redis, "DEL %s", wkey));
  ASSERT_EQ_INT(model_index_rebuild(redis, false, &n), 0); /* built: nothing done */
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(sismember(hostset, m), 1);
  ASSERT_EQ_INT(model_index_rebuild(redis, true, &n), 0);
  ASSERT_EQ_INT(sismember(hostset, m), 0);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_WORKER_HOST, m, v), "");
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_WORKER_STATUS, m, v), "");
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_SPAWNER_SETUP), wset0);

  /* deletes take the entries with them */
  w = model_worker_new(a1, "wi2", "worker_wi2", "img", tenant_b, 1);
  ASSERT_EQ_INT(model_worker_put(redis, a1, "wi2", w), 0);
  json_decref(w);
  model_worker_member(a1, "wi2", m);
  ASSERT_EQ_INT(sismember(MODEL_KEY_IDX_UNPLACED, m), 1);
  ASSERT_EQ_INT(model_worker_delete(redis, a1, "wi2"), 0);
  ASSERT_EQ_INT(sismember(MODEL_KEY_IDX_UNPLACED, m), 0);
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_WORKER_COUNTS, WORKER_REQUESTED), wreq0);
  ASSERT_EQ_INT(model_actor_delete(redis, a1), 0);
  ASSERT_EQ_STR(hget(MODEL_KEY_IDX_ACTOR_STATUS, a1, v), "");
  ASSERT_EQ_INT(hcount(MODEL_KEY_IDX_ACTOR_COUNTS, ACTOR_ERROR), err0);
  freeReplyObject(store_redis_cmd(redis, "SREM %s %s", MODEL_KEY_AUTOSCALE, a1));
}

/* Index entries of the run's tenants whose records are gone (a test
 * deleted a record behind the model's back): removed, counted in n. */
static long long cleanup_index(const char *tenant) {
  static const char *const HASHES[] = {MODEL_KEY_IDX_ACTOR_STATUS, MODEL_KEY_IDX_WORKER_STATUS,
                                       MODEL_KEY_IDX_WORKER_HOST, NULL};
  long long n = 0;
  for (int h = 0; HASHES[h]; h++) {
    redisReply *rep = store_redis_cmd(redis, "HKEYS %s", HASHES[h]);
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
      const char *f = rep->element[i]->str;
      char db[MODEL_KEY_MAX], wid[MODEL_KEY_MAX];
      if (strncmp(f, tenant, strlen(tenant)) != 0 || f[strlen(tenant)] != '_')
        continue;
      if (h == 0)
        ACTOR_IGNORE(model_index_actor(redis, f));
      else if (model_worker_member_split(f, db, wid) == 0)
        ACTOR_IGNORE(model_index_worker(redis, db, wid));
      n++;
    }
    freeReplyObject(rep);
  }
  return n;
}

static long long cleanup_redis(void) {
  const char *tenants[] = {tenant_a, tenant_b, tenant_ab, tenant_us};
  long long n = 0;
  for (size_t t = 0; t < 4; t++) {
    char pattern[128];
    snprintf(pattern, sizeof(pattern), "abaco:*:%s_*", tenants[t]);
    redisReply *rep = store_redis_cmd(redis, "KEYS %s", pattern);
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
      freeReplyObject(store_redis_cmd(redis, "DEL %s", rep->element[i]->str));
      n++;
    }
    freeReplyObject(rep);
    json_t *ids = NULL;
    if (model_actor_list_ids(redis, tenants[t], &ids) == 0) {
      for (size_t i = 0; i < json_array_size(ids); i++) {
        freeReplyObject(store_redis_cmd(redis, "SREM %s %s", MODEL_KEY_ACTORS,
                                        json_string_value(json_array_get(ids, i))));
        n++;
      }
    }
    json_decref(ids);
    n += cleanup_index(tenants[t]);
  }
  return n;
}

static int open_stores(void) {
  const char *rurl = test_server_env("REDIS_URL"), *murl = test_server_env("MONGO_URL");
  char ini[1024], db[96];
  char *host = NULL, *user = NULL, *pass = NULL;
  int port = 0, dbn = 0, rc = 0;
  actor_config_t *cfg = NULL;
  if (store__redis_parse_url(rurl, &host, &port, &user, &pass, &dbn) != 0) {
    fprintf(stderr, "FAIL: bad REDIS_URL %s\n", rurl);
    return -1;
  }
  snprintf(db, sizeof(db), "abaco_test_model_%ld_%ld", (long)getpid(), (long)time(NULL));
  snprintf(ini, sizeof(ini),
           "[store]\nredis_host=%s\nredis_port=%d\nredis_db=%d\n%s%s%smongo_url=%s\n"
           "mongo_db=%s\n",
           host, port, dbn, pass ? "redis_password=" : "", pass ? pass : "", pass ? "\n" : "", murl,
           db);
  free(host);
  free(user);
  free(pass);
  if (actor_config_parse(ini, &cfg) != 0 || store_redis_new(cfg, 4, &redis) != 0 ||
      store_mongo_new(cfg, &mongo) != 0) {
    fprintf(stderr, "FAIL: cannot make the stores from %s and %s\n", rurl, murl);
    rc = -1;
  }
  actor_config_free(cfg);
  if (rc != 0)
    return rc;
  redisReply *rep = store_redis_cmd(redis, "PING");
  if (rep == NULL) {
    fprintf(stderr, "FAIL: no Redis at %s (set REDIS_URL)\n", rurl);
    return -1;
  }
  freeReplyObject(rep);
  if (store_mongo_ping(mongo) != 0) {
    fprintf(stderr, "FAIL: no MongoDB-wire server at %s (set MONGO_URL)\n", murl);
    return -1;
  }
  ASSERT_EQ_STR(store_mongo_db(mongo), db);
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  long pid = (long)getpid(), now = (long)time(NULL);
  snprintf(tenant_a, sizeof(tenant_a), "UT%ldX%ld", pid, now);
  snprintf(tenant_b, sizeof(tenant_b), "UT%ldY%ld", pid, now);
  snprintf(tenant_ab, sizeof(tenant_ab), "%sZ", tenant_a); /* tenant_a is a prefix of it */
  snprintf(tenant_us, sizeof(tenant_us), "%s_STAGING", tenant_a); /* and of this, with '_' */
  if (open_stores() != 0) {
    store_redis_free(redis);
    store_mongo_free(mongo);
    store_mongo_cleanup();
    return 1;
  }

  RUN_TEST(test_keys);
  RUN_TEST(test_actor_crud);
  RUN_TEST(test_actor_transition);
  RUN_TEST(test_worker_new);
  RUN_TEST(test_worker_crud);
  RUN_TEST(test_exec);
  RUN_TEST(test_logs);
  RUN_TEST(test_indexes);

  cleanup_redis();
  ASSERT_EQ_INT(cleanup_redis(), 0); /* the tests left nothing behind */
  ASSERT_EQ_INT(store_mongo_drop_database(mongo), 0);
  store_redis_free(redis);
  store_mongo_free(mongo);
  store_mongo_cleanup();
  TEST_EXIT();
}
