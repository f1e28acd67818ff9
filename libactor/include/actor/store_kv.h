/* Typed Redis operations beside the records (store_record.h): sets, hashes
 * of plain strings, counters, capped lists, leases and values with an
 * expiry, a server-side script, and pipelined reads. Every call follows the
 * store's error rule (store.h): ACTOR_ECONN when there is no answer,
 * ACTOR_ESTORE when the server answers with an error or a reply of another
 * type (a key of the wrong type), ACTOR_ENOTFOUND only where noted.
 * Results are new references (JSON) or malloc'd text the caller frees.
 *
 * Implemented one concern per file: store_set.c (sets and keys),
 * store_hash.c (string hashes and counters), store_lease.c (leases,
 * expiring values, scripts, lists), store_pipe.c (pipelined reads). */
#ifndef ACTOR_STORE_KV_H
#define ACTOR_STORE_KV_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor/store.h"

/* ---- sets and keys ---- */
/* SADD; *added (may be NULL): whether member was new. */
ACTOR_MUST_CHECK int store_set_add(store_redis_t *r, const char *key, const char *member, bool *added);
/* SREM; removing an absent member is not an error. */
ACTOR_MUST_CHECK int store_set_remove(store_redis_t *r, const char *key, const char *member);
/* SMEMBERS as a JSON array of strings (empty when the set is absent). */
ACTOR_MUST_CHECK int store_set_members(store_redis_t *r, const char *key, json_t **out);
/* SCARD (0 when the set is absent). */
ACTOR_MUST_CHECK int store_set_count(store_redis_t *r, const char *key, long long *out);
/* One SSCAN page (COUNT 100) from *cursor, which gets the next cursor
 * (0: done); *out: the members of this page. */
ACTOR_MUST_CHECK int store_set_scan(store_redis_t *r, const char *key, unsigned long long *cursor, json_t **out);
/* The same with SSCAN's COUNT hint (how much work per page; a page may
 * hold more or fewer members). */
ACTOR_MUST_CHECK int store_set_scan_count(store_redis_t *r, const char *key,
                                          unsigned long long *cursor, unsigned count,
                                          json_t **out);
/* DEL; *deleted (may be NULL): whether the key existed. */
ACTOR_MUST_CHECK int store_key_delete(store_redis_t *r, const char *key, bool *deleted);
ACTOR_MUST_CHECK int store_key_exists(store_redis_t *r, const char *key, bool *out);

/* SUNIONSTORE dest dest src: adds every member of src to dest; *n (may
 * be NULL): the size of dest after. */
ACTOR_MUST_CHECK int store_set_union_into(store_redis_t *r, const char *dest, const char *src,
                                          long long *n);

/* ---- sorted sets ---- */
/* ZADD key score member (adds, or moves an existing member). */
ACTOR_MUST_CHECK int store_zset_add(store_redis_t *r, const char *key, int64_t score,
                                    const char *member);
/* ZREM; removing an absent member is not an error. */
ACTOR_MUST_CHECK int store_zset_remove(store_redis_t *r, const char *key, const char *member);
/* ZRANGEBYSCORE key -inf max_score LIMIT 0 limit: the members, lowest
 * score first. */
ACTOR_MUST_CHECK int store_zset_upto(store_redis_t *r, const char *key, int64_t max_score,
                                     size_t limit, json_t **out);

/* ---- hashes of plain strings (not JSON: see store_redis_hget_json) ---- */
/* HGET; *out malloc'd (NUL-terminated), ACTOR_ENOTFOUND when absent. */
ACTOR_MUST_CHECK int store_hash_get(store_redis_t *r, const char *key, const char *field, char **out);
/* HSET of len bytes. */
ACTOR_MUST_CHECK int store_hash_set(store_redis_t *r, const char *key, const char *field, const char *value,
                   size_t len);
ACTOR_MUST_CHECK int store_hash_exists(store_redis_t *r, const char *key, const char *field, bool *out);
/* HGETALL as a JSON object of strings, in the server's order ({} when absent). */
ACTOR_MUST_CHECK int store_hash_get_all(store_redis_t *r, const char *key, json_t **out);
/* HMGET of a NULL-terminated list: a JSON object of the fields present. */
ACTOR_MUST_CHECK int store_hash_get_fields(store_redis_t *r, const char *key, const char *const *fields,
                          json_t **out);

/* ---- counters: integer fields of a hash ---- */
/* HINCRBY by; *now (may be NULL) gets the new value. */
ACTOR_MUST_CHECK int store_counter_add(store_redis_t *r, const char *key, const char *field, long long by,
                      long long *now);
/* The value (0 when absent; ACTOR_ESTORE when it is not an integer). */
ACTOR_MUST_CHECK int store_counter_get(store_redis_t *r, const char *key, const char *field, long long *out);

/* ---- leases, expiring values, scripts, lists ---- */
/* A lease is a key holding its owner's token that expires by itself
 * (SET NX PX): *mine tells whether this call took it. */
ACTOR_MUST_CHECK int store_lease_take(store_redis_t *r, const char *key, const char *owner, int64_t hold_ms,
                     bool *mine);
/* Only the owner's token acts: keep_ms > 0 keeps the lease that much longer
 * from now (PEXPIRE), otherwise it is released. A lease held by another
 * owner (or expired) is left alone, and that is not an error. */
ACTOR_MUST_CHECK int store_lease_end(store_redis_t *r, const char *key, const char *owner, int64_t keep_ms);
/* SET key text EX ttl_s. */
ACTOR_MUST_CHECK int store_value_set_ttl(store_redis_t *r, const char *key, const char *text, long ttl_s);
/* GET: *out malloc'd (NUL-terminated), ACTOR_ENOTFOUND when absent. */
ACTOR_MUST_CHECK int store_value_get(store_redis_t *r, const char *key, char **out);
/* EVAL of a script over one key and one argument that returns an integer. */
ACTOR_MUST_CHECK int store_script_int(store_redis_t *r, const char *script, const char *key, const char *arg,
                     long long *out);
/* LPUSH text, then LTRIM to the newest max entries. */
ACTOR_MUST_CHECK int store_list_push_capped(store_redis_t *r, const char *key, const char *text, size_t max);
/* LRANGE 0 max-1: a JSON array of the (newest first) strings. */
ACTOR_MUST_CHECK int store_list_range(store_redis_t *r, const char *key, size_t max, json_t **out);

/* ---- pipelined reads (one round trip for n keys) ----
 * Entry i of *out (an array of n) is for keys[i]: JSON null where that key
 * could not be read (absent, or of another type). The return concerns the
 * whole round trip. */
/* The JSON value of one record field (store_record.h) of each key. */
ACTOR_MUST_CHECK int store_record_field_many(store_redis_t *r, const char *const *keys, size_t n,
                            const char *field, json_t **out);
/* The whole record (store_record.h) of each key, as an object. */
ACTOR_MUST_CHECK int store_record_get_many(store_redis_t *r, const char *const *keys, size_t n,
                                           json_t **out);
/* The members of each set, as arrays of strings. */
ACTOR_MUST_CHECK int store_set_members_many(store_redis_t *r, const char *const *keys, size_t n, json_t **out);

#endif
