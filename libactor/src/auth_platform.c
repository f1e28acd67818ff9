/* Platform tokens: the Redis side of the tokens clientg issues to workers
 * (the public keys by kid, the per-client revocation keys) and
 * actor_auth_verify, which chooses between the tenant's key and a platform
 * key for one token. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/store_kv.h"
#include "auth_int.h"

/* Keys kept in memory; more kids than this (key rotations) are read from
 * Redis on every use, which is still correct. */
#define AUTH_PLATFORM_KEYS_MAX 32

void actor_client_key(const char *tenant, const char *client_id, char *out, size_t size) {
  snprintf(out, size, "abaco:client:%s:%s", tenant, client_id);
}

int actor_client_active(store_redis_t *r, const char *tenant, const char *client_id) {
  char key[256];
  actor_client_key(tenant, client_id, key, sizeof(key));
  bool active = false;
  int rc = store_key_exists(r, key, &active);
  return rc != 0 ? rc : active;
}

int actor_platform_key_publish(store_redis_t *r, const actor_jwt_key_t *pub) {
  char kid[ACTOR_AUTH_KID_MAX];
  actor_jwt_key_kid(pub, kid);
  return store_hash_set(r, ACTOR_PLATFORM_KEYS_HASH, kid, pub->pem, pub->pem_len);
}

typedef struct {
  char kid[ACTOR_AUTH_KID_MAX];
  actor_jwt_key_t *key;
} pkey_t;

struct actor_platform_keys_s {
  store_redis_t *redis;
  pthread_mutex_t mu;
  pkey_t keys[AUTH_PLATFORM_KEYS_MAX];
  int n;
};

int actor_platform_keys_new(store_redis_t *r, actor_platform_keys_t **out) {
  *out = NULL;
  if (r == NULL)
    return ACTOR_EINVAL;
  actor_platform_keys_t *pk = calloc(1, sizeof(*pk));
  if (pk == NULL)
    return ACTOR_ENOMEM;
  pk->redis = r;
  pthread_mutex_init(&pk->mu, NULL);
  *out = pk;
  return 0;
}

void actor_platform_keys_free(actor_platform_keys_t *pk) {
  if (pk == NULL)
    return;
  for (int i = 0; i < pk->n; i++)
    actor_jwt_key_free(pk->keys[i].key);
  pthread_mutex_destroy(&pk->mu);
  free(pk);
}

static const actor_jwt_key_t *find(actor_platform_keys_t *pk, const char *kid) {
  for (int i = 0; i < pk->n; i++)
    if (strcmp(pk->keys[i].kid, kid) == 0)
      return pk->keys[i].key;
  return NULL;
}

int actor_platform_keys_get(actor_platform_keys_t *pk, const char *kid,
                            const actor_jwt_key_t **out) {
  *out = NULL;
  if (kid == NULL || strlen(kid) >= ACTOR_AUTH_KID_MAX ||
      strncmp(kid, ACTOR_PLATFORM_KID_PREFIX, strlen(ACTOR_PLATFORM_KID_PREFIX)) != 0)
    return ACTOR_ENOTFOUND;
  pthread_mutex_lock(&pk->mu);
  *out = find(pk, kid);
  pthread_mutex_unlock(&pk->mu);
  if (*out != NULL)
    return 0;

  char *pem = NULL;
  actor_jwt_key_t *key = NULL;
  int rc = store_hash_get(pk->redis, ACTOR_PLATFORM_KEYS_HASH, kid, &pem);
  if (rc == 0)
    rc = actor_jwt_key_parse(pem, &key);
  free(pem);
  if (rc != 0)
    return rc;
  char real[ACTOR_AUTH_KID_MAX];
  actor_jwt_key_kid(key, real);
  if (strcmp(real, kid) != 0) { /* stored under another key's name */
    actor_jwt_key_free(key);
    return ACTOR_EINVAL;
  }

  pthread_mutex_lock(&pk->mu);
  const actor_jwt_key_t *have = find(pk, kid);
  if (have != NULL) { /* another thread was faster */
    actor_jwt_key_free(key);
    *out = have;
  } else if (pk->n < AUTH_PLATFORM_KEYS_MAX) {
    snprintf(pk->keys[pk->n].kid, ACTOR_AUTH_KID_MAX, "%s", kid);
    pk->keys[pk->n++].key = key;
    *out = key;
  } else {
    rc = ACTOR_ETOOBIG;
    actor_jwt_key_free(key);
  }
  pthread_mutex_unlock(&pk->mu);
  return rc;
}

static void set_reason(char *reason, size_t size, const char *text) {
  if (reason != NULL && size > 0)
    snprintf(reason, size, "%s", text);
}

int actor_auth_verify(const actor_auth_keys_t *keys, const char *token, const char *tenant,
                      const char *default_tenant, int64_t now, actor_identity_t *out, char *reason,
                      size_t reason_size) {
  char kid[ACTOR_AUTH_KID_MAX];
  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (keys == NULL || token == NULL || out == NULL)
    return ACTOR_EINVAL;
  int platform = actor_jwt_peek_kid(token, kid, sizeof(kid)) == 0 &&
                 strncmp(kid, ACTOR_PLATFORM_KID_PREFIX, strlen(ACTOR_PLATFORM_KID_PREFIX)) == 0;
  if (!platform) {
    if (keys->tenant_key == NULL) {
      set_reason(reason, reason_size, "no public key is configured for this tenant");
      return ACTOR_EAUTH;
    }
    return actor_jwt_verify(keys->cache, keys->tenant_key, token, tenant, default_tenant, now, out,
                            reason, reason_size);
  }

  const actor_jwt_key_t *pkey = NULL;
  int rc = keys->platform ? actor_platform_keys_get(keys->platform, kid, &pkey) : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ECONN || rc == ACTOR_ESTORE || rc == ACTOR_ENOMEM)
    return rc;
  if (rc != 0) {
    set_reason(reason, reason_size, "the token is signed with an unknown platform key");
    return ACTOR_EAUTH;
  }
  rc = actor_jwt_verify(keys->cache, pkey, token, tenant, default_tenant, now, out, reason,
                        reason_size);
  if (rc != 0)
    return rc;
  if (out->jti[0] == '\0' || out->exp == 0) {
    memset(out, 0, sizeof(*out));
    set_reason(reason, reason_size, "a platform token needs jti and exp claims");
    return ACTOR_EAUTH;
  }
  int active = keys->redis ? actor_client_active(keys->redis, out->tenant, out->jti) : 0;
  if (active != 1) {
    memset(out, 0, sizeof(*out));
    if (active < 0)
      return active;
    set_reason(reason, reason_size, "the token has been revoked");
    return ACTOR_EAUTH;
  }
  out->platform = true;
  return 0;
}
