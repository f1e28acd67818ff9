/* RSA keys and RS256 signatures for the JWT unit tests, made here with
 * OpenSSL: a key's PEM and base64 DER texts (as the config holds them),
 * and a token put together from header and payload texts in either base64
 * alphabet, with or without '=' padding, signed over exactly that text.
 * Every string returned is malloc'd (the caller frees it). */
#ifndef ABACO_JWT_TEST_KEYS_H
#define ABACO_JWT_TEST_KEYS_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64_int.h"

static inline char *jwt_test_pem(EVP_PKEY *pk, int priv) {
  BIO *b = BIO_new(BIO_s_mem());
  if (priv)
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
  else
    PEM_write_bio_PUBKEY(b, pk);
  char *data = NULL;
  long n = BIO_get_mem_data(b, &data);
  char *s = strndup(data, (size_t)n);
  BIO_free(b);
  return s;
}

/* Base64 (standard alphabet) of the DER SubjectPublicKeyInfo. */
static inline char *jwt_test_der_b64(EVP_PKEY *pk) {
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(pk, &der);
  char *s = NULL;
  actor__b64_encode(der, (size_t)n, 0, &s);
  OPENSSL_free(der);
  return s;
}

/* text in base64: url = 1 the URL alphabet, 0 the standard one; pad = 1
 * keeps the '=' padding, 0 drops it. */
static inline char *jwt_test_b64(const void *data, size_t len, int url, int pad) {
  char *b = NULL;
  actor__b64_encode(data, len, url, &b);
  size_t n = strlen(b), want = (4 - n % 4) % 4;
  if (!pad) {
    while (n > 0 && b[n - 1] == '=')
      b[--n] = '\0';
  } else if (url && want > 0) { /* our encoder writes no padding for URL text */
    b = realloc(b, n + want + 1);
    memcpy(b + n, "==", want);
    b[n + want] = '\0';
  }
  return b;
}

/* "<header>.<payload>.<signature>": each part in the given alphabet and
 * padding, the signature RS256 (PKCS#1 v1.5, SHA-256) by priv over the
 * text before the second dot. */
static inline char *jwt_test_sign(EVP_PKEY *priv, const char *header, const char *payload, int url,
                           int pad) {
  char *h = jwt_test_b64(header, strlen(header), url, pad);
  char *p = jwt_test_b64(payload, strlen(payload), url, pad);
  size_t n = strlen(h) + strlen(p) + 2048;
  char *tok = malloc(n);
  int len = snprintf(tok, n, "%s.%s", h, p);
  free(h);
  free(p);
  unsigned char sig[1024];
  size_t slen = sizeof(sig);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) != 1 ||
      EVP_DigestSign(ctx, sig, &slen, (unsigned char *)tok, (size_t)len) != 1) {
    fprintf(stderr, "jwt_test_sign: OpenSSL cannot sign\n");
    abort();
  }
  EVP_MD_CTX_free(ctx);
  char *s = jwt_test_b64(sig, slen, url, pad);
  snprintf(tok + len, n - (size_t)len, ".%s", s);
  free(s);
  return tok;
}

#endif
