/* The typed Redis operations of store_kv.h against a live server
 * (REDIS_URL, database 15): each does what it says, an absent key reads as
 * empty (or ENOTFOUND where that is documented), a key of the wrong type
 * is ACTOR_ESTORE, and an unreachable server is ACTOR_ECONN for every one
 * of them (the store's one error rule, store.h). */
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "redis_test_store.h"
#include "test.h"

static store_redis_t *store;
static char prefix[64];

static char *key(const char *name) {
  return test_prefixed(prefix, name);
}

static long long pttl(const char *k) {
  redisReply *rep = store_redis_cmd(store, "PTTL %s", k);
  long long t = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -99;
  if (rep)
    freeReplyObject(rep);
  return t;
}

static void test_sets(void) {
  bool added = false, deleted = false, exists = true;
  json_t *m = NULL;
  long long n = -1;
  ASSERT_EQ_INT(store_set_members(store, key("s"), &m), 0); /* absent: empty */
  ASSERT_EQ_INT((int)json_array_size(m), 0);
  json_decref(m);
  ASSERT_EQ_INT(store_set_add(store, key("s"), "a", &added), 0);
  ASSERT_TRUE(added);
  ASSERT_EQ_INT(store_set_add(store, key("s"), "a", &added), 0);
  ASSERT_TRUE(!added);
  ASSERT_EQ_INT(store_set_add(store, key("s"), "b c", NULL), 0);
  ASSERT_EQ_INT(store_set_count(store, key("s"), &n), 0);
  ASSERT_EQ_INT((int)n, 2);
  ASSERT_EQ_INT(store_set_members(store, key("s"), &m), 0);
  ASSERT_EQ_INT((int)json_array_size(m), 2);
  json_decref(m);
  unsigned long long cursor = 0;
  size_t seen = 0;
  do {
    ASSERT_EQ_INT(store_set_scan(store, key("s"), &cursor, &m), 0);
    seen += json_array_size(m);
    json_decref(m);
  } while (cursor != 0);
  ASSERT_EQ_INT((int)seen, 2);
  ASSERT_EQ_INT(store_set_remove(store, key("s"), "a"), 0);
  ASSERT_EQ_INT(store_set_remove(store, key("s"), "a"), 0); /* absent member: fine */
  ASSERT_EQ_INT(store_key_exists(store, key("s"), &exists), 0);
  ASSERT_TRUE(exists);
  ASSERT_EQ_INT(store_key_delete(store, key("s"), &deleted), 0);
  ASSERT_TRUE(deleted);
  ASSERT_EQ_INT(store_key_delete(store, key("s"), &deleted), 0);
  ASSERT_TRUE(!deleted);
  ASSERT_EQ_INT(store_key_exists(store, key("s"), &exists), 0);
  ASSERT_TRUE(!exists);
}

/* SUNIONSTORE into a set, and the sorted sets of the job indexes: ZADD
 * adds or moves, ZRANGEBYSCORE up to a score in score order with a limit,
 * ZREM of an absent member is fine. */
static void test_union_and_zsets(void) {
  char src[128], dst[128];
  snprintf(src, sizeof(src), "%s", key("src"));
  snprintf(dst, sizeof(dst), "%s", key("dst"));
  long long n = -1;
  ASSERT_EQ_INT(store_set_add(store, src, "a", NULL), 0);
  ASSERT_EQ_INT(store_set_add(store, src, "b", NULL), 0);
  ASSERT_EQ_INT(store_set_add(store, dst, "c", NULL), 0);
  ASSERT_EQ_INT(store_set_union_into(store, dst, src, &n), 0);
  ASSERT_EQ_INT((int)n, 3);
  ASSERT_EQ_INT(store_set_union_into(store, dst, key("absent"), &n), 0);
  ASSERT_EQ_INT((int)n, 3);

  const char *z = key("z");
  json_t *out = NULL;
  ASSERT_EQ_INT(store_zset_upto(store, z, 100, 10, &out), 0); /* absent: empty */
  ASSERT_EQ_INT((int)json_array_size(out), 0);
  json_decref(out);
  ASSERT_EQ_INT(store_zset_add(store, z, 30, "late"), 0);
  ASSERT_EQ_INT(store_zset_add(store, z, 10, "early"), 0);
  ASSERT_EQ_INT(store_zset_add(store, z, 20, "mid"), 0);
  ASSERT_EQ_INT(store_zset_add(store, z, 5000000000000LL, "far"), 0);
  ASSERT_EQ_INT(store_zset_upto(store, z, 20, 10, &out), 0);
  ASSERT_EQ_INT((int)json_array_size(out), 2);
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 0)), "early");
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 1)), "mid");
  json_decref(out);
  ASSERT_EQ_INT(store_zset_upto(store, z, 40, 1, &out), 0); /* the limit */
  ASSERT_EQ_INT((int)json_array_size(out), 1);
  json_decref(out);
  ASSERT_EQ_INT(store_zset_add(store, z, 40, "early"), 0); /* moved */
  ASSERT_EQ_INT(store_zset_remove(store, z, "mid"), 0);
  ASSERT_EQ_INT(store_zset_remove(store, z, "never"), 0);
  ASSERT_EQ_INT(store_zset_upto(store, z, 5000000000000LL, 10, &out), 0);
  ASSERT_EQ_INT((int)json_array_size(out), 3);
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 0)), "late");
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 1)), "early");
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 2)), "far");
  json_decref(out);
}

