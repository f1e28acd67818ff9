/* The Mongo store against a live MongoDB-wire server (MONGO_URL; FerretDB
 * v1 here): CRUD, sort/limit, upsert,
 * counts, findAndModify, aggregate, exact round trips of int64, doubles and
 * nested values, and a fast failure for a server that is not there. Uses a
 * database unique to the run and drops it at the end. Skipped when
 * MONGO_URL is unset; fails when the server is unreachable. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "test.h"

static store_mongo_t *store;
static const char *coll = "things";

static store_mongo_t *new_store(const char *url, const char *db) {
  actor_config_t *cfg = NULL;
  store_mongo_t *m = NULL;
  char ini[1024];
  snprintf(ini, sizeof(ini), "[store]\nmongo_url = %s\nmongo_db = %s\n", url, db);
  ASSERT_EQ_INT(actor_config_parse(ini, &cfg), 0);
  ASSERT_EQ_INT(store_mongo_new(cfg, &m), 0);
  actor_config_free(cfg);
  return m;
}

static json_t *J(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, 0, &err);
  if (!v)
    fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
  return v;
}

static void insert_json(const char *c, const char *text) {
  json_t *d = J(text);
  ASSERT_EQ_INT(store_mongo_insert(store, c, d), 0);
  json_decref(d);
}

/* The documents the query tests start from. */
static void seed(void) {
  insert_json(coll, "{\"_id\":\"a\",\"n\":1,\"tag\":\"x\",\"secret\":\"s\"}");
  insert_json(coll, "{\"_id\":\"b\",\"n\":2,\"tag\":\"y\"}");
  insert_json(coll, "{\"_id\":\"c\",\"n\":3,\"tag\":\"x\"}");
}

static void test_insert_find_one(void) {
  json_t *f, *out = NULL, *p;
  seed();
  /* same _id again */
  json_t *dup = J("{\"_id\":\"a\"}");
  ASSERT_EQ_INT(store_mongo_insert(store, coll, dup), ACTOR_EEXIST);
  json_decref(dup);

  f = J("{\"_id\":\"a\"}");
  p = J("{\"secret\":0}");
  ASSERT_EQ_INT(store_mongo_find_one(store, coll, f, p, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "tag")), "x");
  ASSERT_TRUE(json_object_get(out, "secret") == NULL);
  ASSERT_TRUE(json_is_integer(json_object_get(out, "n")));
  json_decref(out);
  json_decref(f);
  json_decref(p);

  f = J("{\"_id\":\"nope\"}");
  ASSERT_EQ_INT(store_mongo_find_one(store, coll, f, NULL, &out), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL);
  json_decref(f);
}

