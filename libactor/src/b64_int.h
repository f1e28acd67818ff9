/* Base64 for the auth and secret modules: standard (RFC 4648 §4) and
 * URL-safe (§5) alphabets, strict decoding (no stray characters, padding
 * only at the end), so two decoders can never disagree about a token. */
#ifndef ACTOR_B64_INT_H
#define ACTOR_B64_INT_H

#include <stddef.h>

/* url=1: '-' '_' and no padding; url=0: '+' '/' and '=' padding.
 * *out is malloc'd, NUL-terminated (transferred). 0 or ACTOR_ENOMEM. */
int actor__b64_encode(const void *in, size_t len, int url, char **out);
/* Decodes len characters. url=1 accepts the URL alphabet with optional '='
 * padding; url=0 the standard one, padding required to a multiple of 4.
 * *out is malloc'd with a NUL byte after *out_len bytes (transferred).
 * ACTOR_EPARSE for anything malformed, ACTOR_ENOMEM. */
int actor__b64_decode(const char *in, size_t len, int url, unsigned char **out, size_t *out_len);

#endif
