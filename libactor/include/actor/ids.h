/* Ids: hashids (https://hashids.org, default alphabet) of 64-bit numbers,
 * compatible with the reference implementation's published test vectors,
 * and the platform's time-based unique ids (actor, execution, worker, nonce)
 * encoded with the configured salt. */
#ifndef ACTOR_IDS_H
#define ACTOR_IDS_H

#include "actor/errors.h"

#include <stddef.h>
#include <stdint.h>

#define ACTOR_HASHIDS_DEFAULT_ALPHABET \
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890"
#define ACTOR_DEFAULT_SALT "eJa5wZlEX4eWU"
#define ACTOR_ID_MAX 64 /* buffer size enough for any id we produce */

typedef struct actor_hashids_s actor_hashids_t;

/* alphabet NULL = default; returns ACTOR_EINVAL for an alphabet with fewer
 * than 16 unique characters or containing spaces. *out owned by caller. */
ACTOR_MUST_CHECK int actor_hashids_new(const char *salt, size_t min_length, const char *alphabet,
                                       actor_hashids_t **out);
void actor_hashids_free(actor_hashids_t *h);

/* Encodes n numbers into out (NUL-terminated). ACTOR_ETOOBIG if outlen is too small. */
ACTOR_MUST_CHECK int actor_hashids_encode(const actor_hashids_t *h, const uint64_t *nums, size_t n,
                                          char *out, size_t outlen);
/* Decodes into nums (capacity cap); *n gets the count. ACTOR_EPARSE for a
 * string that does not re-encode to itself. */
ACTOR_MUST_CHECK int actor_hashids_decode(const actor_hashids_t *h, const char *s, uint64_t *nums,
                                          size_t cap, size_t *n);

/* Sets the salt used by actor_id_new (default ACTOR_DEFAULT_SALT). Not thread safe:
 * call once at start-up. */
ACTOR_MUST_CHECK int actor_ids_init(const char *salt);
/* Frees what actor_ids_init (or the first actor_id_new) allocated; a later
 * actor_id_new uses the default salt again. Call at exit, not concurrently. */
void actor_ids_shutdown(void);
/* A new unique id: hashid of a 64-bit number made of milliseconds since the
 * epoch, a per-process random part and a counter. Thread safe. */
ACTOR_MUST_CHECK int actor_id_new(char out[ACTOR_ID_MAX]);

#define ACTOR_TOKEN_MAX 65 /* 64 hex characters and the NUL */
/* A new secret token: 64 hex characters of 32 RAND_bytes. 0 or ACTOR_EIO. */
ACTOR_MUST_CHECK int actor_token_new(char out[ACTOR_TOKEN_MAX]);

#endif
