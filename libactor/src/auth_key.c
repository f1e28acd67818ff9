/* RSA public keys for JWT verification: the config's base64 DER
 * SubjectPublicKeyInfo (or PEM) validated and kept by OpenSSL, with its
 * canonical PEM text (what clientg publishes) and the fingerprint that
 * names the key in the token cache and in platform-token kids. */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "auth_int.h"
#include "b64_int.h"

/* Keys shorter than this are refused; 1024 still admits the RSA-1024 keys
 * of older WSO2 development tenants. */
#define AUTH_MIN_RSA_BITS 1024
#define AUTH_MAX_KEY_TEXT 65536

/* Fills k from a parsed key: checks the type and size, writes the PEM and
 * the fingerprint, and keeps a reference to pkey. */
static int key_from_pkey(EVP_PKEY *pkey, actor_jwt_key_t *k) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey) < AUTH_MIN_RSA_BITS)
    return ACTOR_EINVAL;
  k->bits = EVP_PKEY_get_bits(pkey);
  unsigned char *der = NULL;
  int dlen = i2d_PUBKEY(pkey, &der);
  if (dlen <= 0)
    return ACTOR_EINVAL;
  unsigned int fplen = 0;
  int ok = EVP_Digest(der, (size_t)dlen, k->fp, &fplen, EVP_sha256(), NULL);
  OPENSSL_free(der);
  if (!ok)
    return ACTOR_EIO;
  BIO *b = BIO_new(BIO_s_mem());
  if (b == NULL)
    return ACTOR_ENOMEM;
  int rc = ACTOR_ENOMEM;
  char *data = NULL;
  if (PEM_write_bio_PUBKEY(b, pkey)) {
    long n = BIO_get_mem_data(b, &data);
    k->pem = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (k->pem != NULL) {
      memcpy(k->pem, data, (size_t)n);
      k->pem[n] = '\0';
      k->pem_len = (size_t)n;
      rc = 0;
    }
  }
  BIO_free(b);
  if (rc == 0) {
    if (EVP_PKEY_up_ref(pkey) != 1)
      return ACTOR_EIO;
    k->pkey = pkey;
  }
  return rc;
}

/* Base64 text with blanks removed, decoded. */
static int decode_b64_text(const char *text, unsigned char **der, size_t *dlen) {
  size_t n = strlen(text);
  char *clean = malloc(n + 1);
  if (clean == NULL)
    return ACTOR_ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)text[i]))
      clean[j++] = text[i];
  int rc = actor__b64_decode(clean, j, ACTOR__B64_STD, der, dlen);
  free(clean);
  return rc == ACTOR_EPARSE ? ACTOR_EINVAL : rc;
}

int actor_jwt_key_parse(const char *text, actor_jwt_key_t **out) {
  *out = NULL;
  if (text == NULL || strnlen(text, AUTH_MAX_KEY_TEXT + 1) > AUTH_MAX_KEY_TEXT)
    return ACTOR_EINVAL;
  while (isspace((unsigned char)*text))
    text++;
  if (*text == '\0')
    return ACTOR_EINVAL;
  EVP_PKEY *pkey = NULL;
  unsigned char *der = NULL;
  int rc = 0;
  if (strncmp(text, "-----BEGIN", 10) == 0) {
    BIO *b = BIO_new_mem_buf(text, -1);
    if (b == NULL)
      return ACTOR_ENOMEM;
    pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
  } else {
    size_t dlen = 0;
    rc = decode_b64_text(text, &der, &dlen);
    if (rc != 0)
      return rc;
    const unsigned char *p = der;
    pkey = d2i_PUBKEY(NULL, &p, (long)dlen);
    if (pkey != NULL && p != der + dlen) { /* trailing bytes */
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
    free(der);
  }
  if (pkey == NULL)
    return ACTOR_EINVAL;
  actor_jwt_key_t *k = calloc(1, sizeof(*k));
  rc = k ? key_from_pkey(pkey, k) : ACTOR_ENOMEM;
  EVP_PKEY_free(pkey);
  if (rc != 0) {
    actor_jwt_key_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

void actor_jwt_key_free(actor_jwt_key_t *k) {
  if (k == NULL)
    return;
  free(k->pem);
  EVP_PKEY_free(k->pkey);
  free(k);
}

void actor_jwt_key_set_exp_ms(actor_jwt_key_t *k, bool milliseconds) {
  if (k != NULL)
    k->exp_ms = milliseconds;
}

const char *actor_jwt_key_pem(const actor_jwt_key_t *k, size_t *len) {
  if (len)
    *len = k->pem_len;
  return k->pem;
}

void actor_jwt_key_kid(const actor_jwt_key_t *k, char kid[ACTOR_AUTH_KID_MAX]) {
  static const char hex[] = "0123456789abcdef";
  size_t n = strlen(ACTOR_PLATFORM_KID_PREFIX);
  memcpy(kid, ACTOR_PLATFORM_KID_PREFIX, n);
  for (int i = 0; i < 16; i++) {
    kid[n++] = hex[k->fp[i] >> 4];
    kid[n++] = hex[k->fp[i] & 15];
  }
  kid[n] = '\0';
}

int actor_pubkey_der_b64_to_pem(const char *b64, char **out) {
  *out = NULL;
  if (b64 == NULL || strstr(b64, "-----") != NULL)
    return ACTOR_EINVAL;
  actor_jwt_key_t *k = NULL;
  int rc = actor_jwt_key_parse(b64, &k);
  if (rc != 0)
    return rc;
  *out = k->pem;
  k->pem = NULL;
  actor_jwt_key_free(k);
  return 0;
}

int actor_pubkey_pem_to_der_b64(const char *pem, char **out) {
  *out = NULL;
  if (pem == NULL)
    return ACTOR_EINVAL;
  BIO *b = BIO_new_mem_buf(pem, -1);
  if (b == NULL)
    return ACTOR_ENOMEM;
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
  BIO_free(b);
  if (pkey == NULL)
    return ACTOR_EINVAL;
  unsigned char *der = NULL;
  int dlen = i2d_PUBKEY(pkey, &der);
  EVP_PKEY_free(pkey);
  if (dlen <= 0)
    return ACTOR_EINVAL;
  int rc = actor__b64_encode(der, (size_t)dlen, 0, out);
  OPENSSL_free(der);
  return rc;
}
