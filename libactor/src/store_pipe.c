/* Pipelined reads (store_kv.h): one round trip for many keys, for readers
 * such as /metrics that look at every actor and worker at once. */
#include <stdlib.h>

#include "actor/errors.h"
#include "actor/store_kv.h"
#include "store_int.h"

/* Runs one two- or three-word command per key (words[] with the key at
 * index 1) and turns each reply into a JSON value with conv. */
static int read_many(store_redis_t *r, const char *const *keys, size_t n, int argc,
                     const char *cmd, const char *arg, json_t *(*conv)(const redisReply *),
                     json_t **out) {
  *out = NULL;
  const char **argv = calloc(n * (size_t)argc + 1, sizeof(*argv));
  redisReply **replies = calloc(n + 1, sizeof(*replies));
  json_t *arr = json_array();
  int rc = argv && replies && arr ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    argv[i * (size_t)argc] = cmd;
    argv[i * (size_t)argc + 1] = keys[i];
    if (argc > 2)
      argv[i * (size_t)argc + 2] = arg;
  }
  if (rc == 0)
    rc = store__redis_pipeline(r, argc, argv, n, replies);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *v = replies[i] ? conv(replies[i]) : NULL;
    if (json_array_append_new(arr, v ? v : json_null()) != 0)
      rc = ACTOR_ENOMEM;
  }
  for (size_t i = 0; replies && i < n; i++)
    if (replies[i])
      freeReplyObject(replies[i]);
  free(replies);
  free(argv);
  if (rc != 0)
    json_decref(arr);
  else
    *out = arr;
  return rc;
}

/* A record field holds JSON text. */
static json_t *json_value(const redisReply *v) {
  if (v->type != REDIS_REPLY_STRING)
    return NULL;
  return json_loadb(v->str, v->len, JSON_DECODE_ANY, NULL);
}

static json_t *strings(const redisReply *v) {
  if (v->type != REDIS_REPLY_ARRAY)
    return NULL;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < v->elements; i++)
    if (v->element[i]->type == REDIS_REPLY_STRING)
      json_array_append_new(arr, json_stringn(v->element[i]->str, v->element[i]->len));
  return arr;
}

int store_record_field_many(store_redis_t *r, const char *const *keys, size_t n,
                            const char *field, json_t **out) {
  return read_many(r, keys, n, 3, "HGET", field, json_value, out);
}

int store_set_members_many(store_redis_t *r, const char *const *keys, size_t n, json_t **out) {
  return read_many(r, keys, n, 2, "SMEMBERS", NULL, strings, out);
}

static json_t *record(const redisReply *v) {
  return store__record_of_reply(v);
}

int store_record_get_many(store_redis_t *r, const char *const *keys, size_t n, json_t **out) {
  return read_many(r, keys, n, 2, "HGETALL", NULL, record, out);
}
