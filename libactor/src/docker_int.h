/* Shared by docker.c (the client) and docker_parse.c (the parsers):
 * private to the Docker Engine API client. */
#ifndef ACTOR_DOCKER_INT_H
#define ACTOR_DOCKER_INT_H

#include <stddef.h>

#include "actor/docker.h"

/* Appends n bytes, keeping at most b->max (0 = no limit) and data
 * NUL-terminated. Sets truncated when bytes were dropped for max, nomem when
 * memory ran out. */
void dkr__buf_append(dkr_buf_t *b, const void *p, size_t n);
/* Whether the 8 bytes at h are a stream frame header. */
int dkr__header_ok(const unsigned char *h);
/* The payload length of the frame header at h. */
size_t dkr__frame_len(const unsigned char *h);

#endif
