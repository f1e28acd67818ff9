/* The verified-token cache.
 *
 * Design note. A fixed table of capacity entries split into sets of
 * AUTH_CACHE_WAYS; the first 8 bytes of the digest pick the set. A lookup
 * compares at most 8 digests, an insert takes the same digest, else a free
 * or expired way, else the way inserted longest ago. So memory is bounded
 * (a live entry holds a malloc'd copy of the identity up to the end of its
 * role list: a few hundred bytes usually, 12 KiB at most) and every
 * operation is O(1) under one mutex that is never held across crypto: the
 * verification itself runs outside the lock, so two threads that miss on
 * the same token both verify it and the second put simply replaces the
 * first. The digests are SHA-256 outputs an attacker cannot steer into one
 * set without finding preimages, so set flooding is not a concern. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "auth_int.h"

#define AUTH_CACHE_WAYS 8

typedef struct {
  unsigned char digest[32];
  int64_t expires; /* 0: free way */
  uint64_t stamp;  /* insertion order */
  unsigned char *id; /* the identity's first `size` bytes (roles last) */
  size_t size;
} cache_entry_t;

#define AUTH_ROLES_AT offsetof(actor_identity_t, roles)

struct actor_jwt_cache_s {
  pthread_mutex_t mu;
  cache_entry_t *e;
  size_t nsets;
  int max_age;
  uint64_t clock, hits, misses;
  size_t live;
};

int actor_jwt_cache_new(size_t capacity, int max_age_s, actor_jwt_cache_t **out) {
  *out = NULL;
  if (capacity == 0)
    capacity = ACTOR_JWT_CACHE_CAPACITY;
  if (max_age_s <= 0)
    max_age_s = ACTOR_JWT_CACHE_MAX_AGE;
  actor_jwt_cache_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return ACTOR_ENOMEM;
  c->nsets = (capacity + AUTH_CACHE_WAYS - 1) / AUTH_CACHE_WAYS;
  c->e = calloc(c->nsets * AUTH_CACHE_WAYS, sizeof(cache_entry_t));
  if (c->e == NULL) {
    free(c);
    return ACTOR_ENOMEM;
  }
  c->max_age = max_age_s;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

void actor_jwt_cache_free(actor_jwt_cache_t *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->nsets * AUTH_CACHE_WAYS; i++)
    free(c->e[i].id);
  free(c->e);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void actor_jwt_cache_stats(actor_jwt_cache_t *c, uint64_t *hits, uint64_t *misses,
                           size_t *entries) {
  pthread_mutex_lock(&c->mu);
  if (hits)
    *hits = c->hits;
  if (misses)
    *misses = c->misses;
  if (entries)
    *entries = c->live;
  pthread_mutex_unlock(&c->mu);
}

static cache_entry_t *set_of(actor_jwt_cache_t *c, const unsigned char digest[32]) {
  uint64_t h;
  memcpy(&h, digest, sizeof(h));
  return c->e + (h % c->nsets) * AUTH_CACHE_WAYS;
}

static void drop(actor_jwt_cache_t *c, cache_entry_t *e) {
  free(e->id);
  e->id = NULL;
  e->expires = 0;
  c->live--;
}

int actor__jwt_cache_get(actor_jwt_cache_t *c, const unsigned char digest[32], int64_t now,
                         actor_identity_t *out) {
  int found = 0;
  pthread_mutex_lock(&c->mu);
  cache_entry_t *set = set_of(c, digest);
  for (int i = 0; i < AUTH_CACHE_WAYS; i++) {
    cache_entry_t *e = &set[i];
    if (e->expires == 0 || memcmp(e->digest, digest, 32) != 0)
      continue;
    if (e->expires <= now) {
      drop(c, e);
      break;
    }
    memcpy(out, e->id, e->size);
    found = 1;
    break;
  }
  if (found)
    c->hits++;
  else
    c->misses++;
  pthread_mutex_unlock(&c->mu);
  return found;
}

void actor__jwt_cache_put(actor_jwt_cache_t *c, const unsigned char digest[32], int64_t now,
                          const actor_identity_t *id) {
  int64_t expires = now + c->max_age;
  if (id->exp != 0 && id->exp < expires)
    expires = id->exp;
  if (expires <= now)
    return;
  size_t size = AUTH_ROLES_AT + strnlen(id->roles, sizeof(id->roles) - 1) + 1;
  unsigned char *copy = malloc(size);
  if (copy == NULL)
    return; /* the cache is only an optimisation */
  memcpy(copy, id, size - 1);
  copy[size - 1] = '\0';
  pthread_mutex_lock(&c->mu);
  cache_entry_t *set = set_of(c, digest), *slot = NULL;
  for (int i = 0; i < AUTH_CACHE_WAYS && slot == NULL; i++)
    if (set[i].expires != 0 && memcmp(set[i].digest, digest, 32) == 0)
      slot = &set[i];
  for (int i = 0; i < AUTH_CACHE_WAYS && slot == NULL; i++)
    if (set[i].expires == 0 || set[i].expires <= now)
      slot = &set[i];
  if (slot == NULL) {
    slot = &set[0];
    for (int i = 1; i < AUTH_CACHE_WAYS; i++)
      if (set[i].stamp < slot->stamp)
        slot = &set[i];
  }
  if (slot->expires != 0)
    drop(c, slot);
  memcpy(slot->digest, digest, 32);
  slot->expires = expires;
  slot->stamp = ++c->clock;
  slot->id = copy;
  slot->size = size;
  c->live++;
  pthread_mutex_unlock(&c->mu);
}