static void test_find_sort_limit(void) {
  seed();
  json_t *f = J("{}"), *opts = J("{\"sort\":{\"n\":-1},\"limit\":2}"), *out = NULL;
  ASSERT_EQ_INT(store_mongo_find(store, coll, f, opts, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "_id")), "c");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 1), "_id")), "b");
  json_decref(out);
  json_decref(opts);

  opts = J("{\"sort\":{\"n\":1},\"skip\":1,\"projection\":{\"_id\":1}}");
  json_decref(f);
  f = J("{\"tag\":\"x\"}");
  ASSERT_EQ_INT(store_mongo_find(store, coll, f, opts, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "_id")), "c");
  ASSERT_TRUE(json_object_get(json_array_get(out, 0), "n") == NULL);
  json_decref(out);
  json_decref(opts);
  json_decref(f);

  /* NULL filter and opts: everything */
  ASSERT_EQ_INT(store_mongo_find(store, coll, NULL, NULL, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 3);
  json_decref(out);
  /* $regex and $in filters (what search is built from on FerretDB) */
  f = J("{\"tag\":{\"$regex\":\"^X\",\"$options\":\"i\"},\"n\":{\"$in\":[1,2,3]}}");
  ASSERT_EQ_INT(store_mongo_find(store, coll, f, NULL, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  json_decref(out);
  json_decref(f);
}

static void test_update_upsert(void) {
  seed();
  long long matched = -1;
  json_t *f = J("{\"_id\":\"b\"}"), *u = J("{\"$set\":{\"tag\":\"z\"},\"$inc\":{\"n\":10},"
                                           "\"$push\":{\"hist\":\"one\"}}"),
         *out = NULL;
  ASSERT_EQ_INT(store_mongo_update(store, coll, f, u, 0, &matched), 0);
  ASSERT_EQ_INT(matched, 1);
  ASSERT_EQ_INT(store_mongo_find_one(store, coll, f, NULL, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "tag")), "z");
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "n")), 12);
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(out, "hist"), 0)), "one");
  json_decref(out);
  json_decref(f);
  json_decref(u);

  /* no match, no upsert */
  f = J("{\"_id\":\"new\"}");
  u = J("{\"$set\":{\"tag\":\"w\",\"n\":7}}");
  ASSERT_EQ_INT(store_mongo_update(store, coll, f, u, 0, &matched), 0);
  ASSERT_EQ_INT(matched, 0);
  ASSERT_EQ_INT(store_mongo_find_one(store, coll, f, NULL, &out), ACTOR_ENOTFOUND);
  /* upsert inserts */
  ASSERT_EQ_INT(store_mongo_update(store, coll, f, u, 1, &matched), 0);
  ASSERT_EQ_INT(matched, 0);
  ASSERT_EQ_INT(store_mongo_find_one(store, coll, f, NULL, &out), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "n")), 7);
  json_decref(out);
  /* and updates the second time */
  ASSERT_EQ_INT(store_mongo_update(store, coll, f, u, 1, &matched), 0);
  ASSERT_EQ_INT(matched, 1);
  json_decref(u);
  /* an update without operators is refused */
  u = J("{\"tag\":\"q\"}");
  ASSERT_EQ_INT(store_mongo_update(store, coll, f, u, 0, NULL), ACTOR_EINVAL);
  json_decref(u);
  json_decref(f);
}

static void test_count_delete(void) {
  long long n = -1, deleted = -1;
  seed();
  insert_json(coll, "{\"_id\":\"d\",\"n\":4,\"tag\":\"w\"}");
  json_t *f = J("{\"tag\":\"x\"}");
  ASSERT_EQ_INT(store_mongo_count(store, coll, NULL, &n), 0);
  ASSERT_EQ_INT(n, 4);
  ASSERT_EQ_INT(store_mongo_count(store, coll, f, &n), 0);
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(store_mongo_delete(store, coll, f, &deleted), 0);
  ASSERT_EQ_INT(deleted, 2);
  ASSERT_EQ_INT(store_mongo_count(store, coll, f, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(store_mongo_count(store, coll, NULL, &n), 0);
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(store_mongo_delete(store, coll, NULL, &deleted), ACTOR_EINVAL);
  ASSERT_EQ_INT(store_mongo_count(store, "empty_coll", NULL, &n), 0);
  ASSERT_EQ_INT(n, 0);
  json_decref(f);
}

static void test_roundtrip_exact(void) {
  json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b, s:n, s:s, s:o}",
                          "_id", "exact", "i64max", (json_int_t)INT64_MAX, "i64min",
                          (json_int_t)INT64_MIN, "big", (json_int_t)9007199254740993LL, "small",
                          (json_int_t)-3, "tenth", 0.1, "one", 1.0, "third", 1.0 / 3.0, "neg",
                          -2.5e-300, "flag", 1, "none", "utf",
                          "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "nested",
                          J("{\"a\":{\"b\":[1,2.0,{\"c\":[\"d\",false,null]}],\"e\":{}},"
                            "\"f\":[]}"));
  json_t *f = J("{\"_id\":\"exact\"}"), *out = NULL;
  ASSERT_EQ_INT(store_mongo_insert(store, "exact", doc), 0);
  ASSERT_EQ_INT(store_mongo_find_one(store, "exact", f, NULL, &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(doc, out));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "i64max")), INT64_MAX);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "i64min")), INT64_MIN);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "big")), 9007199254740993LL);
  ASSERT_TRUE(json_is_real(json_object_get(out, "one")));
  ASSERT_TRUE(json_real_value(json_object_get(out, "third")) == 1.0 / 3.0);
  json_t *arr = json_object_get(json_object_get(json_object_get(out, "nested"), "a"), "b");
  ASSERT_TRUE(json_is_real(json_array_get(arr, 1))); /* 2.0 stays a real */
  if (out && !json_equal(doc, out)) {
    char *a = json_dumps(doc, JSON_COMPACT), *b = json_dumps(out, JSON_COMPACT);
    fprintf(stderr, "  in:  %s\n  out: %s\n", a, b);
    free(a);
    free(b);
  }
  json_decref(out);
  json_decref(f);
  json_decref(doc);
  /* FerretDB v1 cannot store arrays of arrays (BadValue); MongoDB can */
  doc = J("{\"m\":[[1]]}");
  int rc = store_mongo_insert(store, "exact", doc);
  ASSERT_TRUE(rc == 0 || rc == ACTOR_EINVAL);
  json_decref(doc);
}

