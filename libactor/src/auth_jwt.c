/* JWT verification (see actor/auth.h).
 *
 * Design note. libjwt 1.10 verifies with whatever algorithm the token's
 * header names, using the key bytes it is given: handed our PEM text, it
 * would accept an HS256 token whose HMAC key is that (public) PEM. So the
 * token is taken apart here first, strictly: at most ACTOR_JWT_MAX_LEN
 * bytes, exactly three non-empty base64url parts, a header and a payload
 * that are JSON objects without duplicate keys, `alg` exactly "RS256", no
 * `crit`. Only then does jwt_decode() check the RS256 signature over the
 * token text, and its idea of the algorithm is checked again afterwards.
 * The claims are read from the payload decoded here: it is the very text
 * the signature covers. The cache is consulted before any of this, keyed by
 * SHA-256 over the key fingerprint, the tenants and the token, so a hit
 * costs one hash and one mutex. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actor/errors.h"
#include "auth_int.h"
#include "b64_int.h"

/* exp values above this are milliseconds (1e11 s is the year 5138). */
#define AUTH_EXP_MS_THRESHOLD 1e11

bool actor_identity_has_role(const actor_identity_t *id, const char *role) {
  size_t n = strlen(role);
  if (n == 0)
    return false;
  for (const char *p = id->roles; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && memcmp(p, role, n) == 0)
      return true;
    if (end == NULL)
      break;
    p = end + 1;
  }
  return false;
}

/* Upper-cases a tenant name into out; 0, or -1 when it is empty, too long
 * or holds anything but letters, digits, '-' and '.'. */
static int norm_tenant(const char *in, char out[ACTOR_AUTH_TENANT_MAX]) {
  size_t i = 0;
  for (; in[i]; i++) {
    unsigned char c = (unsigned char)in[i];
    if (i + 1 >= ACTOR_AUTH_TENANT_MAX || !(isalnum(c) || c == '-' || c == '.'))
      return -1;
    out[i] = (char)toupper(c);
  }
  out[i] = '\0';
  return i == 0 ? -1 : 0;
}

static int b64url_char(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c == '=';
}

/* Decodes one base64url part into a JSON object (new reference) or NULL. */
static json_t *part_json(const char *p, size_t len) {
  unsigned char *raw = NULL;
  size_t rlen = 0;
  if (actor__b64_decode(p, len, 1, &raw, &rlen) != 0)
    return NULL;
  json_t *v = json_loadb((const char *)raw, rlen, JSON_REJECT_DUPLICATES, NULL);
  free(raw);
  if (v != NULL && !json_is_object(v)) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

/* Splits token into its three parts; 0, or -1 when it is not
 * "<b64url>.<b64url>.<b64url>" with three non-empty parts. */
static int split(const char *token, size_t len, size_t *d1, size_t *d2) {
  int dots = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)token[i];
    if (c == '.') {
      if (dots == 0)
        *d1 = i;
      else if (dots == 1)
        *d2 = i;
      if (++dots > 2)
        return -1;
    } else if (!b64url_char(c)) {
      return -1;
    }
  }
  if (dots != 2 || *d1 == 0 || *d2 == *d1 + 1 || *d2 + 1 == len)
    return -1;
  return 0;
}

/* A time claim as seconds (milliseconds above the threshold are divided);
 * -1 when it is not a non-negative number. */
static int64_t time_claim(const json_t *v) {
  double d;
  if (json_is_integer(v))
    d = (double)json_integer_value(v);
  else if (json_is_real(v))
    d = json_real_value(v);
  else
    return -1;
  if (!isfinite(d) || d < 0 || d > 9e15)
    return -1;
  if (d > AUTH_EXP_MS_THRESHOLD)
    d /= 1000.0;
  return (int64_t)d;
}

/* Appends the comma-separated roles of `text` (trimmed, empties dropped). */
static int add_roles(actor_identity_t *id, size_t *used, const char *text) {
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    const char *stop = end ? end : p + strlen(p);
    const char *b = p, *e = stop;
    while (b < e && isspace((unsigned char)*b))
      b++;
    while (e > b && isspace((unsigned char)e[-1]))
      e--;
    size_t n = (size_t)(e - b);
    if (n > 0) {
      if (*used + n + 2 > sizeof(id->roles))
        return -1;
      if (*used > 0)
        id->roles[(*used)++] = ',';
      memcpy(id->roles + *used, b, n);
      *used += n;
      id->roles[*used] = '\0';
      id->nroles++;
    }
    if (end == NULL)
      break;
    p = end + 1;
  }
  return 0;
}

