/* Records (Redis hashes of JSON-valued fields) against a live Redis
 * (REDIS_URL, given to the store as
 * [store] redis_host/redis_port): put/get round trips of every JSON type,
 * put replacing the whole record, get of a missing key, update of a missing
 * record (ENOTFOUND, nothing created), the guarded transition (success,
 * ESTATE, ENOTFOUND) and a race: 8 threads try the same REQUESTED -> READY
 * transition on one record at once and exactly one wins, on several
 * records. A record's fields and a plain hash's read in one round trip
 * (store_record_fields_and_hash). Keys carry a prefix unique to the run and are deleted at the
 * end. Skipped when REDIS_URL is unset; fails when Redis is unreachable. */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "actor/store_record.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

/* internal, from store_redis.c */
int store__redis_parse_url(const char *url, char **host, int *port, char **user, char **password,
                           int *db);

#define RACE_THREADS 8
#define RACE_ROUNDS 10

static store_redis_t *store;
static char prefix[96];

static const char *key(const char *name) {
  return test_prefixed(prefix, name);
}

static json_t *J(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_ALLOW_NUL, &err);
  if (v == NULL)
    fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
  return v;
}

static long long key_exists(const char *k) {
  redisReply *rep = store_redis_cmd(store, "EXISTS %s", k);
  long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
  freeReplyObject(rep);
  return n;
}

static void test_roundtrip_types(void) {
  json_t *rec = J("{\"s\": \"text with spaces and \\\"quotes\\\"\", \"empty\": \"\","
                  " \"u\": \"gr\\u00fc\\u00df \\u2603 \\ud83d\\ude00\", \"nl\": \"a\\nb\\u0000c\","
                  " \"i\": 42, \"neg\": -7, \"zero\": 0, \"big\": 9223372036854775807,"
                  " \"min\": -9223372036854775808, \"r\": 2.5, \"r1\": 1.0, \"tiny\": 1e-300,"
                  " \"t\": true, \"f\": false, \"n\": null, \"a\": [1, \"two\", [3.5, null], {}],"
                  " \"ea\": [], \"o\": {\"k\": {\"deep\": [true]}, \"x\": 1}, \"eo\": {},"
                  " \"SPAWNER SETUP\": \"a key with a space\"}");
  json_t *out = NULL;
  ASSERT_TRUE(rec != NULL);
  ASSERT_EQ_INT(store_record_put(store, key("rt"), rec), 0);
  ASSERT_EQ_INT(store_record_get(store, key("rt"), &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, rec));
  /* types survive exactly: an integer stays an integer, 1.0 a real */
  ASSERT_TRUE(json_is_integer(json_object_get(out, "big")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "min")), INT64_MIN);
  ASSERT_TRUE(json_is_real(json_object_get(out, "r1")));
  ASSERT_TRUE(json_is_null(json_object_get(out, "n")));
  ASSERT_EQ_INT(json_string_length(json_object_get(out, "nl")), 5);
  ASSERT_EQ_INT(json_object_size(out), json_object_size(rec));
  json_decref(out);

  /* one field per hash entry, values as JSON texts */
  redisReply *rep = store_redis_cmd(store, "HGET %s %s", key("rt"), "s");
  ASSERT_TRUE(rep && rep->type == REDIS_REPLY_STRING);
  ASSERT_EQ_STR(rep ? rep->str : NULL, "\"text with spaces and \\\"quotes\\\"\"");
  freeReplyObject(rep);
  rep = store_redis_cmd(store, "HLEN %s", key("rt"));
  ASSERT_EQ_INT(rep ? rep->integer : -1, json_object_size(rec));
  freeReplyObject(rep);

  /* a value not written by us comes back as a string */
  freeReplyObject(store_redis_cmd(store, "HSET %s %s %s", key("rt"), "raw", "not json {"));
  ASSERT_EQ_INT(store_record_get(store, key("rt"), &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "raw")), "not json {");
  json_decref(out);
  json_decref(rec);
}

