/* Records as Redis hashes of JSON-valued fields (see store_record.h).
 * Each operation is one command or one Lua script, hence atomic. */
#include "actor/store_record.h"

#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "store_int.h"

#define REC_MODULE "store"

static const char SCRIPT_PUT[] =
    "redis.call('DEL', KEYS[1]) "
    "if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end "
    "return 1";
static const char SCRIPT_UPDATE[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end "
    "return 1";
/* ARGV: field, nfrom, from..., then field/value pairs. */
static const char SCRIPT_TRANSITION[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if not cur then return -1 end "
    "local nfrom = tonumber(ARGV[2]) "
    "local ok = (nfrom == 0) "
    "for i = 3, 2 + nfrom do if ARGV[i] == cur then ok = true end end "
    "if not ok then return 0 end "
    "local rest = {} "
    "for i = 3 + nfrom, #ARGV do rest[#rest + 1] = ARGV[i] end "
    "if #rest > 0 then redis.call('HSET', KEYS[1], unpack(rest)) end "
    "return 1";

typedef struct {
  const char **argv;
  size_t *lens;
  char **owned; /* texts we allocated */
  int argc, cap, nowned;
} argv_t;

static int argv_push(argv_t *a, const char *s, size_t len, int owned) {
  if (a->argc == a->cap) {
    int cap = a->cap ? a->cap * 2 : 16;
    const char **argv = realloc(a->argv, (size_t)cap * sizeof(*argv));
    if (argv == NULL)
      return ACTOR_ENOMEM;
    a->argv = argv;
    size_t *lens = realloc(a->lens, (size_t)cap * sizeof(*lens));
    if (lens == NULL)
      return ACTOR_ENOMEM;
    a->lens = lens;
    char **ow = realloc(a->owned, (size_t)cap * sizeof(*ow));
    if (ow == NULL)
      return ACTOR_ENOMEM;
    a->owned = ow;
    a->cap = cap;
  }
  a->argv[a->argc] = s;
  a->lens[a->argc] = len;
  a->argc++;
  if (owned)
    a->owned[a->nowned++] = (char *)s;
  return 0;
}

static void argv_free(argv_t *a) {
  for (int i = 0; i < a->nowned; i++)
    free(a->owned[i]);
  free(a->argv);
  free(a->lens);
  free(a->owned);
}

/* Appends field/value pairs of obj, values as compact JSON. */
static int argv_push_fields(argv_t *a, const json_t *obj) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
      return ACTOR_ENOMEM;
    if (argv_push(a, k, strlen(k), 0) != 0 || argv_push(a, text, strlen(text), 1) != 0) {
      free(text);
      return ACTOR_ENOMEM;
    }
  }
  return 0;
}

static int run_script(store_redis_t *r, const char *script, argv_t *a, long long *result) {
  (void)script;
  return store__redis_integer(store_redis_cmdargv(r, a->argc, a->argv, a->lens), "EVAL (record)",
                              a->argv[3], result);
}

static int eval_prefix(argv_t *a, const char *script, const char *key) {
  if (argv_push(a, "EVAL", 4, 0) || argv_push(a, script, strlen(script), 0) ||
      argv_push(a, "1", 1, 0) || argv_push(a, key, strlen(key), 0))
    return ACTOR_ENOMEM;
  return 0;
}

/* A field's value: its JSON text decoded; text not written by us is kept
 * as a string. New reference. */
