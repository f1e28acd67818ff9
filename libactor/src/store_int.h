/* Private to libactor: the raw Redis and BSON layer under the typed store
 * operations (store.h, store_kv.h, store_record.h, model.h). Only files in
 * libactor/src (and the store's own unit tests) include this header; a
 * service never sees a redisReply, a redisContext or a bson_t. */
#ifndef ACTOR_STORE_INT_H
#define ACTOR_STORE_INT_H

#include <bson/bson.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "actor/store.h"

/* ---- Redis ---- */

/* Runs one command (printf-like, hiredis format). Returns a reply the caller
 * frees with freeReplyObject(), or NULL when the server cannot be reached
 * (logged). A REDIS_REPLY_ERROR reply is returned as is. */
redisReply *store_redis_cmd(store_redis_t *r, const char *fmt, ...);
redisReply *store_redis_cmdargv(store_redis_t *r, int argc, const char **argv,
                                const size_t *argvlen);
/* The store's error rule (store.h) applied to one reply, which it does not
 * free: 0 when the reply has the given type (REDIS_REPLY_*); ACTOR_ECONN
 * when there is no reply; ACTOR_ESTORE (logged with what and key) for an
 * error reply or another type. */
int store__redis_expect(const redisReply *reply, int type, const char *what, const char *key);
/* The same, consuming the reply (freed here): an integer reply into *out
 * (may be NULL); an array reply as a JSON array of its string elements. */
int store__redis_integer(redisReply *reply, const char *what, const char *key, long long *out);
int store__redis_strings(redisReply *reply, const char *what, const char *key, json_t **out);
/* For commands whose answer does not matter beyond success: frees the reply
 * and returns 0, ACTOR_ECONN (NULL: unreachable) or ACTOR_ESTORE (an error
 * reply). Use as store_redis_reply_rc(store_redis_cmd(...)). */
int store_redis_reply_rc(redisReply *rep);
/* n commands of different lengths (argv[i] has argc[i] words) written
 * together on one borrowed connection, then their n replies read: one
 * round trip. replies[i] (freed by the caller; an error reply is returned
 * as is); ACTOR_ECONN (no reply kept) when the connection failed. */
int store__redis_pipeline_mixed(store_redis_t *r, size_t n, const int *argc,
                                const char *const *const *argv, redisReply **replies);
/* Borrow one connection for a multi-command sequence (WATCH/MULTI/EXEC,
 * pipelines). Returns NULL if none can be made (logged). Give it back with
 * store_redis_release; broken=1 closes it instead of pooling it: pass 1
 * unless the sequence ended cleanly (after EXEC, DISCARD or UNWATCH, no
 * unread replies, no SELECT). A connection with c->err set is always
 * closed. */
redisContext *store_redis_acquire(store_redis_t *r);
void store_redis_release(store_redis_t *r, redisContext *c, int broken);
/* Runs n commands of argc words each (argv: n * argc words) on one
 * connection in one round trip. replies[i] (caller frees each non-NULL one)
 * is NULL for a command that got no reply; the return is ACTOR_ECONN when
 * the connection broke, else 0. */
/* A record (store_record.h) from an HGETALL reply: a new object, or NULL
 * when the reply is empty (no such key), not an array, or memory ran out. */
json_t *store__record_of_reply(const redisReply *reply);
int store__redis_pipeline(store_redis_t *r, int argc, const char **argv, size_t n,
                          redisReply **replies);

/* ---- BSON ----
 * JSON <-> BSON, exact for the JSON types: integers <-> int64 (int32 is read
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
int store_mongo_json_to_bson(const json_t *obj, bson_t *out);
/* *out: a new JSON object. ACTOR_EPARSE on corrupt BSON or a string that is
 * not UTF-8. */
int store_mongo_bson_to_json(const bson_t *doc, json_t **out);
/* Appends v under key; depth counts nesting (bounded). 0 or ACTOR_E*. */
int store__bson_append_json(bson_t *b, const char *key, const json_t *v, int depth);

#endif
