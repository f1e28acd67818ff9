/* The Redis store against a live server (REDIS_URL): commands, pooling, the JSON hash helpers, a
 * WATCH/MULTI/EXEC on a borrowed connection, and reconnecting after the
 * server dropped every client. A scripted fake server on a local port checks
 * the retry-once rule, AUTH and that a timeout is not retried. Skipped
 * when REDIS_URL is unset; fails when the server is unreachable. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

/* internal, from store_redis.c */
int store__redis_parse_url(const char *url, char **host, int *port, char **user, char **password,
                           int *db);

static const char *redis_url;
static char prefix[64];
static store_redis_t *store;

static char *key(const char *name) {
  return test_prefixed(prefix, name);
}

static store_redis_t *new_store(const char *ini, size_t pool) {
  actor_config_t *cfg = NULL;
  store_redis_t *r = NULL;
  ASSERT_EQ_INT(actor_config_parse(ini, &cfg), 0);
  ASSERT_EQ_INT(store_redis_new(cfg, pool, &r), 0);
  actor_config_free(cfg);
  return r;
}

static long long client_id(store_redis_t *r) {
  redisReply *rep = store_redis_cmd(r, "CLIENT ID");
  long long id = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
  if (rep)
    freeReplyObject(rep);
  return id;
}

static void test_parse_url(void) {
  char *host, *user, *pass;
  int port, db;
  ASSERT_EQ_INT(store__redis_parse_url("redis://:s%40cret@example.org:6380/3", &host, &port,
                                       &user, &pass, &db),
                0);
  ASSERT_EQ_STR(host, "example.org");
  ASSERT_EQ_STR(pass, "s@cret");
  ASSERT_TRUE(user == NULL);
  ASSERT_EQ_INT(port, 6380);
  ASSERT_EQ_INT(db, 3);
  free(host);
  free(pass);
  ASSERT_EQ_INT(store__redis_parse_url("redis://bob:pw@[::1]", &host, &port, &user, &pass, &db),
                0);
  ASSERT_EQ_STR(host, "::1");
  ASSERT_EQ_STR(user, "bob");
  ASSERT_EQ_STR(pass, "pw");
  ASSERT_EQ_INT(port, 6379);
  ASSERT_EQ_INT(db, 0);
  free(host);
  free(user);
  free(pass);
  ASSERT_EQ_INT(store__redis_parse_url("http://x", &host, &port, &user, &pass, &db),
                ACTOR_ECONFIG);
  ASSERT_EQ_INT(store__redis_parse_url("redis://h:99999", &host, &port, &user, &pass, &db),
                ACTOR_ECONFIG);
  ASSERT_EQ_INT(store__redis_parse_url("redis://h/x", &host, &port, &user, &pass, &db),
                ACTOR_ECONFIG);
  ASSERT_EQ_INT(store__redis_parse_url("redis://:%4@h", &host, &port, &user, &pass, &db),
                ACTOR_ECONFIG);
}

static void test_cmd_roundtrip(void) {
  redisReply *rep = store_redis_cmd(store, "SET %s %s", key("k"), "value with spaces");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  rep = store_redis_cmd(store, "GET %s", key("k"));
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STRING);
  ASSERT_EQ_STR(rep ? rep->str : NULL, "value with spaces");
  freeReplyObject(rep);
  /* an error reply is a reply */
  rep = store_redis_cmd(store, "NOSUCHCOMMAND %s", "x");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_ERROR);
  freeReplyObject(rep);

  const char *argv[] = {"SET", key("bin"), "a\0b"};
  const size_t len[] = {3, strlen(argv[1]), 3};
  rep = store_redis_cmdargv(store, 3, argv, len);
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  rep = store_redis_cmd(store, "STRLEN %s", key("bin"));
  ASSERT_EQ_INT(rep ? rep->integer : -1, 3);
  freeReplyObject(rep);
}

