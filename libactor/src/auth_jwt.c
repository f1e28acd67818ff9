/* JWT verification (see actor/auth.h; docs/auth.md).
 *
 * Design note. The token is taken apart here, strictly, and the signature
 * is checked with OpenSSL directly: RSASSA-PKCS1-v1_5 over SHA-256, the
 * only algorithm there is, whatever the header says. (A generic library
 * verifies with the algorithm the token names: libjwt 1.10, handed our PEM
 * text, accepts an HS256 token whose HMAC key is that public text.) At most
 * ACTOR_JWT_MAX_LEN bytes, exactly three non-empty parts, a header and a
 * payload that are JSON objects without duplicate keys, `alg` "RS256" (or
 * WSO2's "SHA256withRSA"), no `crit`, then the signature over the text
 * before the second dot, exactly as received.
 *
 * The parts may use either base64 alphabet and '=' padding: WSO2 API
 * Manager writes the standard alphabet with padding, and Abaco's verifier
 * (PyJWT over Python's lenient base64) takes that and also ignores what
 * follows the signature's padding (Abaco's own test tokens end in such
 * debris). That one leniency is kept for the signature only; the signed
 * text is unaffected by it. The claims are read from the payload decoded
 * here: it is the very text the signature covers. The cache is consulted
 * before any of this, keyed by SHA-256 over the key fingerprint, the exp
 * unit, the tenants and the token, so a hit costs one hash and one mutex. */
#include <ctype.h>
#include <jansson.h>
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

