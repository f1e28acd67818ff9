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
 * and out as jansson objects, converted to and from BSON directly (JSON
 * integers are int64, reals are doubles; see store_mongo_bson_to_json for
 * the other BSON types).
 *
 * hiredis writes with write(2): a process using the store must ignore
 * SIGPIPE (every service does in main). */
#ifndef ACTOR_STORE_H
#define ACTOR_STORE_H

#include "actor/errors.h"

#include <bson/bson.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>

struct actor_config_s;

/* ---- Redis ---- */
typedef struct store_redis_s store_redis_t;

/* From [store] redis_url (redis://[[user]:password@]host[:port][/db]) or
 * redis_host/redis_port/redis_password/redis_db (a redis_host starting with
 * '/' is a unix socket). pool_size (0: 8) is how many idle connections are
 * kept; connections are dialled lazily, so this never fails because the
 * server is down. *out is owned by the caller. */
ACTOR_MUST_CHECK
int store_redis_new(const struct actor_config_s *cfg, size_t pool_size, store_redis_t **out);
void store_redis_free(store_redis_t *r);
/* Runs one command (printf-like, hiredis format). Returns a reply the caller
 * frees with freeReplyObject(), or NULL when the server cannot be reached
 * (logged). A REDIS_REPLY_ERROR reply is returned as is. */
redisReply *store_redis_cmd(store_redis_t *r, const char *fmt, ...);
redisReply *store_redis_cmdargv(store_redis_t *r, int argc, const char **argv,
                                const size_t *argvlen);
/* For commands whose answer does not matter beyond success: frees the reply
 * and returns 0, ACTOR_ECONN (NULL: unreachable) or ACTOR_ESTORE (an error
 * reply). Use as store_redis_reply_rc(store_redis_cmd(...)). */
ACTOR_MUST_CHECK int store_redis_reply_rc(redisReply *rep);
/* Borrow one connection for a multi-command sequence (WATCH/MULTI/EXEC).
 * Returns NULL if none can be made (logged). Give it back with
 * store_redis_release; broken=1 closes it instead of pooling it: pass 1
 * unless the sequence ended cleanly (after EXEC, DISCARD or UNWATCH, no
 * unread replies, no SELECT). A connection with c->err set is always
 * closed. */
redisContext *store_redis_acquire(store_redis_t *r);
void store_redis_release(store_redis_t *r, redisContext *c, int broken);

/* JSON documents in hashes: HGET/HSET of compact JSON text. Errors:
 * ACTOR_ECONN (server unreachable), ACTOR_ESTORE (error reply), and for
 * hget ACTOR_ENOTFOUND (no such field) or ACTOR_EPARSE (not JSON).
 * hget's *out is a new reference. */
ACTOR_MUST_CHECK
int store_redis_hget_json(store_redis_t *r, const char *key, const char *field, json_t **out);
ACTOR_MUST_CHECK
int store_redis_hset_json(store_redis_t *r, const char *key, const char *field, const json_t *v);
/* 0 when the field was removed, ACTOR_ENOTFOUND when it was not there. */
ACTOR_MUST_CHECK int store_redis_hdel(store_redis_t *r, const char *key, const char *field);
/* All values of a hash as a JSON array (new reference; empty when the key
 * does not exist). Values that are not JSON are skipped with a warning. */
ACTOR_MUST_CHECK int store_redis_hvals_json(store_redis_t *r, const char *key, json_t **out);

/* ---- MongoDB ----
 * FerretDB v1 (SQLite) measured here: only _id lookups use an index (about
 * 1800 find_one/s); any other filter scans the collection (about 25/s over
 * 1000 documents), so key hot documents by _id. It cannot store arrays of
 * arrays (ACTOR_EINVAL). */
typedef struct store_mongo_s store_mongo_t;

/* From [store] mongo_url or mongo_host/mongo_port/mongo_user/mongo_password;
 * database [store] mongo_db (default: the URL's database, else "abaco").
 * Unless the URL sets them, serverSelectionTimeoutMS=3000,
 * connectTimeoutMS=2000 and socketTimeoutMS=60000, so an unreachable server
 * fails a call with ACTOR_ECONN in about 3 s instead of hanging. Connects
 * lazily: only a bad URL fails here (ACTOR_ECONFIG). */
ACTOR_MUST_CHECK int store_mongo_new(const struct actor_config_s *cfg, store_mongo_t **out);
void store_mongo_free(store_mongo_t *m);
/* Releases the driver's global state (mongoc_cleanup). Call at process exit,
 * after every store_mongo_free (also when no store was made: the driver may
 * have initialised itself); no store_mongo_new afterwards. */
void store_mongo_cleanup(void);
/* The database name in use (borrowed, valid while m lives). */
const char *store_mongo_db(const store_mongo_t *m);
ACTOR_MUST_CHECK int store_mongo_ping(store_mongo_t *m);

/* All calls: 0, or ACTOR_ECONN (server unreachable), ACTOR_EINVAL (bad
 * document or operator), ACTOR_EEXIST (duplicate key), ACTOR_ESTORE (other
 * server errors); failures other than ENOTFOUND/EEXIST are logged.
 * Documents are json objects (borrowed); results are new references.
 * Integers stay int64. */