/* The redis_host/redis_port/redis_password keys reach the same server. */
static void test_host_port_config(void) {
  char *host = NULL, *user = NULL, *pass = NULL, ini[512];
  int port, db;
  ASSERT_EQ_INT(store__redis_parse_url(redis_url, &host, &port, &user, &pass, &db), 0);
  snprintf(ini, sizeof(ini),
           "[store]\nredis_host = %s\nredis_port = %d\nredis_password = %s\nredis_db = %d\n",
           host, port, pass ? pass : "", db);
  store_redis_t *r = new_store(ini, 1);
  redisReply *rep = store_redis_cmd(r, "PING");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  store_redis_free(r);
  free(host);
  free(user);
  free(pass);
}

static void test_pool_reuse(void) {
  char ini[512];
  long long a, b;
  snprintf(ini, sizeof(ini), "[store]\nredis_url = %s\n", redis_url);
  store_redis_t *r = new_store(ini, 1);
  a = client_id(r);
  b = client_id(r);
  ASSERT_TRUE(a > 0);
  ASSERT_EQ_INT(a, b); /* the idle connection was reused */

  /* two at once: two connections; with pool_size 1 only one is kept */
  redisContext *c1 = store_redis_acquire(r), *c2 = store_redis_acquire(r);
  ASSERT_TRUE(c1 != NULL && c2 != NULL && c1 != c2);
  store_redis_release(r, c1, 0);
  store_redis_release(r, c2, 0);
  ASSERT_EQ_INT(client_id(r), a);
  /* broken=1 closes it */
  c1 = store_redis_acquire(r);
  store_redis_release(r, c1, 1);
  b = client_id(r);
  ASSERT_TRUE(b > 0 && b != a);
  store_redis_free(r);
}