static json_t *field_value(const redisReply *v) {
  json_t *val = json_loadb(v->str, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  return val ? val : json_stringn(v->str, v->len);
}

json_t *store__record_of_reply(const redisReply *reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
    return NULL;
  json_t *obj = json_object();
  for (size_t i = 0; obj && i + 1 < reply->elements; i += 2)
    if (reply->element[i]->type == REDIS_REPLY_STRING &&
        reply->element[i + 1]->type == REDIS_REPLY_STRING)
      json_object_set_new(obj, reply->element[i]->str, field_value(reply->element[i + 1]));
  return obj;
}

int store_record_get(store_redis_t *r, const char *key, json_t **out) {
  redisReply *reply = store_redis_cmd(r, "HGETALL %s", key);
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HGETALL", key);
  if (rc != 0)
    goto cleanup;
  if (reply->elements == 0) {
    rc = ACTOR_ENOTFOUND;
    goto cleanup;
  }
  json_t *obj = json_object();
  if (obj == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  for (size_t i = 0; i + 1 < reply->elements; i += 2)
    json_object_set_new(obj, reply->element[i]->str, field_value(reply->element[i + 1]));
  *out = obj;
cleanup:
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_record_fields(store_redis_t *r, const char *key, const char *const *fields,
                        json_t **out) {
  argv_t a = {0};
  redisReply *reply = NULL;
  json_t *obj = NULL;
  int rc = argv_push(&a, "HMGET", 5, 0);
  if (rc == 0)
    rc = argv_push(&a, key, strlen(key), 0);
  for (size_t i = 0; rc == 0 && fields[i]; i++)
    rc = argv_push(&a, fields[i], strlen(fields[i]), 0);
  if (rc != 0)
    goto cleanup;
  reply = store_redis_cmdargv(r, a.argc, a.argv, a.lens);
  rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HMGET", key);
  if (rc == 0 && reply->elements != (size_t)a.argc - 2)
    rc = store__redis_expect(reply, -1, "HMGET", key); /* not one value per field */
  if (rc != 0)
    goto cleanup;
  if ((obj = json_object()) == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  for (size_t i = 0; i < reply->elements; i++)
    if (reply->element[i]->type == REDIS_REPLY_STRING)
      json_object_set_new(obj, fields[i], field_value(reply->element[i]));
  if (json_object_size(obj) == 0) {
    rc = ACTOR_ENOTFOUND;
    goto cleanup;
  }
  *out = obj;
  obj = NULL;
cleanup:
  json_decref(obj);
  if (reply)
    freeReplyObject(reply);
  argv_free(&a);
  return rc;
}

/* HMGET key fields...: argv of n + 2 words (the strings are borrowed). */
static const char **hmget_argv(const char *key, const char *const *fields, int *argc) {
  size_t n = 0;
  while (fields[n])
    n++;
  const char **argv = calloc(n + 2, sizeof(*argv));
  if (argv == NULL)
    return NULL;
  argv[0] = "HMGET";
  argv[1] = key;
  memcpy(argv + 2, fields, n * sizeof(*argv));
  *argc = (int)n + 2;
  return argv;
}

/* The HMGET reply of a record's fields as an object (ENOTFOUND: none). */
static int record_fields_of(const redisReply *reply, const char *key, const char *const *fields,
                            size_t n, json_t **out) {
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HMGET", key);
  if (rc == 0 && reply->elements != n)
    rc = store__redis_expect(reply, -1, "HMGET", key); /* not one value per field */
  if (rc != 0)
    return rc;
  json_t *obj = json_object();
  if (obj == NULL)
    return ACTOR_ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (reply->element[i]->type == REDIS_REPLY_STRING &&
        json_object_set_new(obj, fields[i], field_value(reply->element[i])) != 0) {
      json_decref(obj);
      return ACTOR_ENOMEM;
    }
  if (json_object_size(obj) == 0) {
    json_decref(obj);
    return ACTOR_ENOTFOUND;
  }
  *out = obj;
  return 0;
}

/* The HMGET reply of a plain hash's fields: their values as strings. */
static int hash_fields_of(const redisReply *reply, const char *key, const char *const *fields,
                          size_t n, json_t **out) {
  int rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HMGET", key);
  if (rc == 0 && reply->elements != n)
    rc = store__redis_expect(reply, -1, "HMGET", key);
  if (rc != 0)
    return rc;
  json_t *obj = json_object();
  if (obj == NULL)
    return ACTOR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const redisReply *v = reply->element[i];
    if (v->type == REDIS_REPLY_STRING &&
        json_object_set_new(obj, fields[i], json_stringn(v->str, v->len)) != 0) {
      json_decref(obj);
      return ACTOR_ENOMEM;
    }
  }
  *out = obj;
  return 0;
}

int store_record_fields_and_hash(store_redis_t *r, const char *key, const char *const *fields,
                                 json_t **out, const char *hkey, const char *const *hfields,
                                 json_t **hout) {
  *out = NULL;
  *hout = NULL;
  int argc[2] = {0, 0};
  const char **argv[2] = {hmget_argv(key, fields, &argc[0]), hmget_argv(hkey, hfields, &argc[1])};
  redisReply *replies[2] = {NULL, NULL};
  int rc = argv[0] && argv[1] ? 0 : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store__redis_pipeline_mixed(r, 2, argc, (const char *const *const *)argv, replies);
  if (rc == 0)
    rc = hash_fields_of(replies[1], hkey, hfields, (size_t)argc[1] - 2, hout);
  if (rc == 0) {
    rc = record_fields_of(replies[0], key, fields, (size_t)argc[0] - 2, out);
    if (rc != 0) {
      json_decref(*hout);
      *hout = NULL;
    }
  }
  for (int i = 0; i < 2; i++) {
    if (replies[i])
      freeReplyObject(replies[i]);
    free(argv[i]);
  }
  return rc;
}

/* Runs script on key with the fields of obj; *res gets its result. */
static int run_fields_script(store_redis_t *r, const char *script, const char *key,
                             const json_t *obj, long long *res) {
  argv_t a = {0};
  int rc = eval_prefix(&a, script, key);
  if (rc == 0)
    rc = argv_push_fields(&a, obj);
  if (rc == 0)
    rc = run_script(r, script, &a, res);
  argv_free(&a);
  return rc;
}

int store_record_put(store_redis_t *r, const char *key, const json_t *obj) {
  long long res = 0;
  return run_fields_script(r, SCRIPT_PUT, key, obj, &res);
}

int store_record_update(store_redis_t *r, const char *key, const json_t *fields) {
  long long res = 0;
  int rc = run_fields_script(r, SCRIPT_UPDATE, key, fields, &res);
  if (rc == 0 && res == 0)
    return ACTOR_ENOTFOUND;
  return rc;
}

int store_record_transition(store_redis_t *r, const char *key, const char *field,
                            const char *const *from, const json_t *fields) {
  argv_t a = {0};
  long long res = 0;
  char nbuf[16];
  int nfrom = 0;
  while (from && from[nfrom])
    nfrom++;
  snprintf(nbuf, sizeof(nbuf), "%d", nfrom);
  int rc = eval_prefix(&a, SCRIPT_TRANSITION, key);
  if (rc == 0)
    rc = argv_push(&a, field, strlen(field), 0);
  if (rc == 0)
    rc = argv_push(&a, nbuf, strlen(nbuf), 0);
  for (int i = 0; rc == 0 && i < nfrom; i++) {
    json_t *s = json_string(from[i]);
    char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    json_decref(s);
    if (text == NULL || argv_push(&a, text, strlen(text), 1) != 0) {
      free(text);
      rc = ACTOR_ENOMEM;
    }
  }
  if (rc == 0)
    rc = argv_push_fields(&a, fields);
  if (rc == 0)
    rc = run_script(r, SCRIPT_TRANSITION, &a, &res);
  argv_free(&a);
  if (rc != 0)
    return rc;
  if (res < 0)
    return ACTOR_ENOTFOUND;
  return res == 0 ? ACTOR_ESTATE : 0;
}

int store_record_delete(store_redis_t *r, const char *key) {
  return store__redis_integer(store_redis_cmd(r, "DEL %s", key), "DEL", key, NULL);
}