/* Fills id from the verified claims; 0 or a refusal. */
static int read_claims(const json_t *claims, const char *asserted, const char *def, int64_t now,
                       actor_identity_t *id, char *reason, size_t rsize) {
  const json_t *exp = json_object_get(claims, "exp");
  if (exp != NULL && !json_is_null(exp)) {
    int64_t t = time_claim(exp);
    if (t < 0)
      return actor_errorf(ACTOR_EAUTH, reason, rsize, "the exp claim is not a number");
    if (t <= now)
      return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token has expired");
    id->exp = t;
  }

  const char *user = json_string_value(json_object_get(claims, ACTOR_CLAIM_ENDUSER));
  if (user == NULL)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token has no %s claim",
                        ACTOR_CLAIM_ENDUSER);
  size_t ulen = strcspn(user, "@");
  if (ulen == 0)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the %s claim names no user",
                        ACTOR_CLAIM_ENDUSER);
  if (ulen >= sizeof(id->username))
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the user name is too long");
  for (size_t i = 0; i < ulen; i++)
    if (iscntrl((unsigned char)user[i]))
      return actor_errorf(ACTOR_EAUTH, reason, rsize, "the user name holds control characters");
  memcpy(id->username, user, ulen);
  id->username[ulen] = '\0';

  const json_t *roles = json_object_get(claims, ACTOR_CLAIM_ROLE);
  size_t used = 0;
  if (json_is_string(roles)) {
    if (add_roles(id, &used, json_string_value(roles)) != 0)
      return actor_errorf(ACTOR_EAUTH, reason, rsize, "the role claim is too long");
  } else if (json_is_array(roles)) {
    size_t i;
    const json_t *r;
    json_array_foreach(roles, i, r) {
      if (!json_is_string(r))
        return actor_errorf(ACTOR_EAUTH, reason, rsize, "the role claim holds a non-string");
      if (add_roles(id, &used, json_string_value(r)) != 0)
        return actor_errorf(ACTOR_EAUTH, reason, rsize, "the role claim is too long");
    }
  } else if (roles != NULL && !json_is_null(roles)) {
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the role claim is not a string");
  }

  const json_t *jti = json_object_get(claims, "jti");
  if (jti != NULL) {
    if (!json_is_string(jti) || json_string_length(jti) >= sizeof(id->jti))
      return actor_errorf(ACTOR_EAUTH, reason, rsize, "the jti claim is not a short string");
    snprintf(id->jti, sizeof(id->jti), "%s", json_string_value(jti));
  }

  char claimed[ACTOR_AUTH_TENANT_MAX] = "";
  const json_t *tc = json_object_get(claims, ACTOR_CLAIM_TENANT);
  if (tc != NULL && (!json_is_string(tc) || norm_tenant(json_string_value(tc), claimed) != 0))
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the tenant claim is not a valid tenant name");
  if (*asserted && *claimed && strcmp(asserted, claimed) != 0)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token was issued for tenant %s, not %s",
                        claimed, asserted);
  const char *t = *asserted ? asserted : *claimed ? claimed : def;
  if (*t == '\0')
    return actor_errorf(ACTOR_EAUTH, reason, rsize,
                        "no tenant: the request and the token name none");
  snprintf(id->tenant, sizeof(id->tenant), "%s", t);
  return 0;
}

static int cache_digest(const actor_jwt_key_t *key, const char *asserted, const char *def,
                        const char *token, size_t len, unsigned char digest[32]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int dlen = 0;
  int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
           EVP_DigestUpdate(ctx, key->fp, sizeof(key->fp)) &&
           EVP_DigestUpdate(ctx, asserted, strlen(asserted) + 1) &&
           EVP_DigestUpdate(ctx, def, strlen(def) + 1) && EVP_DigestUpdate(ctx, token, len) &&
           EVP_DigestFinal_ex(ctx, digest, &dlen);
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : ACTOR_EIO;
}