static void test_hashes_and_counters(void) {
  char *v = NULL;
  json_t *all = NULL;
  bool has = true;
  long long n = -1;
  ASSERT_EQ_INT(store_hash_get(store, key("h"), "f", &v), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(store_hash_set(store, key("h"), "f", "x\0y", 3), 0);
  ASSERT_EQ_INT(store_hash_set(store, key("h"), "g", "READ", 4), 0);
  ASSERT_EQ_INT(store_hash_get(store, key("h"), "g", &v), 0);
  ASSERT_EQ_STR(v, "READ");
  free(v);
  ASSERT_EQ_INT(store_hash_exists(store, key("h"), "g", &has), 0);
  ASSERT_TRUE(has);
  ASSERT_EQ_INT(store_hash_exists(store, key("h"), "nope", &has), 0);
  ASSERT_TRUE(!has);
  ASSERT_EQ_INT(store_hash_get_all(store, key("h"), &all), 0);
  ASSERT_EQ_INT((int)json_object_size(all), 2);
  ASSERT_EQ_INT((int)json_string_length(json_object_get(all, "f")), 3);
  json_decref(all);
  const char *fields[] = {"g", "missing", NULL};
  ASSERT_EQ_INT(store_hash_get_fields(store, key("h"), fields, &all), 0);
  ASSERT_EQ_INT((int)json_object_size(all), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(all, "g")), "READ");
  json_decref(all);
  ASSERT_EQ_INT(store_hash_get_all(store, key("absent"), &all), 0);
  ASSERT_EQ_INT((int)json_object_size(all), 0);
  json_decref(all);

  ASSERT_EQ_INT(store_counter_get(store, key("c"), "DEV", &n), 0); /* absent: 0 */
  ASSERT_EQ_INT((int)n, 0);
  ASSERT_EQ_INT(store_counter_add(store, key("c"), "DEV", 2, &n), 0);
  ASSERT_EQ_INT((int)n, 2);
  ASSERT_EQ_INT(store_counter_add(store, key("c"), "DEV", 1, NULL), 0);
  ASSERT_EQ_INT(store_counter_get(store, key("c"), "DEV", &n), 0);
  ASSERT_EQ_INT((int)n, 3);
  /* a field that is not a number is the store's fault, not a zero */
  ASSERT_EQ_INT(store_counter_get(store, key("h"), "g", &n), ACTOR_ESTORE);
}