ACTOR_MUST_CHECK int store_mongo_insert(store_mongo_t *m, const char *coll, const json_t *doc);
/* Inserts an array of documents in one unordered insert. The return code
 * concerns the whole batch (e.g. ACTOR_ECONN); results[i] (n entries)
 * gets each document's own outcome (0, or ACTOR_EEXIST for a duplicate). */
ACTOR_MUST_CHECK
int store_mongo_insert_many(store_mongo_t *m, const char *coll, const json_t *docs, int *results);

/* Group commit: concurrent store_batch_insert() calls from many threads are
 * written together in one insert_many. The first caller to find no write
 * in progress becomes the leader and writes everything queued so far;
 * the others wait and are woken with their own document's outcome. No
 * timer, so a lone caller pays no extra latency, while under load the
 * number of round trips drops by the batch size. */
typedef struct store_batch_s store_batch_t;
ACTOR_MUST_CHECK
int store_batch_new(store_mongo_t *m, const char *coll, size_t max_batch, store_batch_t **out);
void store_batch_free(store_batch_t *b);
/* Blocks until the document is written (or failed). Thread safe. */
ACTOR_MUST_CHECK int store_batch_insert(store_batch_t *b, const json_t *doc);
/* Batches and documents written so far (for metrics and tests). */
void store_batch_stats(store_batch_t *b, unsigned long long *batches, unsigned long long *docs);

/* *out: the first matching document or ACTOR_ENOTFOUND. projection may be NULL. */
ACTOR_MUST_CHECK int store_mongo_find_one(store_mongo_t *m, const char *coll, const json_t *filter,
                                          const json_t *projection, json_t **out);
/* opts as mongoc find opts ({"sort":..., "skip":..., "limit":..., "projection":...}); *out array.
 */
ACTOR_MUST_CHECK
int store_mongo_find(store_mongo_t *m, const char *coll, const json_t *filter, const json_t *opts,
                     json_t **out);
/* update is an update document ({"$set": {...}}) applied to every matching
 * document (updateMany). upsert=1 inserts if absent. *matched (may be NULL)
 * gets the matched count (0 after an upsert inserted). */
ACTOR_MUST_CHECK int store_mongo_update(store_mongo_t *m, const char *coll, const json_t *filter,
                                        const json_t *update, int upsert, long long *matched);
/* Deletes every matching document; filter must not be NULL ({} is all). */
ACTOR_MUST_CHECK int store_mongo_delete(store_mongo_t *m, const char *coll, const json_t *filter,
                                        long long *deleted);
/* filter NULL counts all documents. */
ACTOR_MUST_CHECK
int store_mongo_count(store_mongo_t *m, const char *coll, const json_t *filter, long long *count);
/* findAndModify of the first matching document: *out (may be NULL) gets the
 * document after the update (return_new=1) or before it.
 * ACTOR_ENOTFOUND when nothing matched and upsert=0 (or, with return_new=0,
 * when the upsert inserted). */
ACTOR_MUST_CHECK
int store_mongo_find_and_modify(store_mongo_t *m, const char *coll, const json_t *filter,
                                const json_t *update, int upsert, int return_new, json_t **out);
/* pipeline: a JSON array of stages; *out: the array of results. FerretDB
 * v1.24 computes only the first accumulator of a $group (the others come
 * back 0): use one accumulator per $group. */
ACTOR_MUST_CHECK
int store_mongo_aggregate(store_mongo_t *m, const char *coll, const json_t *pipeline, json_t **out);
/* createIndexes for one index. keys: {"field": 1, ...}; opts (may be NULL)
 * are merged into the index spec ({"expireAfterSeconds": 0, "unique": true,
 * "name": ...}; the name defaults to field_1_...). FerretDB v1 refuses TTL
 * indexes: that is ACTOR_ESTORE, logged as a warning only. */
ACTOR_MUST_CHECK
int store_mongo_create_index(store_mongo_t *m, const char *coll, const json_t *keys,
                             const json_t *opts);
/* Drops the whole database (tests). */
ACTOR_MUST_CHECK int store_mongo_drop_database(store_mongo_t *m);

/* JSON <-> BSON, exact for the JSON types: integers <-> int64 (int32 is read
 * as an integer too), reals <-> double, strings, booleans, null, objects,
 * arrays. A single-key object naming an extended-JSON type goes in as that
 * type: {"$oid": "<24 hex>"} an ObjectId, {"$date": <ms since the epoch>}
 * a date, others ({"$numberDecimal": ...}, {"$binary": ...}, ...) as libbson
 * reads extended JSON. Out, an ObjectId is {"$oid": "<hex>"}, a date
 * {"$date": <ms>} and every other BSON type its canonical extended JSON, so
 * what comes out goes back in unchanged. Nesting is limited to 100 levels
 * (ACTOR_ETOOBIG).
 *
 * Appends the members of obj (a JSON object) to out, an initialised bson_t
 * owned by the caller. ACTOR_EINVAL if obj is not an object, a key holds a
 * NUL, or an extended-JSON value is malformed. */
ACTOR_MUST_CHECK int store_mongo_json_to_bson(const json_t *obj, bson_t *out);
/* *out: a new JSON object. ACTOR_EPARSE on corrupt BSON or a string that is
 * not UTF-8. */
ACTOR_MUST_CHECK int store_mongo_bson_to_json(const bson_t *doc, json_t **out);

#endif
