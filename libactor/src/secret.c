/* Secrets at rest: AES-256-GCM through OpenSSL EVP (see actor/secret.h).
 * Layout of a value: "v1:" + base64(nonce[12] | ciphertext | tag[16]).
 * The version prefix leaves room for another scheme later; a random 96-bit
 * nonce per value is safe for far more values than a platform stores under
 * one key (the GCM bound is about 2^32 encryptions per key). */
#include "actor/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "b64_int.h"

#define SECRET_NONCE 12
#define SECRET_TAG 16

int actor_secret_key_init(actor_secret_key_t *key, const char *key_text) {
  memset(key, 0, sizeof(*key));
  if (key_text == NULL || *key_text == '\0')
    return ACTOR_ECONFIG;
  unsigned int n = 0;
  if (!EVP_Digest(key_text, strlen(key_text), key->k, &n, EVP_sha256(), NULL) || n != 32) {
    OPENSSL_cleanse(key, sizeof(*key));
    return ACTOR_EIO;
  }
  key->set = true;
  return 0;
}

void actor_secret_key_wipe(actor_secret_key_t *key) {
  if (key != NULL)
    OPENSSL_cleanse(key, sizeof(*key));
}

bool actor_secret_is_encrypted(const char *text) {
  return text != NULL && strncmp(text, ACTOR_SECRET_PREFIX, strlen(ACTOR_SECRET_PREFIX)) == 0;
}

void actor_secret_free(char *plain, size_t len) {
  if (plain == NULL)
    return;
  OPENSSL_cleanse(plain, len ? len : strlen(plain));
  free(plain);
}

/* One GCM pass: encrypt (enc=1) or decrypt-and-verify (enc=0) n bytes of
 * in into out with the given nonce and aad; the tag is written (enc) or
 * checked (dec). 0, ACTOR_EAUTH (tag mismatch) or ACTOR_EIO. */
static int gcm(int enc, const unsigned char *k, const unsigned char *nonce, const char *aad,
               const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL)
    return ACTOR_ENOMEM;
  int rc = ACTOR_EIO, len = 0;
  size_t alen = aad ? strlen(aad) : 0;
  if (!EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
      !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE, NULL) ||
      !EVP_CipherInit_ex(ctx, NULL, NULL, k, nonce, enc))
    goto cleanup;
  if (alen > 0 && !EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)alen))
    goto cleanup;
  if (n > 0 && !EVP_CipherUpdate(ctx, out, &len, in, (int)n))
    goto cleanup;
  if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG, tag))
    goto cleanup;
  if (!EVP_CipherFinal_ex(ctx, out + (n > 0 ? len : 0), &len)) {
    rc = enc ? ACTOR_EIO : ACTOR_EAUTH;
    goto cleanup;
  }
  if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG, tag))
    goto cleanup;
  rc = 0;

cleanup:
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int actor_secret_encrypt(const actor_secret_key_t *key, const void *plain, size_t len,
                         const char *aad, char **out) {
  *out = NULL;
  if (key == NULL || !key->set || (plain == NULL && len > 0))
    return ACTOR_EINVAL;
  if (len > ACTOR_SECRET_MAX)
    return ACTOR_ETOOBIG;
  size_t total = SECRET_NONCE + len + SECRET_TAG;
  unsigned char *buf = malloc(total);
  if (buf == NULL)
    return ACTOR_ENOMEM;
  int rc = ACTOR_EIO;
  char *b64 = NULL;
  if (RAND_bytes(buf, SECRET_NONCE) != 1)
    goto cleanup;
  rc = gcm(1, key->k, buf, aad, plain, len, buf + SECRET_NONCE, buf + SECRET_NONCE + len);
  if (rc != 0)
    goto cleanup;
  rc = actor__b64_encode(buf, total, 0, &b64);
  if (rc != 0)
    goto cleanup;
  size_t plen = strlen(ACTOR_SECRET_PREFIX), blen = strlen(b64);
  *out = malloc(plen + blen + 1);
  if (*out == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  memcpy(*out, ACTOR_SECRET_PREFIX, plen);
  memcpy(*out + plen, b64, blen + 1);

cleanup:
  free(b64);
  free(buf);
  return rc;
}

int actor_secret_decrypt(const actor_secret_key_t *key, const char *text, const char *aad,
                         char **out, size_t *out_len) {
  *out = NULL;
  if (out_len)
    *out_len = 0;
  if (key == NULL || !key->set || text == NULL)
    return ACTOR_EINVAL;
  if (!actor_secret_is_encrypted(text))
    return ACTOR_EPARSE;
  const char *b = text + strlen(ACTOR_SECRET_PREFIX);
  size_t blen = strnlen(b, (ACTOR_SECRET_MAX + SECRET_NONCE + SECRET_TAG) / 3 * 4 + 8);
  unsigned char *raw = NULL;
  size_t rlen = 0;
  int rc = actor__b64_decode(b, blen, 0, &raw, &rlen);
  if (rc != 0)
    return rc;
  if (rlen < SECRET_NONCE + SECRET_TAG) {
    free(raw);
    return ACTOR_EPARSE;
  }
  size_t n = rlen - SECRET_NONCE - SECRET_TAG;
  char *plain = malloc(n + 1);
  if (plain == NULL) {
    free(raw);
    return ACTOR_ENOMEM;
  }
  rc = gcm(0, key->k, raw, aad, raw + SECRET_NONCE, n, (unsigned char *)plain,
           raw + SECRET_NONCE + n);
  free(raw);
  if (rc != 0) {
    actor_secret_free(plain, n + 1);
    return rc;
  }
  plain[n] = '\0';
  *out = plain;
  if (out_len)
    *out_len = n;
  return 0;
}