static void test_oid_and_date(void) {
  json_t *doc = J("{\"when\":{\"$date\":1700000000123},\"k\":\"auto-id\"}"), *out = NULL, *f;
  ASSERT_EQ_INT(store_mongo_insert(store, "dated", doc), 0);
  f = J("{\"k\":\"auto-id\"}");
  ASSERT_EQ_INT(store_mongo_find_one(store, "dated", f, NULL, &out), 0);
  json_decref(f);
  ASSERT_TRUE(json_is_string(json_object_get(json_object_get(out, "_id"), "$oid")));
  ASSERT_TRUE(json_equal(json_object_get(doc, "when"), json_object_get(out, "when")));
  /* the _id that came out finds the document again */
  f = json_pack("{s:O}", "_id", json_object_get(out, "_id"));
  json_decref(out);
  out = NULL;
  ASSERT_EQ_INT(store_mongo_find_one(store, "dated", f, NULL, &out), 0);
  json_decref(out);
  json_decref(f);
  /* dates compare as dates: the log expiry filter */
  long long n = -1;
  f = J("{\"when\":{\"$lt\":{\"$date\":1800000000000}}}");
  ASSERT_EQ_INT(store_mongo_count(store, "dated", f, &n), 0);
  ASSERT_EQ_INT(n, 1);
  json_decref(f);
  json_decref(doc);
}

static void test_find_and_modify(void) {
  json_t *f = J("{\"_id\":\"ctr\"}"), *u = J("{\"$inc\":{\"v\":1}}"), *out = NULL;
  ASSERT_EQ_INT(store_mongo_find_and_modify(store, "fam", f, u, 0, 1, &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(store_mongo_find_and_modify(store, "fam", f, u, 1, 1, &out), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "v")), 1);
  json_decref(out);
  ASSERT_EQ_INT(store_mongo_find_and_modify(store, "fam", f, u, 0, 0, &out), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "v")), 1); /* before */
  json_decref(out);
  ASSERT_EQ_INT(store_mongo_find_and_modify(store, "fam", f, u, 0, 1, NULL), 0);
  ASSERT_EQ_INT(store_mongo_find_one(store, "fam", f, NULL, &out), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "v")), 3);
  json_decref(out);
  json_decref(f);
  json_decref(u);
}

static void test_aggregate(void) {
  insert_json("agg", "{\"a\":\"x\",\"cpu\":5}");
  insert_json("agg", "{\"a\":\"x\",\"cpu\":7}");
  insert_json("agg", "{\"a\":\"y\",\"cpu\":1}");
  /* one accumulator per $group: FerretDB v1.24 computes only the first
   * and answers 0 for the others */
  json_t *pipe = J("[{\"$match\":{\"a\":\"x\"}},"
                   "{\"$group\":{\"_id\":\"$a\",\"total\":{\"$sum\":\"$cpu\"}}}]"),
         *out = NULL;
  ASSERT_EQ_INT(store_mongo_aggregate(store, "agg", pipe, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "_id")), "x");
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(out, 0), "total")), 12);
  json_decref(out);
  json_decref(pipe);
  pipe = J("[{\"$group\":{\"_id\":\"$a\",\"n\":{\"$sum\":1}}},{\"$sort\":{\"_id\":1}}]");
  ASSERT_EQ_INT(store_mongo_aggregate(store, "agg", pipe, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(out, 0), "n")), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(out, 1), "n")), 1);
  json_decref(out);
  json_decref(pipe);
  /* not an array */
  pipe = J("{}");
  ASSERT_EQ_INT(store_mongo_aggregate(store, "agg", pipe, &out), ACTOR_EINVAL);
  json_decref(pipe);
}