bool actor_roles_have(const char *roles, const char *role) {
  size_t n = role ? strlen(role) : 0;
  if (n == 0 || roles == NULL)
    return false;
  for (const char *p = roles; *p;) {
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

bool actor_identity_has_role(const actor_identity_t *id, const char *role) {
  return actor_roles_have(id->roles, role);
}

static int norm_tenant(const char *in, char out[ACTOR_AUTH_TENANT_MAX]) {
  return actor_tenant_norm(in, out, ACTOR_AUTH_TENANT_MAX) == 0 ? 0 : -1;
}

static int b64_char(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c == '+' || c == '/';
}

/* Decodes one base64 part into a JSON object (new reference) or NULL. */
static json_t *part_json(const char *p, size_t len) {
  unsigned char *raw = NULL;
  size_t rlen = 0;
  if (actor__b64_decode(p, len, ACTOR__B64_ANY, &raw, &rlen) != 0)
    return NULL;
  json_t *v = json_loadb((const char *)raw, rlen, JSON_REJECT_DUPLICATES, NULL);
  free(raw);
  if (v != NULL && !json_is_object(v)) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

/* Splits token into header [0, d1), payload (d1, d2) and signature
 * (d2, d2 + 1 + *slen), the signature with its padding; after a padded
 * signature, any visible ASCII but '.' is ignored. 0, or -1 when the token
 * is not three non-empty parts of base64 characters. The decoders check
 * the rest (where '=' may stand, leftover bits). */
static int split(const char *token, size_t len, size_t *d1, size_t *d2, size_t *slen) {
  size_t i = 0, dot[2];
  for (int k = 0; k < 2; k++) {
    size_t start = i;
    while (i < len && (b64_char((unsigned char)token[i]) || token[i] == '='))
      i++;
    if (i == start || i >= len || token[i] != '.')
      return -1;
    dot[k] = i++;
  }
  size_t s = i;
  while (i < len && b64_char((unsigned char)token[i]))
    i++;
  size_t data = i - s;
  if (data == 0)
    return -1;
  if (i < len) { /* only the padding that completes the last quantum, then debris */
    size_t want = (4 - data % 4) % 4;
    if (token[i] != '=' || want == 0 || want > 2 || len - i < want ||
        strspn(token + i, "=") < want)
      return -1;
    i += want;
    for (size_t j = i; j < len; j++)
      if (token[j] <= ' ' || token[j] >= 0x7f || token[j] == '.')
        return -1;
  }
  *d1 = dot[0];
  *d2 = dot[1];
  *slen = i - s;
  return 0;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 of `signed_text` under key: 1 when the
 * signature verifies, 0 when not, ACTOR_ENOMEM. */
static int rs256_ok(const actor_jwt_key_t *key, const char *signed_text, size_t len,
                    const unsigned char *sig, size_t slen) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return ACTOR_ENOMEM;
  int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
           EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)signed_text, len) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* A time claim as seconds (RFC 7519 NumericDate; divided by 1000 when the
 * issuer writes milliseconds); -1 when it is not a non-negative number. */
static int64_t time_claim(const json_t *v, bool ms) {
  double d;
  if (json_is_integer(v))
    d = (double)json_integer_value(v);
  else if (json_is_real(v))
    d = json_real_value(v);
  else
    return -1;
  if (!isfinite(d) || d < 0 || d > 9e15)
    return -1;
  if (ms)
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
static int read_claims(const json_t *claims, bool exp_ms, const char *asserted, const char *def,
                       int64_t now, actor_identity_t *id, char *reason, size_t rsize) {
  const json_t *exp = json_object_get(claims, "exp");
  if (exp != NULL && !json_is_null(exp)) {
    int64_t t = time_claim(exp, exp_ms);
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
  unsigned char unit = key->exp_ms ? 'm' : 's';
  int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
           EVP_DigestUpdate(ctx, key->fp, sizeof(key->fp)) && EVP_DigestUpdate(ctx, &unit, 1) &&
           EVP_DigestUpdate(ctx, asserted, strlen(asserted) + 1) &&
           EVP_DigestUpdate(ctx, def, strlen(def) + 1) && EVP_DigestUpdate(ctx, token, len) &&
           EVP_DigestFinal_ex(ctx, digest, &dlen);
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : ACTOR_EIO;
}

/* Everything but the cache. */
static int verify(const actor_jwt_key_t *key, const char *token, size_t len, const char *asserted,
                  const char *def, int64_t now, actor_identity_t *out, char *reason, size_t rsize) {
  size_t d1 = 0, d2 = 0, s64 = 0;
  if (split(token, len, &d1, &d2, &s64) != 0)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token is not a well-formed JWT");
  json_t *head = part_json(token, d1);
  if (head == NULL)
    return actor_errorf(ACTOR_EAUTH, reason, rsize, "the token header is not a JSON object");
  int rc = 0;
  json_t *claims = NULL;
  unsigned char *sig = NULL;
  size_t slen = 0;
  const char *alg = json_string_value(json_object_get(head, "alg"));
  const char *typ = json_string_value(json_object_get(head, "typ"));
  if (alg == NULL) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token header names no algorithm");
    goto cleanup;
  }
  if (strcmp(alg, "RS256") != 0 && strcasecmp(alg, "SHA256withRSA") != 0) {
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
   * spares the RSA operation for cut signatures. */
  if (actor__b64_decode(token + d2 + 1, s64, ACTOR__B64_ANY, &sig, &slen) != 0 ||
      slen != (size_t)(key->bits + 7) / 8) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token signature does not verify");
    goto cleanup;
  }
  rc = rs256_ok(key, token, d2, sig, slen);
  if (rc < 0)
    goto cleanup;
  if (rc == 0) {
    rc = actor_errorf(ACTOR_EAUTH, reason, rsize, "the token signature does not verify");
    goto cleanup;
  }
  rc = read_claims(claims, key->exp_ms, asserted, def, now, out, reason, rsize);

cleanup:
  free(sig);
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

/* Part `which` (0 header, 1 payload) of a token as a JSON object, without
 * verifying anything. 0, or ACTOR_EAUTH. */
static int peek_part(const char *token, int which, json_t **out) {
  *out = NULL;
  size_t len = strnlen(token, ACTOR_JWT_MAX_LEN + 1);
  size_t d1 = 0, d2 = 0, s64 = 0;
  if (len > ACTOR_JWT_MAX_LEN || split(token, len, &d1, &d2, &s64) != 0)
    return ACTOR_EAUTH;
  *out = which == 0 ? part_json(token, d1) : part_json(token + d1 + 1, d2 - d1 - 1);
  return *out ? 0 : ACTOR_EAUTH;
}

/* Copies the string member `name` of part `which` into out (truncated to
 * size); ACTOR_ENOTFOUND when there is no such string. */
static int peek_string(const char *token, int which, const char *name, char *out, size_t size) {
  if (size > 0)
    *out = '\0';
  if (token == NULL)
    return ACTOR_EINVAL;
  json_t *part = NULL;
  int rc = peek_part(token, which, &part);
  if (rc != 0)
    return rc;
  const json_t *v = json_object_get(part, name);
  rc = json_is_string(v) ? 0 : ACTOR_ENOTFOUND;
  if (rc == 0 && size > 0)
    snprintf(out, size, "%s", json_string_value(v));
  json_decref(part);
  return rc;
}

int actor_jwt_peek_kid(const char *token, char *kid, size_t size) {
  return peek_string(token, 0, "kid", kid, size);
}

int actor_jwt_peek_tenant(const char *token, char *tenant, size_t size) {
  char raw[ACTOR_AUTH_TENANT_MAX + 1];
  int rc = peek_string(token, 1, ACTOR_CLAIM_TENANT, raw, sizeof(raw));
  if (size > 0)
    *tenant = '\0';
  if (rc == 0 && actor_tenant_norm(raw, tenant, size) != 0)
    rc = ACTOR_EAUTH;
  return rc;
}