static void test_put_replaces(void) {
  json_t *a = J("{\"x\": 1, \"y\": 2, \"z\": 3}"), *b = J("{\"w\": \"only\"}"), *out = NULL;
  ASSERT_EQ_INT(store_record_put(store, key("rep"), a), 0);
  ASSERT_EQ_INT(store_record_put(store, key("rep"), b), 0);
  ASSERT_EQ_INT(store_record_get(store, key("rep"), &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, b));
  json_decref(out);
  /* putting no fields leaves no record */
  json_t *empty = json_object();
  ASSERT_EQ_INT(store_record_put(store, key("rep"), empty), 0);
  out = NULL;
  ASSERT_EQ_INT(store_record_get(store, key("rep"), &out), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL);
  json_decref(empty);
  json_decref(a);
  json_decref(b);
}

static void test_missing(void) {
  json_t *out = NULL, *f = J("{\"status\": \"READY\"}");
  const char *const from[] = {"REQUESTED", NULL};
  ASSERT_EQ_INT(store_record_get(store, key("missing"), &out), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_INT(store_record_update(store, key("missing"), f), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(key_exists(key("missing")), 0); /* not created */
  ASSERT_EQ_INT(store_record_transition(store, key("missing"), "status", from, f), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(store_record_transition(store, key("missing"), "status", NULL, f), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(key_exists(key("missing")), 0);
  ASSERT_EQ_INT(store_record_delete(store, key("missing")), 0); /* deleting nothing is fine */
  json_decref(f);
}

/* A record's named fields and a plain hash's, in one round trip. */
static void test_fields_and_hash(void) {
  json_t *rec = J("{\"id\": \"a1\", \"revision\": 3, \"stateless\": false, "
                  "\"big\": \"xxxxxxxx\"}");
  ASSERT_EQ_INT(store_record_put(store, key("fh"), rec), 0);
  redisReply *rep = store_redis_cmd(store, "HSET %s alice EXECUTE ABACO_WORLD READ", key("fhp"));
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_INTEGER);
  freeReplyObject(rep);
  const char *const fields[] = {"id", "revision", "stateless", "missing", NULL};
  const char *const users[] = {"alice", "ABACO_WORLD", "bob", NULL};
  json_t *out = NULL, *levels = NULL;
  ASSERT_EQ_INT(store_record_fields_and_hash(store, key("fh"), fields, &out, key("fhp"), users,
                                             &levels), 0);
  ASSERT_EQ_INT(json_object_size(out), 3); /* not "big", nor the missing field */
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "id")), "a1");
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "revision")), 3);
  ASSERT_TRUE(json_is_false(json_object_get(out, "stateless")));
  ASSERT_EQ_INT(json_object_size(levels), 2); /* bob has none */
  ASSERT_EQ_STR(json_string_value(json_object_get(levels, "alice")), "EXECUTE");
  ASSERT_EQ_STR(json_string_value(json_object_get(levels, "ABACO_WORLD")), "READ");
  json_decref(out);
  json_decref(levels);
  /* No permissions hash: an empty object. */
  out = levels = NULL;
  ASSERT_EQ_INT(store_record_fields_and_hash(store, key("fh"), fields, &out, key("nohash"), users,
                                             &levels), 0);
  ASSERT_EQ_INT(json_object_size(levels), 0);
  json_decref(out);
  json_decref(levels);
  /* A deleted record: ENOTFOUND and nothing handed out; the connection is
   * still good for the next call. */
  ASSERT_EQ_INT(store_record_delete(store, key("fh")), 0);
  out = levels = NULL;
  ASSERT_EQ_INT(store_record_fields_and_hash(store, key("fh"), fields, &out, key("fhp"), users,
                                             &levels), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL && levels == NULL);
  ASSERT_EQ_INT(store_redis_reply_rc(store_redis_cmd(store, "DEL %s", key("fhp"))), 0);
  json_decref(rec);
}

