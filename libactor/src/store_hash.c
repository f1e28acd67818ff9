/* Hashes of plain strings and integer counters (store_kv.h): HGET, HSET,
 * HEXISTS, HGETALL, HMGET, HINCRBY. Record hashes, whose values are JSON,
 * are store_record.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/store_kv.h"
#include "store_int.h"

int store_hash_get(store_redis_t *r, const char *key, const char *field, char **out) {
  *out = NULL;
  redisReply *reply = store_redis_cmd(r, "HGET %s %s", key, field);
  int rc = reply && reply->type == REDIS_REPLY_NIL
               ? ACTOR_ENOTFOUND
               : store__redis_expect(reply, REDIS_REPLY_STRING, "HGET", key);
  if (rc == 0) {
    *out = malloc(reply->len + 1);
    if (*out == NULL) {
      rc = ACTOR_ENOMEM;
    } else {
      memcpy(*out, reply->str, reply->len);
      (*out)[reply->len] = '\0';
    }
  }
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_hash_set(store_redis_t *r, const char *key, const char *field, const char *value,
                   size_t len) {
  return store__redis_integer(store_redis_cmd(r, "HSET %s %s %b", key, field, value, len), "HSET",
                              key, NULL);
}

int store_hash_exists(store_redis_t *r, const char *key, const char *field, bool *out) {
  long long n = 0;
  int rc = store__redis_integer(store_redis_cmd(r, "HEXISTS %s %s", key, field), "HEXISTS", key,
                                &n);
  *out = rc == 0 && n > 0;
  return rc;
}

/* Frees the reply; on success *out gets obj, else obj is dropped. */
static int hand_over(redisReply *reply, int rc, json_t *obj, json_t **out) {
  if (reply)
    freeReplyObject(reply);
  if (rc != 0)
    json_decref(obj);
  else
    *out = obj;
  return rc;
}

/* Sets name -> the string reply v in obj (a non-string v is left out). */
static int set_string(json_t *obj, const redisReply *name, const redisReply *v) {
  if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
    return 0;
  json_t *s = json_stringn(v->str, v->len);
  return s && json_object_set_new(obj, name->str, s) == 0 ? 0 : ACTOR_ENOMEM;
}

int store_hash_get_all(store_redis_t *r, const char *key, json_t **out) {
  *out = NULL;
  redisReply *reply = store_redis_cmd(r, "HGETALL %s", key);
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HGETALL", key);
  json_t *obj = rc == 0 ? json_object() : NULL;
  if (rc == 0 && obj == NULL)
    rc = ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i + 1 < reply->elements; i += 2)
    rc = set_string(obj, reply->element[i], reply->element[i + 1]);
  return hand_over(reply, rc, obj, out);
}

int store_hash_get_fields(store_redis_t *r, const char *key, const char *const *fields,
                          json_t **out) {
  *out = NULL;
  size_t n = 0;
  while (fields[n])
    n++;
  const char **argv = calloc(n + 2, sizeof(*argv));
  if (argv == NULL)
    return ACTOR_ENOMEM;
  argv[0] = "HMGET";
  argv[1] = key;
  memcpy(argv + 2, fields, n * sizeof(*argv));
  redisReply *reply = store_redis_cmdargv(r, (int)n + 2, argv, NULL);
  free(argv);
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HMGET", key);
  if (rc == 0 && reply->elements != n)
    rc = store__redis_expect(reply, -1, "HMGET", key); /* not one value per field */
  json_t *obj = rc == 0 ? json_object() : NULL;
  if (rc == 0 && obj == NULL)
    rc = ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const redisReply *v = reply->element[i];
    json_t *s = v->type == REDIS_REPLY_STRING ? json_stringn(v->str, v->len) : NULL;
    if (v->type == REDIS_REPLY_STRING && (s == NULL || json_object_set_new(obj, fields[i], s)))
      rc = ACTOR_ENOMEM;
  }
  return hand_over(reply, rc, obj, out);
}

/* ---- counters ---- */

int store_counter_add(store_redis_t *r, const char *key, const char *field, long long by,
                      long long *now) {
  return store__redis_integer(store_redis_cmd(r, "HINCRBY %s %s %lld", key, field, by),
                              "HINCRBY", key, now);
}

int store_counter_get(store_redis_t *r, const char *key, const char *field, long long *out) {
  *out = 0;
  char *text = NULL;
  int rc = store_hash_get(r, key, field, &text);
  if (rc == ACTOR_ENOTFOUND)
    return 0;
  if (rc != 0)
    return rc;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  rc = errno == 0 && end != text && *end == '\0' ? 0 : ACTOR_ESTORE;
  if (rc == 0)
    *out = v;
  free(text);
  return rc;
}