static void test_hash_json(void) {
  json_t *a = json_pack("{s:s, s:I, s:f, s:[i,b]}", "name", "a", "big", (json_int_t)1 << 60, "x",
                        0.5, "l", 1, 1);
  json_t *b = json_pack("{s:s}", "name", "b");
  json_t *out = NULL;
  redisReply *rep;

  ASSERT_EQ_INT(store_redis_hset_json(store, key("h"), "a", a), 0);
  ASSERT_EQ_INT(store_redis_hset_json(store, key("h"), "b", b), 0);
  ASSERT_EQ_INT(store_redis_hget_json(store, key("h"), "a", &out), 0);
  ASSERT_TRUE(out != NULL && json_equal(out, a));
  json_decref(out);
  ASSERT_EQ_INT(store_redis_hget_json(store, key("h"), "zz", &out), ACTOR_ENOTFOUND);
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_INT(store_redis_hget_json(store, key("nokey"), "a", &out), ACTOR_ENOTFOUND);

  /* a value that is not JSON: hget says so, hvals skips it */
  rep = store_redis_cmd(store, "HSET %s %s %s", key("h"), "junk", "{not json");
  freeReplyObject(rep);
  ASSERT_EQ_INT(store_redis_hget_json(store, key("h"), "junk", &out), ACTOR_EPARSE);
  ASSERT_EQ_INT(store_redis_hvals_json(store, key("h"), &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  json_decref(out);

  ASSERT_EQ_INT(store_redis_hdel(store, key("h"), "a"), 0);
  ASSERT_EQ_INT(store_redis_hdel(store, key("h"), "a"), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(store_redis_hvals_json(store, key("h"), &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "name")), "b");
  json_decref(out);
  ASSERT_EQ_INT(store_redis_hvals_json(store, key("nokey"), &out), 0);
  ASSERT_TRUE(json_is_array(out) && json_array_size(out) == 0);
  json_decref(out);

  /* a wrong-type key is a store error, not a crash */
  rep = store_redis_cmd(store, "SET %s %s", key("str"), "x");
  freeReplyObject(rep);
  ASSERT_EQ_INT(store_redis_hget_json(store, key("str"), "a", &out), ACTOR_ESTORE);
  json_decref(a);
  json_decref(b);
}

/* INCR by WATCH/GET/MULTI/SET/EXEC; interfere=1 changes the key between
 * WATCH and EXEC from another connection. Returns the EXEC reply type. */
static int watch_incr(int interfere) {
  redisContext *c = store_redis_acquire(store);
  redisReply *rep;
  long long v;
  int type = -1;
  ASSERT_TRUE(c != NULL);
  if (!c)
    return -1;
  freeReplyObject(redisCommand(c, "WATCH %s", key("cnt")));
  rep = redisCommand(c, "GET %s", key("cnt"));
  v = rep && rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : 0;
  freeReplyObject(rep);
  if (interfere)
    freeReplyObject(store_redis_cmd(store, "SET %s %s", key("cnt"), "100"));
  freeReplyObject(redisCommand(c, "MULTI"));
  freeReplyObject(redisCommand(c, "SET %s %lld", key("cnt"), v + 1));
  rep = redisCommand(c, "EXEC");
  if (rep)
    type = rep->type;
  freeReplyObject(rep);
  store_redis_release(store, c, 0);
  return type;
}

static void test_transaction(void) {
  redisReply *rep;
  ASSERT_EQ_INT(watch_incr(0), REDIS_REPLY_ARRAY);
  ASSERT_EQ_INT(watch_incr(0), REDIS_REPLY_ARRAY);
  rep = store_redis_cmd(store, "GET %s", key("cnt"));
  ASSERT_EQ_STR(rep ? rep->str : NULL, "2");
  freeReplyObject(rep);
  ASSERT_EQ_INT(watch_incr(1), REDIS_REPLY_NIL); /* aborted */
  rep = store_redis_cmd(store, "GET %s", key("cnt"));
  ASSERT_EQ_STR(rep ? rep->str : NULL, "100");
  freeReplyObject(rep);
}

/* Every client is killed by another connection; the next command works. */
static void test_reconnect(void) {
  char *host = NULL, *user = NULL, *pass = NULL;
  int port, db;
  long long before = client_id(store), after;
  redisContext *c1 = store_redis_acquire(store), *c2 = store_redis_acquire(store);
  redisReply *rep;

  store_redis_release(store, c1, 0);
  store_redis_release(store, c2, 0); /* two idle connections, both to be killed */
  ASSERT_EQ_INT(store__redis_parse_url(redis_url, &host, &port, &user, &pass, &db), 0);
  redisContext *killer = redisConnect(host, port);
  ASSERT_TRUE(killer != NULL && killer->err == 0);
  if (pass)
    freeReplyObject(user ? redisCommand(killer, "AUTH %s %s", user, pass)
                         : redisCommand(killer, "AUTH %s", pass));
  rep = redisCommand(killer, "CLIENT KILL TYPE normal SKIPME yes");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 2);
  freeReplyObject(rep);
  redisFree(killer);
  usleep(50 * 1000);

  rep = store_redis_cmd(store, "PING");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  ASSERT_EQ_STR(rep ? rep->str : NULL, "PONG");
  freeReplyObject(rep);
  after = client_id(store);
  ASSERT_TRUE(after > 0 && after != before);

  /* a borrowed connection killed under the caller: it sees the error,
   * release closes it even with broken=0, the next call redials */
  c1 = store_redis_acquire(store);
  killer = redisConnect(host, port);
  if (pass)
    freeReplyObject(user ? redisCommand(killer, "AUTH %s %s", user, pass)
                         : redisCommand(killer, "AUTH %s", pass));
  freeReplyObject(redisCommand(killer, "CLIENT KILL TYPE normal SKIPME yes"));
  redisFree(killer);
  rep = redisCommand(c1, "PING");
  ASSERT_TRUE(rep == NULL && c1->err != 0);
  freeReplyObject(rep);
  store_redis_release(store, c1, 0);
  ASSERT_TRUE(client_id(store) > after);
  free(host);
  free(user);
  free(pass);
}

/* ---- a scripted fake server on 127.0.0.1 ---- */

enum { FAKE_CLOSE = 1, FAKE_HANG = 2 };
typedef struct {
  int lfd, port;
  int script[8]; /* per accepted connection: FAKE_CLOSE, FAKE_HANG or 0 = answer */
  _Atomic int accepted;
  char seen[2048]; /* everything received, concatenated */
  size_t seen_len;
  pthread_t thread;
} fake_t;

/* Answers each command with +OK (+PONG for PING) on a "0" connection; a
 * FAKE_CLOSE connection answers AUTH and closes on the next command, a
 * FAKE_HANG one never answers. Commands are small, one read() each. */
static void *fake_run(void *arg) {
  fake_t *f = arg;
  for (;;) {
    int fd = accept(f->lfd, NULL, NULL), mode;
    char buf[512];
    ssize_t n;
    if (fd < 0)
      return NULL;
    mode = f->script[atomic_fetch_add(&f->accepted, 1) % 8];
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      if (f->seen_len + (size_t)n < sizeof(f->seen)) {
        memcpy(f->seen + f->seen_len, buf, (size_t)n);
        f->seen_len += (size_t)n;
      }
      int auth = memmem(buf, (size_t)n, "AUTH", 4) != NULL;
      if (mode == FAKE_CLOSE && !auth)
        break;
      if (mode == FAKE_HANG)
        continue;
      const char *r = memmem(buf, (size_t)n, "PING", 4) ? "+PONG\r\n" : "+OK\r\n";
      if (write(fd, r, strlen(r)) < 0)
        break;
    }
    close(fd);
  }
}