static void test_leases(void) {
  bool mine = false;
  ASSERT_EQ_INT(store_lease_take(store, key("l"), "me", 60000, &mine), 0);
  ASSERT_TRUE(mine);
  ASSERT_EQ_INT(store_lease_take(store, key("l"), "you", 60000, &mine), 0);
  ASSERT_TRUE(!mine);
  /* another owner's end leaves it alone */
  ASSERT_EQ_INT(store_lease_end(store, key("l"), "you", 0), 0);
  ASSERT_TRUE(pttl(key("l")) > 50000);
  /* the owner keeps it a little longer, then releases it */
  ASSERT_EQ_INT(store_lease_end(store, key("l"), "me", 3000), 0);
  long long t = pttl(key("l"));
  ASSERT_TRUE(t > 0 && t <= 3000);
  ASSERT_EQ_INT(store_lease_end(store, key("l"), "me", 0), 0);
  ASSERT_EQ_INT((int)pttl(key("l")), -2);
  ASSERT_EQ_INT(store_lease_take(store, key("l"), "you", 60000, &mine), 0);
  ASSERT_TRUE(mine);

  ASSERT_EQ_INT(store_value_set_ttl(store, key("v"), "{\"a\":1}", 100), 0);
  t = pttl(key("v"));
  ASSERT_TRUE(t > 90000 && t <= 100000);
  long long out = 0;
  ASSERT_EQ_INT(store_script_int(store, "return redis.call('STRLEN', KEYS[1]) + ARGV[1]",
                                 key("v"), "10", &out),
                0);
  ASSERT_EQ_INT((int)out, 17);
  ASSERT_EQ_INT(store_script_int(store, "return 'text'", key("v"), "", &out), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_script_int(store, "this is not lua", key("v"), "", &out), ACTOR_ESTORE);
}

static void test_lists(void) {
  json_t *l = NULL;
  ASSERT_EQ_INT(store_list_range(store, key("list"), 3, &l), 0);
  ASSERT_EQ_INT((int)json_array_size(l), 0);
  json_decref(l);
  const char *items[] = {"1", "2", "3", "4", "5"};
  for (int i = 0; i < 5; i++)
    ASSERT_EQ_INT(store_list_push_capped(store, key("list"), items[i], 3), 0);
  ASSERT_EQ_INT(store_list_range(store, key("list"), 10, &l), 0);
  ASSERT_EQ_INT((int)json_array_size(l), 3); /* capped */
  ASSERT_EQ_STR(json_string_value(json_array_get(l, 0)), "5"); /* newest first */
  ASSERT_EQ_STR(json_string_value(json_array_get(l, 2)), "3");
  json_decref(l);
  ASSERT_EQ_INT(store_list_range(store, key("list"), 1, &l), 0);
  ASSERT_EQ_INT((int)json_array_size(l), 1);
  json_decref(l);
}

static void test_pipelined_reads(void) {
  json_t *rec = json_pack("{s:s}", "status", "READY");
  ASSERT_EQ_INT(store_redis_hset_json(store, key("r1"), "status", json_object_get(rec, "status")),
                0);
  json_decref(rec);
  ASSERT_EQ_INT(store_set_add(store, key("m1"), "w1", NULL), 0);
  const char *keys[] = {key("r1"), key("absent"), key("m1")};
  json_t *out = NULL;
  ASSERT_EQ_INT(store_record_field_many(store, keys, 3, "status", &out), 0);
  ASSERT_EQ_INT((int)json_array_size(out), 3);
  ASSERT_EQ_STR(json_string_value(json_array_get(out, 0)), "READY");
  ASSERT_TRUE(json_is_null(json_array_get(out, 1)));
  ASSERT_TRUE(json_is_null(json_array_get(out, 2))); /* a set: wrong type, left out */
  json_decref(out);
  ASSERT_EQ_INT(store_set_members_many(store, keys, 3, &out), 0);
  ASSERT_EQ_INT((int)json_array_size(json_array_get(out, 1)), 0);
  ASSERT_EQ_STR(json_string_value(json_array_get(json_array_get(out, 2), 0)), "w1");
  ASSERT_TRUE(json_is_null(json_array_get(out, 0)));
  json_decref(out);
  /* whole records: absent and wrong-type keys are null */
  ASSERT_EQ_INT(store_record_get_many(store, keys, 3, &out), 0);
  ASSERT_EQ_INT((int)json_array_size(out), 3);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "status")), "READY");
  ASSERT_TRUE(json_is_null(json_array_get(out, 1)));
  ASSERT_TRUE(json_is_null(json_array_get(out, 2)));
  json_decref(out);
}

