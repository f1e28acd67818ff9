/* A Redis store for unit tests, on database 15 of REDIS_URL so that fixed
 * platform keys (abaco:metrics:..., abaco:config:...) written by a test
 * never meet the running platform's (database 0). REDIS_URL unset: the
 * test is skipped (test_server_env). Returns NULL (after saying why) when
 * Redis is unreachable: the test must then fail, not skip. */
#ifndef ABACO_REDIS_TEST_STORE_H
#define ABACO_REDIS_TEST_STORE_H

#include <stdio.h>
#include <stdlib.h>

#include "actor/config.h"
#include "actor/store.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

int store__redis_parse_url(const char *url, char **host, int *port, char **user, char **password,
                           int *db);

static store_redis_t *redis_test_store(void) {
  const char *url = test_server_env("REDIS_URL");
  char *host = NULL, *user = NULL, *pass = NULL;
  int port = 0, db = 0;
  if (store__redis_parse_url(url, &host, &port, &user, &pass, &db) != 0) {
    fprintf(stderr, "FAIL: bad REDIS_URL %s\n", url);
    return NULL;
  }
  char ini[512];
  snprintf(ini, sizeof(ini), "[store]\nredis_host=%s\nredis_port=%d\nredis_db=15\n%s%s%s", host,
           port, pass ? "redis_password=" : "", pass ? pass : "", pass ? "\n" : "");
  free(host);
  free(user);
  free(pass);
  actor_config_t *cfg = NULL;
  store_redis_t *store = NULL;
  if (actor_config_parse(ini, &cfg) != 0 || store_redis_new(cfg, 2, &store) != 0) {
    fprintf(stderr, "FAIL: cannot make a Redis store from %s\n", url);
    actor_config_free(cfg);
    return NULL;
  }
  actor_config_free(cfg);
  redisReply *rep = store_redis_cmd(store, "PING");
  if (rep == NULL) {
    fprintf(stderr, "FAIL: no Redis at %s (set REDIS_URL)\n", url);
    store_redis_free(store);
    return NULL;
  }
  freeReplyObject(rep);
  return store;
}

#endif
