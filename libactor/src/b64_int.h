/* Base64 for the auth and secret modules: standard (RFC 4648 §4) and
 * URL-safe (§5) alphabets, strict decoding (no stray characters, padding
 * only at the end and only as much as completes the last quantum, no
 * non-zero leftover bits), so two decoders can never disagree about a
 * token. */
#ifndef ACTOR_B64_INT_H
#define ACTOR_B64_INT_H

#include <stddef.h>

/* url=1: '-' '_' and no padding; url=0: '+' '/' and '=' padding.
 * *out is malloc'd, NUL-terminated (transferred). 0 or ACTOR_ENOMEM. */
int actor__b64_encode(const void *in, size_t len, int url, char **out);
/* What actor__b64_decode accepts. */
#define ACTOR__B64_STD 0 /* '+' '/', '=' padding required to a multiple of 4 */
#define ACTOR__B64_URL 1 /* '-' '_', '=' padding optional */
/* Either alphabet (even mixed, as PyJWT reads tokens), '=' padding
 * optional: the parts of a JWT, which WSO2 writes in the standard one. */
#define ACTOR__B64_ANY 2

/* Decodes len characters in `mode` (ACTOR__B64_*). *out is malloc'd with
 * a NUL byte after *out_len bytes (transferred). ACTOR_EPARSE for
 * anything malformed, ACTOR_ENOMEM. */
int actor__b64_decode(const char *in, size_t len, int mode, unsigned char **out, size_t *out_len);

#endif
