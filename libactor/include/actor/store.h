/* The stores. Redis (hiredis) holds live state; MongoDB (mongo-c-driver)
 * holds executions, logs and accounting.
 *
 * Redis: a small pool of blocking connections rather than hiredis' async
 * libuv adapter. Every service calls the store from libuv's thread pool (the
 * same place it calls MongoDB and Docker, which have no async API), so a
 * blocking pool keeps one calling convention, lets a request run
 * WATCH/MULTI transactions in straight-line code, and needs no callback
 * chains; the pool is as large as the thread pool, so a call never waits
 * for a connection. A broken connection is dropped and re-dialled on the
 * next call (one retry), so the store reconnects by itself.
 *
 * MongoDB: mongoc_client_pool_t (thread safe, reconnecting); documents go in
 * and out as jansson objects (through canonical extended JSON). */
#ifndef ACTOR_STORE_H
#define ACTOR_STORE_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>

struct actor_config_s;

/* ---- Redis ---- */
typedef struct store_redis_s store_redis_t;

/* From [store] redis_url or redis_host/redis_port/redis_password. */
int store_redis_new(const struct actor_config_s *cfg, size_t pool_size, store_redis_t **out);
void store_redis_free(store_redis_t *r);
/* Runs one command (printf-like, hiredis format). Returns a reply the caller
 * frees with freeReplyObject(), or NULL when the server cannot be reached
 * (logged). A REDIS_REPLY_ERROR reply is returned as is. */
redisReply *store_redis_cmd(store_redis_t *r, const char *fmt, ...);
redisReply *store_redis_cmdargv(store_redis_t *r, int argc, const char **argv,
                                const size_t *argvlen);
/* Borrow one connection for a multi-command sequence (WATCH/MULTI/EXEC).
 * Returns NULL if none can be made. Give it back with store_redis_release;
 * broken=1 closes it instead of pooling it. */
redisContext *store_redis_acquire(store_redis_t *r);
void store_redis_release(store_redis_t *r, redisContext *c, int broken);

/* JSON documents in hashes: HGET/HSET of compact JSON text. */
int store_redis_hget_json(store_redis_t *r, const char *key, const char *field, json_t **out);
int store_redis_hset_json(store_redis_t *r, const char *key, const char *field, const json_t *v);
int store_redis_hdel(store_redis_t *r, const char *key, const char *field);
/* All values of a hash as a JSON array of objects (new reference). */
int store_redis_hvals_json(store_redis_t *r, const char *key, json_t **out);

/* ---- MongoDB ---- */
typedef struct store_mongo_s store_mongo_t;

/* From [store] mongo_url or mongo_host/mongo_port/mongo_user/mongo_password;
 * database [store] mongo_db (default "abaco"). */
int store_mongo_new(const struct actor_config_s *cfg, store_mongo_t **out);
void store_mongo_free(store_mongo_t *m);
int store_mongo_ping(store_mongo_t *m);

/* Documents are json objects. Integers stay int64. */
int store_mongo_insert(store_mongo_t *m, const char *coll, const json_t *doc);
/* *out: the first matching document or ACTOR_ENOTFOUND. projection may be NULL. */
int store_mongo_find_one(store_mongo_t *m, const char *coll, const json_t *filter,
                         const json_t *projection, json_t **out);
/* opts as mongoc find opts ({"sort":..., "skip":..., "limit":..., "projection":...}); *out array. */
int store_mongo_find(store_mongo_t *m, const char *coll, const json_t *filter,
                     const json_t *opts, json_t **out);
/* update is an update document ({"$set": {...}}). upsert=1 inserts if absent.
 * *matched (may be NULL) gets the matched count. */
int store_mongo_update(store_mongo_t *m, const char *coll, const json_t *filter,
                       const json_t *update, int upsert, long long *matched);
int store_mongo_delete(store_mongo_t *m, const char *coll, const json_t *filter,
                       long long *deleted);
int store_mongo_count(store_mongo_t *m, const char *coll, const json_t *filter,
                      long long *count);

#endif
