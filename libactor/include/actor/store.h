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
 * integers are int64, reals are doubles; other BSON types as extended
 * JSON, see src/store_int.h).
 *
 * hiredis writes with write(2): a process using the store must ignore
 * SIGPIPE (every service does in main).
 *
 * Opaque, like libuv's include/uv.h: no public header of libactor includes
 * hiredis, libbson, mongo-c, libcurl, libmicrohttpd or OpenSSL, or shows
 * their types; the raw layer (redisReply, bson_t) lives in src/store_int.h
 * and only libactor uses it. Services get typed operations: records
 * (store_record.h), the models (model.h), sets, string hashes, counters,
 * lists and leases (store_kv.h). Two third-party types are public on
 * purpose: jansson's json_t is the project's JSON value (documents go in and
 * out as json_t) and libuv's uv_loop_t its event loop.
 *
 * One error rule for every store call (Redis and MongoDB alike):
 *   ACTOR_ECONN     no answer: the server cannot be reached, the connection
 *                   was lost, or no reply came in time;
 *   ACTOR_ESTORE    the server answered, but with an error, or with a reply
 *                   of a type the operation does not expect (a key of the
 *                   wrong type, say); logged;
 *   ACTOR_ENOTFOUND the key (or field, or document) is absent, only where a
 *                   miss means something to the caller; a listing of an
 *                   absent set or hash is simply empty.
 * Both ECONN and ESTORE mean "the store failed": a caller that only cares
 * about that treats them alike (the api answers 503 for either). */
#ifndef ACTOR_STORE_H
#define ACTOR_STORE_H

#include "actor/errors.h"

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
/* A hook the batch's leader runs with the batch's documents (an array)
 * before it writes them; a non-zero return fails the whole batch with that
 * code, and nothing is inserted. Set it before the first insert. */
void store_batch_set_before(store_batch_t *b, int (*fn)(const json_t *docs, void *ud), void *ud);
/* A hook the leader runs after the write with the documents of the batch
 * that were not inserted (an array, never empty; a document refused
 * because its _id exists is not among them): e.g. to undo what the before
 * hook did for them. Set it before the first insert. */
void store_batch_set_after(store_batch_t *b, void (*fn)(const json_t *failed, void *ud),
                           void *ud);

/* *out: the first matching document or ACTOR_ENOTFOUND. projection may be NULL. */
ACTOR_MUST_CHECK int store_mongo_find_one(store_mongo_t *m, const char *coll, const json_t *filter,
                                          const json_t *projection, json_t **out);
/* The same, a document at a time (never the whole answer in memory): fn
 * gets each (borrowed); a non-zero return from fn stops and is returned. */
ACTOR_MUST_CHECK
int store_mongo_find_each(store_mongo_t *m, const char *coll, const json_t *filter,
                          const json_t *opts, int (*fn)(const json_t *doc, void *ud), void *ud);
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

#endif
