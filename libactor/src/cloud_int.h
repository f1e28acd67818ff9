/* Private to libactor's cloud_*.c files: key buffers and small helpers
 * shared by the instance, catalog and metrics code (cloud.h). */
#ifndef ACTOR_CLOUD_INT_H
#define ACTOR_CLOUD_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "actor/store.h"

#define CLOUD_MODULE "cloud"
#define CLOUD_KEY_MAX 512
/* Keys per pipelined round trip (and the SSCAN COUNT hint). */
#define CLOUD_PAGE 1000

/* snprintf into a CLOUD_KEY_MAX buffer: 0 or ACTOR_ETOOBIG. */
int cloud__key(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* [A-Za-z0-9_.-]{1,max} */
bool cloud__name_ok(const char *s, size_t max);
/* Whole records of many keys, pipelined in pages of CLOUD_PAGE: appends
 * the present ones to arr; *absent (may be NULL) gets a new array of the
 * indexes (into keys) of the absent ones. */
int cloud__records_of(store_redis_t *r, const char *const *keys, size_t n, json_t *arr,
                      json_t **absent);

#endif
