/* Records: a Redis hash whose field values are JSON texts, so one field
 * (say `status`) can change atomically without rewriting the others, and
 * a guarded change ("set status to READY only if it is SPAWNER SETUP or
 * UPDATING STORE") is one server-side script: no lost update between the
 * api, spawner, worker and health processes. */
#ifndef ACTOR_STORE_RECORD_H
#define ACTOR_STORE_RECORD_H

#include "actor/errors.h"

#include <jansson.h>

#include "actor/store.h"

/* *out: a new object of all fields, or ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int store_record_get(store_redis_t *r, const char *key, json_t **out);
/* Only the named fields (a NULL-terminated list): a new object of those
 * the record has, or ACTOR_ENOTFOUND when it has none of them (or does not
 * exist). For readers that must not decode a whole record, whose other
 * fields may be large. */
ACTOR_MUST_CHECK
int store_record_fields(store_redis_t *r, const char *key, const char *const *fields,
                        json_t **out);
/* store_record_fields of record `key` and, in the same round trip (one
 * pipelined write, two replies), the named fields of the plain hash `hkey`
 * as strings (*hout: an object of those it has, possibly empty). Either
 * both succeed or neither output is set; ACTOR_ENOTFOUND: the record has
 * none of `fields`. */
ACTOR_MUST_CHECK
int store_record_fields_and_hash(store_redis_t *r, const char *key, const char *const *fields,
                                 json_t **out, const char *hkey, const char *const *hfields,
                                 json_t **hout);
/* Replaces the whole record with the fields of obj. */
ACTOR_MUST_CHECK int store_record_put(store_redis_t *r, const char *key, const json_t *obj);
/* Sets the given fields of an existing record; ACTOR_ENOTFOUND if absent. */
ACTOR_MUST_CHECK int store_record_update(store_redis_t *r, const char *key, const json_t *fields);
/* Sets `fields` only if the record exists and its string field `field` is
 * one of `from` (NULL-terminated; NULL = any). ACTOR_ENOTFOUND if absent,
 * ACTOR_ESTATE if the guard fails. */
ACTOR_MUST_CHECK int store_record_transition(store_redis_t *r, const char *key, const char *field,
                                             const char *const *from, const json_t *fields);
ACTOR_MUST_CHECK int store_record_delete(store_redis_t *r, const char *key);

#endif
