/* Internals shared by the auth_*.c files: the key object and the cache's
 * get/put, which actor_jwt_verify drives. */
#ifndef ACTOR_AUTH_INT_H
#define ACTOR_AUTH_INT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/auth.h"

struct actor_jwt_key_s {
  char *pem; /* canonical "-----BEGIN PUBLIC KEY-----" text, NUL-terminated */
  size_t pem_len;
  unsigned char fp[32]; /* SHA-256 of the DER SubjectPublicKeyInfo */
  int bits;
  EVP_PKEY *pkey; /* the key itself, only read once made (safe across threads) */
  bool exp_ms;    /* actor_jwt_key_set_exp_ms */
};

/* 1 and *out filled when a live entry for digest exists, else 0. */
int actor__jwt_cache_get(actor_jwt_cache_t *c, const unsigned char digest[32], int64_t now,
                         actor_identity_t *out);
/* Remembers id until min(id->exp, now + max age); an id whose exp is not
 * after now is not stored. */
void actor__jwt_cache_put(actor_jwt_cache_t *c, const unsigned char digest[32], int64_t now,
                          const actor_identity_t *id);

#endif
