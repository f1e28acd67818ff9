/* Leases and values with an expiry, one-key scripts, and capped lists
 * (store_kv.h). A lease (SET NX PX) is how processes share a job: the
 * api's autoscaler and cron ticks, health's queue sweep, the mailbox
 * upgrade, "ensure a worker"; ending one is one script, so that only its
 * owner releases or extends it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/store_kv.h"
#include "store_int.h"

static const char END_LUA[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "if tonumber(ARGV[2]) > 0 then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return redis.call('DEL', KEYS[1])";

int store_lease_take(store_redis_t *r, const char *key, const char *owner, int64_t hold_ms,
                     bool *mine) {
  *mine = false;
  redisReply *reply = store_redis_cmd(r, "SET %s %s NX PX %lld", key, owner, (long long)hold_ms);
  int rc = 0;
  if (reply && reply->type == REDIS_REPLY_STATUS)
    *mine = true;
  else if (!reply || reply->type != REDIS_REPLY_NIL) /* NIL: held by another */
    rc = store__redis_expect(reply, REDIS_REPLY_STATUS, "SET NX", key);
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_lease_end(store_redis_t *r, const char *key, const char *owner, int64_t keep_ms) {
  return store__redis_integer(store_redis_cmd(r, "EVAL %s 1 %s %s %lld", END_LUA, key, owner,
                                              (long long)(keep_ms > 0 ? keep_ms : 0)),
                              "EVAL (lease end)", key, NULL);
}

int store_value_set_ttl(store_redis_t *r, const char *key, const char *text, long ttl_s) {
  redisReply *reply = store_redis_cmd(r, "SET %s %s EX %ld", key, text, ttl_s);
  int rc = store__redis_expect(reply, REDIS_REPLY_STATUS, "SET EX", key);
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_value_get(store_redis_t *r, const char *key, char **out) {
  *out = NULL;
  redisReply *reply = store_redis_cmd(r, "GET %s", key);
  int rc = reply && reply->type == REDIS_REPLY_NIL
               ? ACTOR_ENOTFOUND
               : store__redis_expect(reply, REDIS_REPLY_STRING, "GET", key);
  if (rc == 0 && (*out = strndup(reply->str, reply->len)) == NULL)
    rc = ACTOR_ENOMEM;
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_script_int(store_redis_t *r, const char *script, const char *key, const char *arg,
                     long long *out) {
  return store__redis_integer(store_redis_cmd(r, "EVAL %s 1 %s %s", script, key, arg), "EVAL",
                              key, out);
}

int store_list_push_capped(store_redis_t *r, const char *key, const char *text, size_t max) {
  int rc = store__redis_integer(store_redis_cmd(r, "LPUSH %s %s", key, text), "LPUSH", key, NULL);
  if (rc != 0 || max == 0)
    return rc;
  redisReply *reply = store_redis_cmd(r, "LTRIM %s 0 %lld", key, (long long)max - 1);
  rc = store__redis_expect(reply, REDIS_REPLY_STATUS, "LTRIM", key);
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_list_range(store_redis_t *r, const char *key, size_t max, json_t **out) {
  *out = NULL;
  if (max == 0)
    return (*out = json_array()) ? 0 : ACTOR_ENOMEM;
  return store__redis_strings(store_redis_cmd(r, "LRANGE %s 0 %lld", key, (long long)max - 1),
                              "LRANGE", key, out);
}
