/* _actor_configs as a worker builds it (actor/actorcfg.h) against a live
 * Redis (database 15, see redis_test_store.h), with config records written
 * the way the api writes them: plain and secret values of several JSON
 * types, a secret under another key or another config's id (left out,
 * never passed on encrypted), an index entry whose record is gone, and an
 * actor no config lists. */
#include <unistd.h>

#include "actor/actorcfg.h"
#include "actor/errors.h"
#include "actor/store_record.h"
#include "redis_test_store.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

static store_redis_t *store;
static actor_secret_key_t key, other_key;
static char tenant[64], db_id[128];

static void put_config(const char *name, const char *value_json, int secret,
                       const actor_secret_key_t *k, const char *aad_name) {
  char id[256], rkey[ACTORCFG_KEY_MAX], index[ACTORCFG_KEY_MAX], aad[256];
  snprintf(id, sizeof(id), "%s_%s", tenant, name);
  snprintf(aad, sizeof(aad), "%s_%s", tenant, aad_name ? aad_name : name);
  json_t *value = NULL;
  if (secret) {
    char *sealed = NULL;
    ASSERT_EQ_INT(actor_secret_encrypt(k, value_json, strlen(value_json), aad, &sealed), 0);
    value = json_string(sealed);
    free(sealed);
  } else {
    value = json_loads(value_json, JSON_DECODE_ANY, NULL);
  }
  json_t *rec = json_pack("{s:s, s:o, s:b, s:s, s:s}", "name", name, "value", value, "is_secret",
                          secret, "config_id", id, "tenant", tenant);
  actorcfg_key(id, rkey);
  ASSERT_EQ_INT(store_record_put(store, rkey, rec), 0);
  json_decref(rec);
  actorcfg_index_key(db_id, index);
  redisReply *rep = store_redis_cmd(store, "SADD %s %s", index, id);
  freeReplyObject(rep);
}

static void del_config(const char *name) {
  char id[256], rkey[ACTORCFG_KEY_MAX];
  snprintf(id, sizeof(id), "%s_%s", tenant, name);
  actorcfg_key(id, rkey);
  ACTOR_IGNORE(store_record_delete(store, rkey)); /* cleanup: absent is fine */
}

static void test_values(void) {
  put_config("plain", "\"visible\"", 0, NULL, NULL);
  put_config("number", "42", 0, NULL, NULL);
  put_config("secret", "{\"pw\": \"s3cr3t\", \"n\": [1, 2]}", 1, &key, NULL);
  put_config("secret_str", "\"token-value\"", 1, &key, NULL);
  put_config("wrong_key", "\"x\"", 1, &other_key, NULL);
  put_config("moved", "\"y\"", 1, &key, "elsewhere"); /* sealed for another config */
  put_config("gone", "\"z\"", 0, NULL, NULL);
  del_config("gone"); /* the index still names it */

  json_t *out = NULL;
  ASSERT_EQ_INT(actorcfg_for_actor(store, &key, db_id, &out), 0);
  json_t *want = json_loads("{\"plain\": \"visible\", \"number\": 42,"
                            " \"secret\": {\"pw\": \"s3cr3t\", \"n\": [1, 2]},"
                            " \"secret_str\": \"token-value\"}",
                            0, NULL);
  ASSERT_TRUE(out != NULL && json_equal(out, want));
  if (out && !json_equal(out, want)) {
    char *s = json_dumps(out, JSON_COMPACT);
    fprintf(stderr, "got %s\n", s);
    free(s);
  }
  json_decref(out);
  json_decref(want);

  /* Without a key every secret is left out; the rest stays. */
  ASSERT_EQ_INT(actorcfg_for_actor(store, NULL, db_id, &out), 0);
  ASSERT_EQ_INT(json_object_size(out), 2);
  ASSERT_TRUE(json_object_get(out, "secret") == NULL);
  json_decref(out);
}

static void test_no_configs(void) {
  json_t *out = NULL;
  ASSERT_EQ_INT(actorcfg_for_actor(store, &key, "NOBODY_nothing", &out), 0);
  ASSERT_TRUE(json_is_object(out) && json_object_size(out) == 0);
  json_decref(out);
}

int main(void) {
  store = redis_test_store();
  if (store == NULL)
    return 1;
  snprintf(tenant, sizeof(tenant), "UNIT%ld", (long)getpid());
  snprintf(db_id, sizeof(db_id), "%s_actor", tenant);
  ASSERT_EQ_INT(actor_secret_key_init(&key, "unit-test-key"), 0);
  ASSERT_EQ_INT(actor_secret_key_init(&other_key, "another-key"), 0);
  RUN_TEST(test_values);
  RUN_TEST(test_no_configs);
  static const char *const names[] = {"plain",     "number", "secret", "secret_str",
                                      "wrong_key", "moved",  NULL};
  for (int i = 0; names[i]; i++)
    del_config(names[i]);
  char index[ACTORCFG_KEY_MAX];
  actorcfg_index_key(db_id, index);
  redisReply *rep = store_redis_cmd(store, "DEL %s", index);
  freeReplyObject(rep);
  actor_secret_key_wipe(&key);
  actor_secret_key_wipe(&other_key);
  store_redis_free(store);
  TEST_EXIT();
}