static void test_update(void) {
  json_t *rec = J("{\"status\": \"SUBMITTED\", \"n\": 1, \"keep\": [1]}");
  json_t *f = J("{\"status\": \"READY\", \"n\": null, \"added\": {\"a\": true}}");
  json_t *want = J("{\"status\": \"READY\", \"n\": null, \"keep\": [1], \"added\": {\"a\": true}}");
  json_t *out = NULL, *none = json_object();
  ASSERT_EQ_INT(store_record_put(store, key("upd"), rec), 0);
  ASSERT_EQ_INT(store_record_update(store, key("upd"), f), 0);
  ASSERT_EQ_INT(store_record_get(store, key("upd"), &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, want));
  json_decref(out);
  /* no fields: nothing changes, but the record must exist */
  ASSERT_EQ_INT(store_record_update(store, key("upd"), none), 0);
  ASSERT_EQ_INT(store_record_update(store, key("upd-none"), none), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(key_exists(key("upd-none")), 0);
  ASSERT_EQ_INT(store_record_delete(store, key("upd")), 0);
  ASSERT_EQ_INT(store_record_get(store, key("upd"), &out), ACTOR_ENOTFOUND);
  json_decref(none);
  json_decref(want);
  json_decref(f);
  json_decref(rec);
}

static const char *status_of(const char *k) {
  static char buf[64];
  json_t *out = NULL;
  buf[0] = '\0';
  if (store_record_get(store, k, &out) == 0) {
    const char *s = json_string_value(json_object_get(out, "status"));
    snprintf(buf, sizeof(buf), "%s", s ? s : "(not a string)");
  }
  json_decref(out);
  return buf;
}

static void test_transition(void) {
  json_t *rec = J("{\"status\": \"SPAWNER SETUP\", \"cid\": null, \"n\": 1}");
  json_t *f = J("{\"status\": \"READY\", \"cid\": \"c0ffee\"}"), *out = NULL;
  const char *const from_ok[] = {"UPDATING STORE", "SPAWNER SETUP", NULL};
  const char *const from_bad[] = {"REQUESTED", "BUSY", "spawner setup", "SPAWNER", NULL};
  ASSERT_EQ_INT(store_record_put(store, key("tr"), rec), 0);

  /* guard fails: ESTATE, nothing written */
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "status", from_bad, f), ACTOR_ESTATE);
  ASSERT_EQ_INT(store_record_get(store, key("tr"), &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, rec));
  json_decref(out);

  /* guard holds (second of the list): every given field is set */
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "status", from_ok, f), 0);
  ASSERT_EQ_INT(store_record_get(store, key("tr"), &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), "READY");
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "cid")), "c0ffee");
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "n")), 1);
  json_decref(out);

  /* the same move again: no longer in a `from` state */
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "status", from_ok, f), ACTOR_ESTATE);

  /* NULL `from`: any current value */
  json_t *g = J("{\"status\": \"BUSY\"}");
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "status", NULL, g), 0);
  ASSERT_EQ_STR(status_of(key("tr")), "BUSY");
  json_decref(g);

  /* guard on another field; a guard field the record lacks is ENOTFOUND */
  const char *const cid_from[] = {"c0ffee", NULL};
  g = J("{\"cid\": \"beef\"}");
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "cid", cid_from, g), 0);
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "cid", cid_from, g), ACTOR_ESTATE);
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "nosuchfield", NULL, g), ACTOR_ENOTFOUND);
  json_decref(g);

  /* a status with quotes and backslashes matches exactly */
  g = J("{\"status\": \"odd \\\"q\\\" \\\\ s\"}");
  ASSERT_EQ_INT(store_record_put(store, key("tr"), g), 0);
  const char *const odd_from[] = {"odd \"q\" \\ s", NULL};
  ASSERT_EQ_INT(store_record_transition(store, key("tr"), "status", odd_from, f), 0);
  ASSERT_EQ_STR(status_of(key("tr")), "READY");
  json_decref(g);
  json_decref(f);
  json_decref(rec);
}

/* ---- the race ---- */

typedef struct {
  int id;
  const char *key;
  pthread_barrier_t *start;
  int rc;
  pthread_t thread;
} racer_t;

static void *race_run(void *arg) {
  racer_t *r = arg;
  const char *const from[] = {"REQUESTED", NULL};
  json_t *f = json_pack("{s:s, s:i}", "status", "READY", "winner", r->id);
  pthread_barrier_wait(r->start);
  r->rc = store_record_transition(store, r->key, "status", from, f);
  json_decref(f);
  return NULL;
}