/* Everything but the cache. */
static int verify(const actor_jwt_key_t *key, const char *token, size_t len, const char *asserted,
                  const char *def, int64_t now, actor_identity_t *out, char *reason, size_t rsize) {
  size_t d1 = 0, d2 = 0;
  if (split(token, len, &d1, &d2) != 0)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token is not a well-formed JWT");
  json_t *head = part_json(token, d1);
  if (head == NULL)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token header is not a JSON object");
  int rc = 0;
  json_t *claims = NULL;
  jwt_t *jwt = NULL;
  const char *alg = json_string_value(json_object_get(head, "alg"));
  const char *typ = json_string_value(json_object_get(head, "typ"));
  if (alg == NULL) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token header names no algorithm");
    goto cleanup;
  }
  if (strcmp(alg, "RS256") != 0) {
    char shown[17]; /* the reason reaches responses and logs: letters only */
    size_t i = 0;
    for (; alg[i] && i + 1 < sizeof(shown); i++)
      shown[i] = isalnum((unsigned char)alg[i]) || alg[i] == '-' ? alg[i] : '?';
    shown[i] = '\0';
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize,
                      "the token algorithm '%s' is not accepted (only RS256)", shown);
    goto cleanup;
  }
  if (json_object_get(head, "crit") != NULL) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token header has critical extensions");
    goto cleanup;
  }
  if (json_object_get(head, "typ") != NULL && (typ == NULL || strcasecmp(typ, "JWT") != 0)) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token type is not JWT");
    goto cleanup;
  }
  claims = part_json(token + d1 + 1, d2 - d1 - 1);
  if (claims == NULL) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token payload is not a JSON object");
    goto cleanup;
  }
  /* An RS256 signature is exactly as long as the modulus: a cheap test that
   * spares libjwt's key parsing (most of its cost) for cut signatures. */
  unsigned char *sig = NULL;
  size_t slen = 0;
  if (actor__b64_decode(token + d2 + 1, len - d2 - 1, 1, &sig, &slen) != 0 ||
      slen != (size_t)(key->bits + 7) / 8) {
    free(sig);
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token signature does not verify");
    goto cleanup;
  }
  free(sig);
  int jrc = jwt_decode(&jwt, token, (const unsigned char *)key->pem, (int)key->pem_len);
  if (jrc == ENOMEM) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  if (jrc != 0 || jwt == NULL || jwt_get_alg(jwt) != JWT_ALG_RS256) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token signature does not verify");
    goto cleanup;
  }
  rc = read_claims(claims, asserted, def, now, out, reason, rsize);

cleanup:
  jwt_free(jwt);
  json_decref(claims);
  json_decref(head);
  return rc;
}

int actor_jwt_verify(actor_jwt_cache_t *cache, const actor_jwt_key_t *key, const char *token,
                     const char *tenant, const char *default_tenant, int64_t now,
                     actor_identity_t *out, char *reason, size_t reason_size) {
  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (reason != NULL && reason_size > 0)
    *reason = '\0';
  if (token == NULL || key == NULL || out == NULL)
    return ACTOR_EINVAL;
  size_t len = strnlen(token, ACTOR_JWT_MAX_LEN + 1);
  if (len > ACTOR_JWT_MAX_LEN)
    return actor_errorf(ACTOR_EAUTH, reason, reason_size, "the token is longer than %d bytes",
                        ACTOR_JWT_MAX_LEN);
  if (len == 0)
    return actor_errorf(ACTOR_EAUTH, reason, reason_size, "the token is empty");
  char asserted[ACTOR_AUTH_TENANT_MAX] = "", def[ACTOR_AUTH_TENANT_MAX] = "";
  if (tenant != NULL && norm_tenant(tenant, asserted) != 0)
    return actor_errorf(ACTOR_EAUTH, reason, reason_size, "the tenant name is not valid");
  if (default_tenant != NULL && *default_tenant && norm_tenant(default_tenant, def) != 0)
    return actor_errorf(ACTOR_EAUTH, reason, reason_size, "the default tenant name is not valid");

  unsigned char digest[32];
  int have_digest = cache != NULL && cache_digest(key, asserted, def, token, len, digest) == 0;
  if (have_digest && actor__jwt_cache_get(cache, digest, now, out))
    return 0;
  int rc = verify(key, token, len, asserted, def, now, out, reason, reason_size);
  if (rc != 0) {
    memset(out, 0, sizeof(*out));
    return rc;
  }
  if (have_digest)
    actor__jwt_cache_put(cache, digest, now, out);
  return 0;
}

int actor_jwt_peek_kid(const char *token, char *kid, size_t size) {
  if (size > 0)
    *kid = '\0';
  if (token == NULL)
    return ACTOR_EINVAL;
  size_t len = strnlen(token, ACTOR_JWT_MAX_LEN + 1);
  size_t d1 = 0, d2 = 0;
  if (len > ACTOR_JWT_MAX_LEN || split(token, len, &d1, &d2) != 0)
    return ACTOR_EAUTH;
  json_t *head = part_json(token, d1);
  if (head == NULL)
    return ACTOR_EAUTH;
  const char *k = json_string_value(json_object_get(head, "kid"));
  int rc = k ? 0 : ACTOR_ENOTFOUND;
  if (k != NULL && size > 0)
    snprintf(kid, size, "%s", k);
  json_decref(head);
  return rc;
}
