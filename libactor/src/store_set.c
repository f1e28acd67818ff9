/* Sets and whole keys (store_kv.h): SADD/SREM/SMEMBERS/SCARD/SSCAN, DEL
 * and EXISTS, each reply checked by the store's one error rule
 * (store__redis_expect). */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/store_kv.h"
#include "store_int.h"

int store__redis_integer(redisReply *reply, const char *what, const char *key, long long *out) {
  int rc = store__redis_expect(reply, REDIS_REPLY_INTEGER, what, key);
  if (rc == 0 && out)
    *out = reply->integer;
  if (reply)
    freeReplyObject(reply);
  return rc;
}

/* The string elements of an array reply, as a new JSON array (others are
 * skipped); NULL when out of memory. */
static json_t *strings_of(const redisReply *reply) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < reply->elements; i++) {
    const redisReply *e = reply->element[i];
    if (e->type != REDIS_REPLY_STRING)
      continue;
    json_t *s = json_stringn(e->str, e->len);
    if (s == NULL || json_array_append_new(arr, s) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

int store__redis_strings(redisReply *reply, const char *what, const char *key, json_t **out) {
  *out = NULL;
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, what, key);
  if (rc == 0 && (*out = strings_of(reply)) == NULL)
    rc = ACTOR_ENOMEM;
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_set_add(store_redis_t *r, const char *key, const char *member, bool *added) {
  long long n = 0;
  int rc = store__redis_integer(store_redis_cmd(r, "SADD %s %s", key, member), "SADD", key, &n);
  if (added)
    *added = rc == 0 && n > 0;
  return rc;
}

int store_set_remove(store_redis_t *r, const char *key, const char *member) {
  return store__redis_integer(store_redis_cmd(r, "SREM %s %s", key, member), "SREM", key, NULL);
}

int store_set_members(store_redis_t *r, const char *key, json_t **out) {
  return store__redis_strings(store_redis_cmd(r, "SMEMBERS %s", key), "SMEMBERS", key, out);
}

int store_set_count(store_redis_t *r, const char *key, long long *out) {
  *out = 0;
  return store__redis_integer(store_redis_cmd(r, "SCARD %s", key), "SCARD", key, out);
}

int store_set_scan(store_redis_t *r, const char *key, unsigned long long *cursor, json_t **out) {
  return store_set_scan_count(r, key, cursor, 100, out);
}

int store_set_scan_count(store_redis_t *r, const char *key, unsigned long long *cursor,
                         unsigned count, json_t **out) {
  *out = NULL;
  redisReply *reply = store_redis_cmd(r, "SSCAN %s %llu COUNT %u", key, *cursor, count ? count : 1);
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "SSCAN", key);
  if (rc == 0 && (reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING ||
                  reply->element[1]->type != REDIS_REPLY_ARRAY))
    rc = store__redis_expect(reply, -1, "SSCAN", key); /* not [cursor, [members]] */
  if (rc == 0) {
    *cursor = strtoull(reply->element[0]->str, NULL, 10);
    if ((*out = strings_of(reply->element[1])) == NULL)
      rc = ACTOR_ENOMEM;
  }
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_key_delete(store_redis_t *r, const char *key, bool *deleted) {
  long long n = 0;
  int rc = store__redis_integer(store_redis_cmd(r, "DEL %s", key), "DEL", key, &n);
  if (deleted)
    *deleted = rc == 0 && n > 0;
  return rc;
}

int store_key_exists(store_redis_t *r, const char *key, bool *out) {
  long long n = 0;
  int rc = store__redis_integer(store_redis_cmd(r, "EXISTS %s", key), "EXISTS", key, &n);
  *out = rc == 0 && n > 0;
  return rc;
}

int store_set_union_into(store_redis_t *r, const char *dest, const char *src, long long *n) {
  return store__redis_integer(store_redis_cmd(r, "SUNIONSTORE %s %s %s", dest, dest, src),
                              "SUNIONSTORE", dest, n);
}

/* ---- sorted sets ---- */

int store_zset_add(store_redis_t *r, const char *key, int64_t score, const char *member) {
  return store__redis_integer(
      store_redis_cmd(r, "ZADD %s %lld %s", key, (long long)score, member), "ZADD", key, NULL);
}

int store_zset_remove(store_redis_t *r, const char *key, const char *member) {
  return store__redis_integer(store_redis_cmd(r, "ZREM %s %s", key, member), "ZREM", key, NULL);
}

int store_zset_upto(store_redis_t *r, const char *key, int64_t max_score, size_t limit,
                    json_t **out) {
  /* (hiredis's format knows no %zu) */
  return store__redis_strings(store_redis_cmd(r, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %lld", key,
                                              (long long)max_score, (long long)limit),
                              "ZRANGEBYSCORE", key, out);
}