static void test_race(void) {
  pthread_barrier_t start;
  racer_t racers[RACE_THREADS];
  for (int round = 0; round < RACE_ROUNDS; round++) {
    char name[32];
    snprintf(name, sizeof(name), "race%d", round);
    const char *k = key(name);
    json_t *rec = json_pack("{s:s, s:i}", "status", "REQUESTED", "winner", -1), *out = NULL;
    ASSERT_EQ_INT(store_record_put(store, k, rec), 0);
    json_decref(rec);
    pthread_barrier_init(&start, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++) {
      racers[i] = (racer_t){.id = i, .key = k, .start = &start, .rc = 1};
      pthread_create(&racers[i].thread, NULL, race_run, &racers[i]);
    }
    int wins = 0, lost = 0, winner = -1;
    for (int i = 0; i < RACE_THREADS; i++) {
      pthread_join(racers[i].thread, NULL);
      if (racers[i].rc == 0) {
        wins++;
        winner = i;
      } else if (racers[i].rc == ACTOR_ESTATE) {
        lost++;
      }
    }
    pthread_barrier_destroy(&start);
    ASSERT_EQ_INT(wins, 1);
    ASSERT_EQ_INT(lost, RACE_THREADS - 1);
    ASSERT_EQ_INT(store_record_get(store, k, &out), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(out, "status")), "READY");
    ASSERT_EQ_INT(json_integer_value(json_object_get(out, "winner")), winner);
    json_decref(out);
    ASSERT_EQ_INT(store_record_delete(store, k), 0);
  }
}

/* Deletes every key of this run; returns how many were left over. */
static long long cleanup_keys(void) {
  char pattern[128];
  long long n = 0;
  snprintf(pattern, sizeof(pattern), "%s*", prefix);
  redisReply *rep = store_redis_cmd(store, "KEYS %s", pattern);
  for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
    freeReplyObject(store_redis_cmd(store, "DEL %s", rep->element[i]->str));
    n++;
  }
  freeReplyObject(rep);
  return n;
}

int main(void) {
  char ini[512];
  char *host = NULL, *user = NULL, *pass = NULL;
  int port = 0, db = 0;
  actor_config_t *cfg = NULL;

  signal(SIGPIPE, SIG_IGN);
  const char *url = test_server_env("REDIS_URL");
  if (store__redis_parse_url(url, &host, &port, &user, &pass, &db) != 0) {
    fprintf(stderr, "FAIL: bad REDIS_URL %s\n", url);
    return 1;
  }
  snprintf(ini, sizeof(ini), "[store]\nredis_host=%s\nredis_port=%d\nredis_db=%d\n%s%s%s", host,
           port, db, pass ? "redis_password=" : "", pass ? pass : "", pass ? "\n" : "");
  free(host);
  free(user);
  free(pass);
  if (actor_config_parse(ini, &cfg) != 0 || store_redis_new(cfg, RACE_THREADS, &store) != 0) {
    fprintf(stderr, "FAIL: cannot make a Redis store from %s\n", url);
    actor_config_free(cfg);
    return 1;
  }
  actor_config_free(cfg);
  redisReply *rep = store_redis_cmd(store, "PING");
  if (rep == NULL) {
    fprintf(stderr, "FAIL: no Redis at %s (set REDIS_URL)\n", url);
    store_redis_free(store);
    return 1;
  }
  freeReplyObject(rep);
  snprintf(prefix, sizeof(prefix), "test:record:%ld:%ld:", (long)getpid(), (long)time(NULL));

  RUN_TEST(test_roundtrip_types);
  RUN_TEST(test_put_replaces);
  RUN_TEST(test_missing);
  RUN_TEST(test_fields_and_hash);
  RUN_TEST(test_update);
  RUN_TEST(test_transition);
  RUN_TEST(test_race);
  cleanup_keys();
  ASSERT_EQ_INT(cleanup_keys(), 0);
  store_redis_free(store);
  TEST_EXIT();
}
