/* clientg end to end against the real RabbitMQ (AMQP_URI) and Redis
 * (REDIS_URL): each test starts the clientg binary (CLIENTG_BIN, else the
 * one built with this test) on abaco.conf with environment overrides (its
 * own queue, secret, key file and TTL), asks it for a token with
 * chan_client_call, verifies that token with the published platform key
 * (actor_jwt_verify and actor_auth_verify), checks the client record in
 * Redis, revokes it with "delete", and sends requests with a bad, missing
 * or empty secret and garbage bodies, which must be refused while the
 * service keeps serving. Also the Redis side of actor_auth_verify: a key
 * stored under another key's kid, platform tokens refused without a
 * keyring, APIM tokens without a tenant key; on SIGTERM clientg must exit
 * 0. The platform key each clientg publishes is removed at the end.
 * Skipped when AMQP_URI or REDIS_URL is unset; fails when a server does
 * not answer. */
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actor/auth.h"
#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "clientg.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

extern char **environ;

#define SECRET "clientg-test-secret"
#define TTL 120

static char queue[64], dir[64], key_path[128], tenant[32];
static pid_t child = -1;
static chan_client_t *chan;
static store_redis_t *redis;
static actor_platform_keys_t *ring;
static char kid[ACTOR_AUTH_KID_MAX];

static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v && *v ? v : def;
}

static int start_clientg(const char *redis_url, const char *amqp_uri) {
  const char *bin = env_or("CLIENTG_BIN", CLIENTG_BIN);
  char conf[512];
  snprintf(conf, sizeof(conf), "%s/abaco.conf", env_or("ABACO_SOURCE_DIR", ABACO_SOURCE_DIR));
  char ttl[16];
  snprintf(ttl, sizeof(ttl), "%d", TTL);
  setenv("clientg_queue", queue, 1);
  setenv("clientg_secret", SECRET, 1);
  setenv("clientg_private_key_file", key_path, 1);
  setenv("clientg_token_ttl", ttl, 1);
  setenv("rabbit_uri", amqp_uri, 1);
  setenv("store_redis_url", redis_url, 1);
  setenv("web_user_role", "Internal/abaco-user", 1);
  setenv("logs_directory", "", 1);
  char *argv[] = {(char *)bin, "-c", conf, NULL};
  int rc = posix_spawn(&child, bin, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "cannot start %s: %s\n", bin, strerror(rc));
    child = -1;
  }
  return rc;
}

/* Calls clientg; returns the reply object (new reference) or NULL. */
static json_t *call(const char *body) {
  char *reply = NULL;
  size_t len = 0;
  int rc = chan_client_call(chan, queue, body, strlen(body), 10000, &reply, &len);
  if (rc != 0)
    fprintf(stderr, "call failed: %s\n", actor_strerror(rc));
  ASSERT_EQ_INT(rc, 0);
  json_t *v = reply ? json_loadb(reply, len, 0, NULL) : NULL;
  free(reply);
  ASSERT_TRUE(json_is_object(v));
  return v;
}

static json_t *call_fmt(const char *command, const char *wid, const char *secret) {
  json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "command", command, "tenant", tenant,
                          "actor_id", "act1", "worker_id", wid, "owner", "jdoe");
  if (secret != NULL)
    json_object_set_new(req, "secret", json_string(secret));
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  json_t *r = call(body);
  free(body);
  return r;
}

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "(none)";
}

static long long redis_ttl(const char *key) {
  redisReply *r = store_redis_cmd(redis, "TTL %s", key);
  long long t = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
  if (r)
    freeReplyObject(r);
  return t;
}

static char token[ACTOR_JWT_MAX_LEN];

/* A new token for wid into tok (size ACTOR_JWT_MAX_LEN), its key's kid into
 * kid, and the keyring that has that key into ring. */