static void test_create_index(void) {
  json_t *keys = J("{\"actor_dbid\":1,\"n\":-1}"), *ttl = J("{\"exp\":1}"),
         *ttlopts = J("{\"expireAfterSeconds\":0}");
  ASSERT_EQ_INT(store_mongo_create_index(store, coll, keys, NULL), 0);
  /* FerretDB v1 refuses TTL indexes; a real MongoDB accepts */
  int rc = store_mongo_create_index(store, "logs", ttl, ttlopts);
  ASSERT_TRUE(rc == 0 || rc == ACTOR_ESTORE);
  json_decref(keys);
  json_decref(ttl);
  json_decref(ttlopts);
}

static void test_ping(void) {
  ASSERT_EQ_INT(store_mongo_ping(store), 0);
}

/* Nothing listens on port 1: an error within a few seconds, not a hang. */
static void test_unreachable_fails_fast(void) {
  store_mongo_t *m = new_store("mongodb://127.0.0.1:1", "nothing");
  struct timespec t0, t1;
  json_t *doc = J("{\"a\":1}"), *out = NULL;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ASSERT_EQ_INT(store_mongo_insert(m, "c", doc), ACTOR_ECONN);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ASSERT_TRUE(t1.tv_sec - t0.tv_sec < 8);
  ASSERT_EQ_INT(store_mongo_find(m, "c", doc, NULL, &out), ACTOR_ECONN);
  ASSERT_EQ_INT(store_mongo_ping(m), ACTOR_ECONN);
  store_mongo_free(m);
  json_decref(doc);

  /* and a URL that is not one */
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[store]\nmongo_url = http://x\n", &cfg), 0);
  ASSERT_EQ_INT(store_mongo_new(cfg, &m), ACTOR_ECONFIG);
  actor_config_free(cfg);
}

/* The separate host/port/user/password keys: escaped into a URL. */
int store__mongo_build_url(const char *host, long port, const char *user, const char *password,
                           char *buf, size_t cap);

static void test_build_url(void) {
  char buf[256];
  ASSERT_EQ_INT(store__mongo_build_url("db.local", 27018, "ab@c", "p:w/%", buf, sizeof(buf)), 0);
  ASSERT_EQ_STR(buf, "mongodb://ab%40c:p%3Aw%2F%25@db.local:27018/");
  ASSERT_EQ_INT(store__mongo_build_url("::1", 27017, "", NULL, buf, sizeof(buf)), 0);
  ASSERT_EQ_STR(buf, "mongodb://[::1]:27017/");
  ASSERT_EQ_INT(store__mongo_build_url("h", 1, NULL, NULL, buf, 12), ACTOR_ETOOBIG);
}

int main(void) {
  const char *url = test_server_env("MONGO_URL");
  char db[64];
  snprintf(db, sizeof(db), "abaco_test_%ld_%ld", (long)getpid(), (long)time(NULL));
  store = new_store(url, db);
  if (!store || store_mongo_ping(store) != 0) {
    fprintf(stderr, "FAIL: no MongoDB-wire server at %s (set MONGO_URL)\n", url);
    store_mongo_free(store);
    store_mongo_cleanup();
    return 1;
  }
  ASSERT_EQ_STR(store_mongo_db(store), db);

  RUN_TEST(test_build_url);
  RUN_TEST(test_ping);
  RUN_TEST(test_insert_find_one);
  RUN_TEST(test_find_sort_limit);
  RUN_TEST(test_update_upsert);
  RUN_TEST(test_count_delete);
  RUN_TEST(test_roundtrip_exact);
  RUN_TEST(test_oid_and_date);
  RUN_TEST(test_find_and_modify);
  RUN_TEST(test_aggregate);
  RUN_TEST(test_create_index);
  RUN_TEST(test_unreachable_fails_fast);

  ASSERT_EQ_INT(store_mongo_drop_database(store), 0);
  store_mongo_free(store);
  store_mongo_cleanup();
  TEST_EXIT();
}