/* SSCAN with a COUNT hint pages through a set; GET of a plain value. */
static void test_scan_count_and_value_get(void) {
  char member[32];
  for (int i = 0; i < 300; i++) {
    snprintf(member, sizeof(member), "m%d", i);
    ASSERT_EQ_INT(store_set_add(store, key("wset"), member, NULL), 0);
  }
  unsigned long long cursor = 0;
  int pages = 0;
  json_t *seen = json_object();
  do {
    json_t *page = NULL;
    ASSERT_EQ_INT(store_set_scan_count(store, key("wset"), &cursor, 1000, &page), 0);
    size_t i;
    json_t *v;
    json_array_foreach(page, i, v) json_object_set(seen, json_string_value(v), json_true());
    json_decref(page);
    pages++;
  } while (cursor != 0 && pages < 1000);
  ASSERT_EQ_INT((int)json_object_size(seen), 300);
  ASSERT_TRUE(pages <= 2); /* a big page hint: one or two pages, not three hundred */
  json_decref(seen);
  char *v = NULL;
  ASSERT_EQ_INT(store_value_get(store, key("v"), &v), ACTOR_ENOTFOUND);
  ASSERT_TRUE(v == NULL);
  ASSERT_EQ_INT(store_value_set_ttl(store, key("v"), "hello world", 60), 0);
  ASSERT_EQ_INT(store_value_get(store, key("v"), &v), 0);
  ASSERT_EQ_STR(v, "hello world");
  free(v);
  ASSERT_EQ_INT(store_value_get(store, key("wset"), &v), ACTOR_ESTORE); /* a set */
}

/* The rule: a key of another type is ESTORE for every operation. */
static void test_wrong_type_is_estore(void) {
  json_t *j = NULL;
  char *v = NULL;
  bool b = false;
  long long n = 0;
  unsigned long long cursor = 0;
  const char *fields[] = {"f", NULL};
  ASSERT_EQ_INT(store_value_set_ttl(store, key("str"), "x", 60), 0);
  const char *k = key("str");
  ASSERT_EQ_INT(store_set_add(store, k, "m", &b), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_set_remove(store, k, "m"), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_set_members(store, k, &j), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_set_count(store, k, &n), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_set_scan(store, k, &cursor, &j), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_hash_get(store, k, "f", &v), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_hash_set(store, k, "f", "v", 1), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_hash_exists(store, k, "f", &b), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_hash_get_all(store, k, &j), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_hash_get_fields(store, k, fields, &j), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_counter_add(store, k, "f", 1, &n), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_counter_get(store, k, "f", &n), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_list_push_capped(store, k, "x", 3), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_list_range(store, k, 3, &j), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_redis_hget_json(store, k, "f", &j), ACTOR_ESTORE);
  /* the model's reads follow the same rule */
  ASSERT_EQ_INT(store_set_add(store, key("wset"), "x", NULL), 0);
  ASSERT_EQ_INT(store_record_get(store, key("wset"), &j), ACTOR_ESTORE);
}

