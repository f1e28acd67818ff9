/* Secrets at rest (config values with is_secret): authenticated encryption
 * with AES-256-GCM (OpenSSL EVP). The key is SHA-256 of the [web]
 * encryption_key text; every value gets a fresh random 12-byte nonce. The
 * stored text is "v1:" + base64(nonce | ciphertext | 16-byte tag), so a
 * value is about 4/3 of its length plus 43 characters. Decryption checks
 * the tag: a wrong key, a changed byte or a value moved to another context
 * (see `aad`) is ACTOR_EAUTH, never garbage.
 *
 * Nothing here logs; callers must not log plaintexts or keys either.
 * Buffers that held a plaintext or a key are wiped before they are freed. */
#ifndef ACTOR_SECRET_H
#define ACTOR_SECRET_H

#include "actor/errors.h"

#include <stdbool.h>
#include <stddef.h>

#define ACTOR_SECRET_PREFIX "v1:"
/* Largest plaintext accepted (configs are small). */
#define ACTOR_SECRET_MAX (1024 * 1024)

typedef struct {
  unsigned char k[32];
  bool set;
} actor_secret_key_t;

/* Derives the key from the configured text. ACTOR_ECONFIG when the text is
 * NULL or empty (secret configs cannot be stored then: the API should say
 * so rather than store them in clear). */
ACTOR_MUST_CHECK int actor_secret_key_init(actor_secret_key_t *key, const char *key_text);
/* Wipes the key. */
void actor_secret_key_wipe(actor_secret_key_t *key);

/* Encrypts len bytes of plain. `aad` (may be NULL = "") is authenticated
 * but not stored: pass the object's identity (e.g. the config's db id
 * "<TENANT>_<name>") so a ciphertext copied to another object does not
 * decrypt there. *out: malloc'd NUL-terminated text (transferred).
 * ACTOR_EINVAL (no key, NULL plain), ACTOR_ETOOBIG, ACTOR_ENOMEM, ACTOR_EIO
 * (no randomness or cipher failure). */
ACTOR_MUST_CHECK
int actor_secret_encrypt(const actor_secret_key_t *key, const void *plain, size_t len,
                         const char *aad, char **out);
/* Reverses actor_secret_encrypt with the same aad. *out: malloc'd, NUL
 * terminated (so text values can be used as strings), *out_len (may be
 * NULL) its length; free it with actor_secret_free. ACTOR_EPARSE when the
 * text is not a "v1:" value, ACTOR_EAUTH when the tag does not verify
 * (wrong key, tampering, other aad), ACTOR_EINVAL, ACTOR_ENOMEM. */
ACTOR_MUST_CHECK
int actor_secret_decrypt(const actor_secret_key_t *key, const char *text, const char *aad,
                         char **out, size_t *out_len);
/* Wipes len bytes (strlen when len is 0) and frees; NULL is fine. */
void actor_secret_free(char *plain, size_t len);
/* Whether text looks like an encrypted value ("v1:" prefix). */
bool actor_secret_is_encrypted(const char *text);

#endif