static void fake_start(fake_t *f) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  ASSERT_TRUE(listen(f->lfd, 8) == 0);
  getsockname(f->lfd, (struct sockaddr *)&sa, &len);
  f->port = ntohs(sa.sin_port);
  pthread_create(&f->thread, NULL, fake_run, f);
}

static void fake_stop(fake_t *f) {
  shutdown(f->lfd, SHUT_RDWR);
  close(f->lfd);
  pthread_join(f->thread, NULL);
}

static store_redis_t *fake_store(const fake_t *f, const char *extra) {
  char ini[256];
  snprintf(ini, sizeof(ini), "[store]\nredis_host = 127.0.0.1\nredis_port = %d\n%s", f->port,
           extra);
  return new_store(ini, 2);
}

static void test_retry_once(void) {
  fake_t f = {.script = {FAKE_CLOSE, 0}};
  fake_start(&f);
  store_redis_t *r = fake_store(&f, "redis_password = s3cret\n");
  ASSERT_EQ_INT(f.accepted, 0); /* dialled lazily */
  redisReply *rep = store_redis_cmd(r, "PING");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  ASSERT_EQ_STR(rep ? rep->str : NULL, "PONG");
  freeReplyObject(rep);
  ASSERT_EQ_INT(f.accepted, 2);
  f.seen[f.seen_len] = '\0';
  /* each connection authenticated first */
  const char *auth = strstr(f.seen, "AUTH\r\n$6\r\ns3cret");
  ASSERT_TRUE(auth != NULL && strstr(auth + 16, "AUTH\r\n$6\r\ns3cret") != NULL);
  store_redis_free(r);
  fake_stop(&f);

  /* both attempts broken: NULL, not a loop; the next call dials again */
  fake_t g = {.script = {FAKE_CLOSE, FAKE_CLOSE, 0}};
  fake_start(&g);
  r = fake_store(&g, "");
  rep = store_redis_cmd(r, "PING");
  ASSERT_TRUE(rep == NULL);
  ASSERT_EQ_INT(g.accepted, 2);
  rep = store_redis_cmd(r, "PING");
  ASSERT_TRUE(rep != NULL && rep->type == REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  ASSERT_EQ_INT(g.accepted, 3);
  store_redis_free(r);
  fake_stop(&g);
}

/* A server that never answers: NULL after the 5 s timeout, not retried. */
static void test_timeout_not_retried(void) {
  fake_t f = {.script = {FAKE_HANG, FAKE_HANG}};
  struct timespec t0, t1;
  fake_start(&f);
  store_redis_t *r = fake_store(&f, "");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  redisReply *rep = store_redis_cmd(r, "INCR %s", "x");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ASSERT_TRUE(rep == NULL);
  ASSERT_EQ_INT(f.accepted, 1);
  ASSERT_TRUE(t1.tv_sec - t0.tv_sec >= 4 && t1.tv_sec - t0.tv_sec <= 7);
  store_redis_free(r);
  fake_stop(&f);
}

/* The error rule (store.h) on the wire: a server that closes the
 * connection on every command is ECONN; one that answers, but not with the
 * reply the operation expects (the fake says +OK to everything), is
 * ESTORE; and the typed operations say so rather than crash. */
static void test_error_rule(void) {
  json_t *out = NULL;
  bool added = false;
  fake_t f = {.script = {FAKE_CLOSE, FAKE_CLOSE, 0}};
  fake_start(&f);
  store_redis_t *r = fake_store(&f, "");
  ASSERT_EQ_INT(store_set_members(r, "k", &out), ACTOR_ECONN);
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_INT(f.accepted, 2); /* retried once, on a new connection */
  ASSERT_EQ_INT(store_set_members(r, "k", &out), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_set_add(r, "k", "m", &added), ACTOR_ESTORE);
  ASSERT_TRUE(!added);
  ASSERT_EQ_INT(store_hash_get_all(r, "k", &out), ACTOR_ESTORE);
  ASSERT_EQ_INT(store_record_get(r, "k", &out), ACTOR_ESTORE);
  ASSERT_TRUE(out == NULL);
  store_redis_free(r);
  fake_stop(&f);
}

static void test_unreachable(void) {
  store_redis_t *r = new_store("[store]\nredis_host = 127.0.0.1\nredis_port = 1\n", 2);
  json_t *out = NULL;
  ASSERT_TRUE(store_redis_cmd(r, "PING") == NULL);
  ASSERT_TRUE(store_redis_acquire(r) == NULL);
  ASSERT_EQ_INT(store_redis_hget_json(r, "k", "f", &out), ACTOR_ECONN);
  store_redis_free(r);
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[store]\nredis_url = http://nope\n", &cfg), 0);
  ASSERT_EQ_INT(store_redis_new(cfg, 1, &r), ACTOR_ECONFIG);
  actor_config_free(cfg);
}

static void cleanup_keys(void) {
  const char *names[] = {"k", "bin", "h", "str", "cnt"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    freeReplyObject(store_redis_cmd(store, "DEL %s", key(names[i])));
}

int main(void) {
  char ini[512];
  redisReply *rep;

  signal(SIGPIPE, SIG_IGN);
  redis_url = test_server_env("REDIS_URL");
  snprintf(prefix, sizeof(prefix), "test:store:%ld:%ld:", (long)getpid(), (long)time(NULL));
  snprintf(ini, sizeof(ini), "[store]\nredis_url = %s\n", redis_url);
  store = new_store(ini, 4);
  rep = store ? store_redis_cmd(store, "PING") : NULL;
  if (!rep) {
    fprintf(stderr, "FAIL: no Redis at %s (set REDIS_URL)\n", redis_url);
    store_redis_free(store);
    return 1;
  }
  freeReplyObject(rep);

  RUN_TEST(test_parse_url);
  RUN_TEST(test_cmd_roundtrip);
  RUN_TEST(test_host_port_config);
  RUN_TEST(test_pool_reuse);
  RUN_TEST(test_hash_json);
  RUN_TEST(test_transaction);
  RUN_TEST(test_reconnect);
  RUN_TEST(test_retry_once);
  RUN_TEST(test_timeout_not_retried);
  RUN_TEST(test_error_rule);
  RUN_TEST(test_unreachable);
  cleanup_keys();
  store_redis_free(store);
  TEST_EXIT();
}