/* ...and no server at all is ECONN for every operation. */
static void test_unreachable_is_econn(void) {
  actor_config_t *cfg = NULL;
  store_redis_t *r = NULL;
  ASSERT_EQ_INT(actor_config_parse("[store]\nredis_host = 127.0.0.1\nredis_port = 1\n", &cfg), 0);
  ASSERT_EQ_INT(store_redis_new(cfg, 1, &r), 0);
  actor_config_free(cfg);
  json_t *j = NULL;
  char *v = NULL;
  bool b = false;
  long long n = 0;
  unsigned long long cursor = 0;
  const char *fields[] = {"f", NULL};
  const char *keys[] = {"k"};
  ASSERT_EQ_INT(store_set_add(r, "k", "m", &b), ACTOR_ECONN);
  ASSERT_EQ_INT(store_set_remove(r, "k", "m"), ACTOR_ECONN);
  ASSERT_EQ_INT(store_set_members(r, "k", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_set_count(r, "k", &n), ACTOR_ECONN);
  ASSERT_EQ_INT(store_set_scan(r, "k", &cursor, &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_key_delete(r, "k", &b), ACTOR_ECONN);
  ASSERT_EQ_INT(store_key_exists(r, "k", &b), ACTOR_ECONN);
  ASSERT_EQ_INT(store_hash_get(r, "k", "f", &v), ACTOR_ECONN);
  ASSERT_EQ_INT(store_hash_set(r, "k", "f", "v", 1), ACTOR_ECONN);
  ASSERT_EQ_INT(store_hash_exists(r, "k", "f", &b), ACTOR_ECONN);
  ASSERT_EQ_INT(store_hash_get_all(r, "k", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_hash_get_fields(r, "k", fields, &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_counter_add(r, "k", "f", 1, &n), ACTOR_ECONN);
  ASSERT_EQ_INT(store_counter_get(r, "k", "f", &n), ACTOR_ECONN);
  ASSERT_EQ_INT(store_lease_take(r, "k", "me", 1000, &b), ACTOR_ECONN);
  ASSERT_EQ_INT(store_lease_end(r, "k", "me", 0), ACTOR_ECONN);
  ASSERT_EQ_INT(store_value_set_ttl(r, "k", "v", 10), ACTOR_ECONN);
  ASSERT_EQ_INT(store_script_int(r, "return 1", "k", "", &n), ACTOR_ECONN);
  ASSERT_EQ_INT(store_list_push_capped(r, "k", "v", 3), ACTOR_ECONN);
  ASSERT_EQ_INT(store_list_range(r, "k", 3, &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_record_field_many(r, keys, 1, "status", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_set_members_many(r, keys, 1, &j), ACTOR_ECONN);
  /* the records and models too: it used to be ESTORE in some of them */
  ASSERT_EQ_INT(store_record_get(r, "k", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(store_record_delete(r, "k"), ACTOR_ECONN);
  ASSERT_EQ_INT(model_actor_all_ids(r, &j), ACTOR_ECONN);
  ASSERT_EQ_INT(model_actor_list_ids(r, "DEV", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(model_worker_list(r, "DEV_x", &j), ACTOR_ECONN);
  ASSERT_EQ_INT(model_worker_count(r, "DEV_x", &n), ACTOR_ECONN);
  ASSERT_EQ_INT(model_actor_exists(r, "DEV_x", &b), ACTOR_ECONN);
  ASSERT_EQ_INT(model_ensure_worker_claim(r, "DEV_x", 1000, &b), ACTOR_ECONN);
  store_redis_free(r);
}

static void test_model_helpers(void) {
  bool mine = false, exists = true;
  char db_id[MODEL_KEY_MAX];
  snprintf(db_id, sizeof(db_id), "TESTKV_%ld", (long)getpid());
  ASSERT_EQ_INT(model_ensure_worker_claim(store, db_id, 60000, &mine), 0);
  ASSERT_TRUE(mine);
  ASSERT_EQ_INT(model_ensure_worker_claim(store, db_id, 60000, &mine), 0);
  ASSERT_TRUE(!mine);
  ASSERT_EQ_INT(model_actor_exists(store, db_id, &exists), 0);
  ASSERT_TRUE(!exists);
  json_t *actor = json_pack("{s:s}", "status", "READY"), *ids = NULL;
  ASSERT_EQ_INT(model_actor_put(store, db_id, actor), 0);
  json_decref(actor);
  ASSERT_EQ_INT(model_actor_exists(store, db_id, &exists), 0);
  ASSERT_TRUE(exists);
  ASSERT_EQ_INT(model_actor_all_ids(store, &ids), 0);
  bool found = false;
  for (size_t i = 0; i < json_array_size(ids); i++)
    found |= strcmp(json_string_value(json_array_get(ids, i)), db_id) == 0;
  json_decref(ids);
  ASSERT_TRUE(found);
  ASSERT_EQ_INT(model_actor_delete(store, db_id), 0);
  char lease[MODEL_KEY_MAX + 32];
  snprintf(lease, sizeof(lease), "abaco:ensure_worker:%s", db_id);
  ASSERT_EQ_INT(store_key_delete(store, lease, NULL), 0);
}

static void cleanup_keys(void) {
  const char *names[] = {"s", "h", "absent", "c", "l", "v", "list", "r1", "m1", "str", "wset"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    ACTOR_IGNORE(store_key_delete(store, key(names[i]), NULL));
}

int main(void) {
  store = redis_test_store();
  if (store == NULL)
    return 1;
  snprintf(prefix, sizeof(prefix), "test:kv:%ld:%ld:", (long)getpid(), (long)time(NULL));
  RUN_TEST(test_sets);
  RUN_TEST(test_union_and_zsets);
  RUN_TEST(test_hashes_and_counters);
  RUN_TEST(test_leases);
  RUN_TEST(test_lists);
  RUN_TEST(test_pipelined_reads);
  RUN_TEST(test_scan_count_and_value_get);
  RUN_TEST(test_wrong_type_is_estore);
  RUN_TEST(test_unreachable_is_econn);
  RUN_TEST(test_model_helpers);
  cleanup_keys();
  store_redis_free(store);
  TEST_EXIT();
}
