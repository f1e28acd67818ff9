/* Base64 encoding and strict decoding (see b64_int.h). */
#include "b64_int.h"

#include <stdint.h>
#include <stdlib.h>

#include "actor/errors.h"

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int actor__b64_encode(const void *in, size_t len, int url, char **out) {
  const unsigned char *p = in;
  const char *abc = url ? URL : STD;
  char *o = malloc((len + 2) / 3 * 4 + 1);
  *out = NULL;
  if (o == NULL)
    return ACTOR_ENOMEM;
  size_t j = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    o[j++] = abc[v >> 18 & 63];
    o[j++] = abc[v >> 12 & 63];
    o[j++] = abc[v >> 6 & 63];
    o[j++] = abc[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
    o[j++] = abc[v >> 18 & 63];
    o[j++] = abc[v >> 12 & 63];
    if (i + 1 < len)
      o[j++] = abc[v >> 6 & 63];
    else if (!url)
      o[j++] = '=';
    if (!url)
      o[j++] = '=';
  }
  o[j] = '\0';
  *out = o;
  return 0;
}

static int sextet(unsigned char c, int mode) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if ((c == '+' && mode != ACTOR__B64_URL) || (c == '-' && mode != ACTOR__B64_STD))
    return 62;
  if ((c == '/' && mode != ACTOR__B64_URL) || (c == '_' && mode != ACTOR__B64_STD))
    return 63;
  return -1;
}

int actor__b64_decode(const char *in, size_t len, int mode, unsigned char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  size_t pad = 0;
  while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
    pad++;
  size_t n = len - pad; /* data characters */
  if (n % 4 == 1 || (mode == ACTOR__B64_STD && len % 4 != 0) || (pad > 0 && (n + pad) % 4 != 0))
    return ACTOR_EPARSE;
  unsigned char *o = malloc(n / 4 * 3 + 3);
  if (o == NULL)
    return ACTOR_ENOMEM;
  size_t j = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int s = sextet((unsigned char)in[i], mode);
    if (s < 0) {
      free(o);
      return ACTOR_EPARSE;
    }
    acc = acc << 6 | (uint32_t)s;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[j++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) { /* non-zero leftover bits: not a canonical encoding */
    free(o);
    return ACTOR_EPARSE;
  }
  o[j] = '\0';
  *out = o;
  *out_len = j;
  return 0;
}