static void new_token(const char *wid, char *tok) {
  json_t *r = call_fmt("new", wid, SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  snprintf(tok, ACTOR_JWT_MAX_LEN, "%s", str(r, "access_token"));
  json_decref(r);
  ASSERT_EQ_INT(actor_jwt_peek_kid(tok, kid, sizeof(kid)), 0);
  if (ring == NULL)
    ASSERT_EQ_INT(actor_platform_keys_new(redis, &ring), 0);
}

static void test_new(void) {
  json_t *r = call_fmt("new", "wid-1", SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  ASSERT_EQ_STR(str(r, "client_id"), "wid-1");
  ASSERT_EQ_INT(json_integer_value(json_object_get(r, "expires_in")), TTL);
  snprintf(token, sizeof(token), "%s", str(r, "access_token"));
  json_decref(r);

  /* The key named in the token is the one published in Redis. */
  ASSERT_EQ_INT(actor_jwt_peek_kid(token, kid, sizeof(kid)), 0);
  const actor_jwt_key_t *pub = NULL;
  ASSERT_EQ_INT(actor_platform_keys_new(redis, &ring), 0);
  ASSERT_EQ_INT(actor_platform_keys_get(ring, kid, &pub), 0);
  ASSERT_TRUE(pub != NULL);
  int64_t now = (int64_t)time(NULL);
  actor_identity_t id;
  char reason[ACTOR_AUTH_REASON_MAX] = "";
  int rc =
      pub ? actor_jwt_verify(NULL, pub, token, tenant, NULL, now, &id, reason, sizeof(reason)) : -1;
  if (rc != 0)
    fprintf(stderr, "verify: %s\n", reason);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_STR(id.username, "jdoe");
  ASSERT_EQ_STR(id.tenant, tenant);
  ASSERT_TRUE(actor_identity_has_role(&id, "Internal/abaco-user"));
  ASSERT_EQ_STR(id.jti, "wid-1");
  ASSERT_TRUE(id.exp > now + TTL - 10 && id.exp <= now + TTL + 1);

  /* The client record, with the token's lifetime. */
  char key[256];
  actor_client_key(tenant, "wid-1", key, sizeof(key));
  ASSERT_EQ_INT(actor_client_active(redis, tenant, "wid-1"), 1);
  long long ttl = redis_ttl(key);
  ASSERT_TRUE(ttl > TTL - 10 && ttl <= TTL);
  json_t *rec = NULL;
  redisReply *rr = store_redis_cmd(redis, "GET %s", key);
  if (rr && rr->type == REDIS_REPLY_STRING)
    rec = json_loads(rr->str, 0, NULL);
  if (rr)
    freeReplyObject(rr);
  ASSERT_EQ_STR(str(rec, "owner"), "jdoe");
  ASSERT_EQ_STR(str(rec, "actor_id"), "act1");
  json_decref(rec);

  /* What the API will call: a platform token, accepted while recorded. */
  actor_auth_keys_t keys = {.platform = ring, .redis = redis};
  ASSERT_EQ_INT(actor_auth_verify(&keys, token, tenant, NULL, now, &id, reason, sizeof(reason)), 0);
  ASSERT_TRUE(id.platform);
  ASSERT_EQ_STR(id.username, "jdoe");
  ASSERT_EQ_INT(
      actor_auth_verify(&keys, token, "OTHER-TENANT", NULL, now, &id, reason, sizeof(reason)),
      ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, "issued for tenant") != NULL);
  /* Bearer: tenant from the claim. */
  ASSERT_EQ_INT(
      actor_auth_verify(&keys, token, NULL, "DEV-DEVELOP", now, &id, reason, sizeof(reason)), 0);
  ASSERT_EQ_STR(id.tenant, tenant);
  /* No keyring: platform tokens are refused. */
  actor_auth_keys_t none = {.redis = redis};
  ASSERT_EQ_INT(actor_auth_verify(&none, token, tenant, NULL, now, &id, reason, sizeof(reason)),
                ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, "unknown platform key") != NULL);
  /* An APIM-style token (no platform kid) without a tenant key. */
  ASSERT_EQ_INT(actor_auth_verify(&none, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", tenant, NULL, now, &id,
                                  reason, sizeof(reason)),
                ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, "no public key") != NULL);
  json_decref(call_fmt("delete", "wid-1", SECRET));

  /* clientg made its key file private. */
  struct stat st;
  ASSERT_EQ_INT(stat(key_path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
}

static void test_delete(void) {
  int64_t now = (int64_t)time(NULL);
  new_token("wid-1", token);
  ASSERT_EQ_INT(actor_client_active(redis, tenant, "wid-1"), 1);
  json_t *r = call_fmt("delete", "wid-1", SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  ASSERT_TRUE(json_is_true(json_object_get(r, "deleted")));
  json_decref(r);
  ASSERT_EQ_INT(actor_client_active(redis, tenant, "wid-1"), 0);
  actor_identity_t id;
  char reason[ACTOR_AUTH_REASON_MAX];
  actor_jwt_cache_t *cache = NULL;
  ASSERT_EQ_INT(actor_jwt_cache_new(0, 0, &cache), 0);
  actor_auth_keys_t keys = {.cache = cache, .platform = ring, .redis = redis};
  ASSERT_EQ_INT(actor_auth_verify(&keys, token, tenant, NULL, now, &id, reason, sizeof(reason)),
                ACTOR_EAUTH);
  ASSERT_EQ_STR(reason, "the token has been revoked");
  ASSERT_TRUE(!id.platform && id.username[0] == '\0');
  /* Deleting again is fine. */
  r = call_fmt("delete", "wid-1", SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  ASSERT_TRUE(json_is_false(json_object_get(r, "deleted")));
  json_decref(r);
  /* A new token, verified once (cached), then revoked: the cache never
   * hides the revocation. */
  r = call_fmt("new", "wid-2", SECRET);
  char tok2[ACTOR_JWT_MAX_LEN];
  snprintf(tok2, sizeof(tok2), "%s", str(r, "access_token"));
  json_decref(r);
  ASSERT_EQ_INT(actor_auth_verify(&keys, tok2, tenant, NULL, now, &id, reason, sizeof(reason)), 0);
  ASSERT_EQ_INT(actor_auth_verify(&keys, tok2, tenant, NULL, now, &id, reason, sizeof(reason)), 0);
  uint64_t hits = 0;
  actor_jwt_cache_stats(cache, &hits, NULL, NULL);
  ASSERT_EQ_INT(hits, 1);
  r = call_fmt("delete", "wid-2", SECRET);
  json_decref(r);
  ASSERT_EQ_INT(actor_auth_verify(&keys, tok2, tenant, NULL, now, &id, reason, sizeof(reason)),
                ACTOR_EAUTH);
  actor_jwt_cache_free(cache);
}

static void test_refused(void) {
  json_t *r = call_fmt("new", "wid-3", "not-the-secret");
  ASSERT_EQ_STR(str(r, "status"), "error");
  ASSERT_EQ_STR(str(r, "message"), "bad secret");
  ASSERT_TRUE(json_object_get(r, "access_token") == NULL);
  json_decref(r);
  r = call_fmt("new", "wid-3", NULL);
  ASSERT_EQ_STR(str(r, "status"), "error");
  ASSERT_EQ_STR(str(r, "message"), "missing secret");
  json_decref(r);
  r = call_fmt("new", "wid-3", "");
  ASSERT_EQ_STR(str(r, "message"), "bad secret");
  json_decref(r);
  ASSERT_EQ_INT(actor_client_active(redis, tenant, "wid-3"), 0);
  /* A delete with a bad secret does not revoke. */
  r = call_fmt("new", "wid-4", SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  json_decref(r);
  r = call_fmt("delete", "wid-4", "guess");
  ASSERT_EQ_STR(str(r, "status"), "error");
  json_decref(r);
  ASSERT_EQ_INT(actor_client_active(redis, tenant, "wid-4"), 1);
  r = call_fmt("delete", "wid-4", SECRET);
  json_decref(r);
  /* Garbage bodies get an error reply, never a crash. */
  const char *junk[] = {"", "}{", "[]", "null", "\"new\"", "{\"command\":\"new\"}"};
  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
    r = call(junk[i]);
    ASSERT_EQ_STR(str(r, "status"), "error");
    json_decref(r);
  }
  ASSERT_EQ_INT(kill(child, 0), 0);
  /* ... and the service still serves. */
  r = call_fmt("new", "wid-5", SECRET);
  ASSERT_EQ_STR(str(r, "status"), "ok");
  json_decref(r);
  r = call_fmt("delete", "wid-5", SECRET);
  json_decref(r);
}

/* A key stored under another key's kid is refused by the keyring. */
static void test_keyring_mismatch(void) {
  char tok[ACTOR_JWT_MAX_LEN];
  new_token("wid-6", tok);
  json_decref(call_fmt("delete", "wid-6", SECRET));
  char fake[ACTOR_AUTH_KID_MAX];
  snprintf(fake, sizeof(fake), "%s%s", ACTOR_PLATFORM_KID_PREFIX,
           "00112233445566778899aabbccddeeff");
  const actor_jwt_key_t *pub = NULL;
  ASSERT_EQ_INT(actor_platform_keys_get(ring, kid, &pub), 0);
  size_t len = 0;
  const char *pem = actor_jwt_key_pem(pub, &len);
  redisReply *r = store_redis_cmd(redis, "HSET %s %s %b", ACTOR_PLATFORM_KEYS_HASH, fake, pem, len);
  ASSERT_TRUE(r != NULL);
  if (r)
    freeReplyObject(r);
  actor_platform_keys_t *fresh = NULL;
  ASSERT_EQ_INT(actor_platform_keys_new(redis, &fresh), 0);
  ASSERT_EQ_INT(actor_platform_keys_get(fresh, fake, &pub), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_platform_keys_get(fresh, "abaco-platform-nope", &pub), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(actor_platform_keys_get(fresh, "someone-else", &pub), ACTOR_ENOTFOUND);
  actor_platform_keys_free(fresh);
  r = store_redis_cmd(redis, "HDEL %s %s", ACTOR_PLATFORM_KEYS_HASH, fake);
  if (r)
    freeReplyObject(r);
}

static void test_stop(void) {
  json_t *r = call_fmt("delete", "wid-7", SECRET); /* serving: its handlers are set */
  ASSERT_EQ_STR(str(r, "status"), "ok");
  json_decref(r);
  ASSERT_EQ_INT(kill(child, SIGTERM), 0);
  int status = -1;
  for (int i = 0; i < 100 && waitpid(child, &status, WNOHANG) == 0; i++)
    usleep(50000);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ_INT(WEXITSTATUS(status), 0);
  child = -1;
}

/* Removes the platform key this process's clientg published (its kid is
 * derived from the key file it wrote). */
static void unpublish_key(void) {
  clientg_key_t k;
  if (access(key_path, F_OK) != 0 || clientg_key_load(key_path, &k, NULL) != 0)
    return;
  redisReply *r = store_redis_cmd(redis, "HDEL %s %s", ACTOR_PLATFORM_KEYS_HASH, k.kid);
  if (r)
    freeReplyObject(r);
  clientg_key_free(&k);
}

int main(void) {
  const char *redis_url = test_server_env("REDIS_URL"), *amqp_uri = test_server_env("AMQP_URI");
  snprintf(queue, sizeof(queue), "test_clients_%d_%ld", (int)getpid(), (long)time(NULL));
  snprintf(tenant, sizeof(tenant), "TEST-%d", (int)getpid());
  snprintf(dir, sizeof(dir), "/tmp/test_clientg.XXXXXX");
  if (mkdtemp(dir) == NULL)
    return 1;
  snprintf(key_path, sizeof(key_path), "%s/platform_key.pem", dir);

  actor_config_t *cfg = NULL;
  char ini[256];
  snprintf(ini, sizeof(ini), "[store]\nredis_url = %s\n", redis_url);
  ASSERT_EQ_INT(actor_config_parse(ini, &cfg), 0);
  ASSERT_EQ_INT(store_redis_new(cfg, 2, &redis), 0);
  actor_config_free(cfg);
  redisReply *ping = redis ? store_redis_cmd(redis, "PING") : NULL;
  if (ping == NULL)
    fprintf(stderr, "no Redis at %s\n", redis_url);
  ASSERT_TRUE(ping != NULL);
  if (ping)
    freeReplyObject(ping);
  ASSERT_EQ_INT(chan_client_new(amqp_uri, 2, &chan), 0);
  ASSERT_EQ_INT(start_clientg(redis_url, amqp_uri), 0);
  RUN_TEST(test_new);
  RUN_TEST(test_delete);
  RUN_TEST(test_refused);
  RUN_TEST(test_keyring_mismatch);
  RUN_TEST(test_stop);
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  if (chan) {
    ACTOR_IGNORE(chan_client_delete_queue(chan, queue)); /* cleanup: gone already is fine */
    chan_client_free(chan);
  }
  if (redis)
    unpublish_key();
  actor_platform_keys_free(ring);
  store_redis_free(redis);
  unlink(key_path);
  rmdir(dir);
  TEST_EXIT();
}
