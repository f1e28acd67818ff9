/* Identity from JWTs (API.md §2; docs/auth.md): RS256 verification with
 * OpenSSL, the WSO2 claims turned into an identity, tenant names, a cache of verified
 * tokens, the request-header helpers, and the platform tokens that clientg
 * issues to workers (signed with the platform key, revocable in Redis).
 * No HTTP types here: the API hands over header names and values.
 *
 * Ownership: every `const char *` argument is borrowed for the call only;
 * objects made by *_new / *_parse are owned by the caller and freed with
 * the matching *_free (which accepts NULL). Every function is thread safe
 * unless it says otherwise; a key or cache may be shared by all threads.
 *
 * How the API authenticates a request (see actor_auth_verify below):
 *   1. Find the token: actor_jwt_find_assertion() over the request headers
 *      (tenant = upper-cased suffix of `X-Jwt-Assertion-<TENANT>`), else
 *      actor_jwt_bearer() of `Authorization` (tenant NULL, default tenant
 *      [web] tenant_name, or the token's `tenant` claim: actor_jwt_peek_tenant).
 *   2. Pick the tenant's key: `<tenant>_apim_public_key` or
 *      `[web] apim_public_key`, parsed at start-up with actor_jwt_key_parse().
 *   3. actor_auth_verify(): platform tokens (header `kid` starting with
 *      ACTOR_PLATFORM_KID_PREFIX) are checked against the platform key named
 *      by that kid and must still be registered in Redis; every other token
 *      against the tenant's key. 0 = authenticated; ACTOR_EAUTH = 401 with
 *      `reason` in the message; other codes = 500 (Redis down, no memory). */
#ifndef ACTOR_AUTH_H
#define ACTOR_AUTH_H

#include "actor/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_redis_s;

/* A token longer than this is refused before any parsing. */
#define ACTOR_JWT_MAX_LEN (16 * 1024)

#define ACTOR_CLAIM_ENDUSER "http://wso2.org/claims/enduser"
#define ACTOR_CLAIM_ROLE "http://wso2.org/claims/role"
#define ACTOR_CLAIM_TENANT "tenant"
#define ACTOR_JWT_HEADER_PREFIX "X-Jwt-Assertion-"

#define ACTOR_AUTH_TENANT_MAX 64
#define ACTOR_AUTH_USER_MAX 128
/* A role claim can never be longer than the decoded payload of the longest
 * token (3 bytes per 4 characters): WSO2 lists every application
 * subscription of the user there, thousands of bytes for an administrator. */
#define ACTOR_AUTH_ROLES_MAX (ACTOR_JWT_MAX_LEN / 4 * 3)
#define ACTOR_AUTH_JTI_MAX 128
#define ACTOR_AUTH_KID_MAX 64
/* Enough for every reason text this module writes. */
#define ACTOR_AUTH_REASON_MAX 160

/* Who a verified token says the caller is. Plain data: copy it freely
 * (about 12.5 KiB: keep it off small stacks). */
typedef struct {
  char tenant[ACTOR_AUTH_TENANT_MAX]; /* upper case, e.g. "DEV-DEVELOP" */
  char username[ACTOR_AUTH_USER_MAX]; /* enduser claim cut at the first '@' */
  int nroles;
  int64_t exp;                  /* seconds since the epoch; 0 = no exp claim */
  char jti[ACTOR_AUTH_JTI_MAX]; /* "" when absent */
  bool platform;                /* issued by clientg (actor_auth_verify only) */
  /* The role claim (a comma-separated string, or a JSON array of strings),
   * re-joined with ',' after trimming blanks and dropping empty entries.
   * Last, so the cache keeps only the used part. */
  char roles[ACTOR_AUTH_ROLES_MAX];
} actor_identity_t;

/* Exact, case-sensitive match of one role (as Abaco compares them). */
bool actor_identity_has_role(const actor_identity_t *id, const char *role);
/* The same over any comma-separated role list (no blanks around entries). */
bool actor_roles_have(const char *roles, const char *role);

/* ---- tenant names ----
 * Letters, digits, '_', '-' and '.' (Abaco ships `tenant_name: dev_staging`),
 * 1 to ACTOR_AUTH_TENANT_MAX - 1 characters, compared case-insensitively:
 * everything here keeps them upper-cased. Storage keys put a tenant in
 * front of an id ("<TENANT>_<id>"): split them at the last '_' (hashids
 * never hold one), never the first. */
/* Writes the upper-cased name into out (size bytes, truncated names are
 * refused); 0, or ACTOR_EINVAL when `in` is NULL, empty, too long (or does
 * not fit in size) or holds another character. out is "" on error. */
ACTOR_MUST_CHECK int actor_tenant_norm(const char *in, char *out, size_t size);

/* ---- public keys ----
 * An RSA public key (at least 1024 bits) kept as the PEM text libjwt wants,
 * with its SHA-256 fingerprint (of the DER SubjectPublicKeyInfo). */
typedef struct actor_jwt_key_s actor_jwt_key_t;

/* `text` is what the config holds: base64 of a DER SubjectPublicKeyInfo
 * (blanks and newlines ignored), or a PEM "-----BEGIN PUBLIC KEY-----"
 * block. ACTOR_EINVAL when it is neither, not RSA, or too short;
 * ACTOR_ENOMEM. *out is NULL on error. */
ACTOR_MUST_CHECK int actor_jwt_key_parse(const char *text, actor_jwt_key_t **out);
void actor_jwt_key_free(actor_jwt_key_t *k);
/* PEM text (borrowed, valid while k lives) and its length. */
const char *actor_jwt_key_pem(const actor_jwt_key_t *k, size_t *len);
/* Whether tokens checked with k write `exp` in milliseconds (WSO2 API
 * Manager does; RFC 7519 says seconds, the default). Set it once, before k
 * is shared; platform keys never use it. */
void actor_jwt_key_set_exp_ms(actor_jwt_key_t *k, bool milliseconds);
/* "abaco-platform-" + the first 16 bytes of the fingerprint in hex: the
 * `kid` clientg puts in the tokens it signs with this key. */
void actor_jwt_key_kid(const actor_jwt_key_t *k, char kid[ACTOR_AUTH_KID_MAX]);
/* The converters on their own: *out is malloc'd text (transferred).
 * der_b64_to_pem validates the key the same way actor_jwt_key_parse does. */
ACTOR_MUST_CHECK int actor_pubkey_der_b64_to_pem(const char *b64, char **out);
ACTOR_MUST_CHECK int actor_pubkey_pem_to_der_b64(const char *pem, char **out);

/* ---- verified-token cache ----
 * Maps SHA-256(key fingerprint, tenant, default tenant, token) to the
 * identity, so a token is only trusted again for the same key and tenant.
 * Bounded (capacity entries, set-associative, the oldest entry of a full set
 * is replaced); an entry lives until the token's exp or max_age_s after it
 * was verified, whichever comes first. Failures are never cached. */
typedef struct actor_jwt_cache_s actor_jwt_cache_t;
#define ACTOR_JWT_CACHE_CAPACITY 1024
#define ACTOR_JWT_CACHE_MAX_AGE 300
/* capacity 0 / max_age_s 0 take the defaults above. */
ACTOR_MUST_CHECK int actor_jwt_cache_new(size_t capacity, int max_age_s, actor_jwt_cache_t **out);
void actor_jwt_cache_free(actor_jwt_cache_t *c);
void actor_jwt_cache_stats(actor_jwt_cache_t *c, uint64_t *hits, uint64_t *misses, size_t *entries);

/* ---- verification ----
 * Verifies an RS256 JWT with `key` (required) and fills *out.
 *   tenant: the tenant the request names (the header suffix), or NULL.
 *   default_tenant: used when neither `tenant` nor the token's "tenant"
 *     claim names one (the API's [web] tenant_name for Bearer tokens); may
 *     be NULL.
 *   A token whose "tenant" claim differs from `tenant` is refused, so a
 *   token made for one tenant is never accepted in another.
 *   now: seconds since the epoch.
 *   cache: may be NULL (no caching).
 * Each part is base64 in either alphabet (base64url, or the standard one
 * with '=' padding that WSO2 API Manager writes); after the signature's
 * padding anything but a '.' is ignored, as PyJWT does.
 * Refused (ACTOR_EAUTH, with a one-line reason in `reason`, which may be
 * NULL): longer than ACTOR_JWT_MAX_LEN, not three such parts, a header or
 * payload that is not a JSON object (duplicate keys included), header
 * `alg` other than exactly "RS256" or WSO2's "SHA256withRSA" (any case), a
 * `crit` header, a bad RSASSA-PKCS1-v1_5 SHA-256 signature, exp at or
 * before now (seconds, or milliseconds for a key set so with
 * actor_jwt_key_set_exp_ms), no enduser claim, an unusable tenant.
 * ACTOR_EINVAL for NULL token/key/out; ACTOR_ENOMEM. On error *out is
 * zeroed. The reason never contains the token. */
ACTOR_MUST_CHECK
int actor_jwt_verify(actor_jwt_cache_t *cache, const actor_jwt_key_t *key, const char *token,
                     const char *tenant, const char *default_tenant, int64_t now,
                     actor_identity_t *out, char *reason, size_t reason_size);

/* Reads the `kid` of a token's header without verifying anything (to pick
 * the key). 0 and the kid; ACTOR_ENOTFOUND when the header has none;
 * ACTOR_EAUTH when the header does not decode. */
ACTOR_MUST_CHECK int actor_jwt_peek_kid(const char *token, char *kid, size_t size);
/* Reads the payload's `tenant` claim the same way, unverified (to pick the
 * key of a Bearer token); upper-cased. 0; ACTOR_ENOTFOUND when there is
 * none; ACTOR_EAUTH when the payload does not decode or the claim is not a
 * tenant name. */
ACTOR_MUST_CHECK int actor_jwt_peek_tenant(const char *token, char *tenant, size_t size);

/* ---- finding the token in a request ---- */
typedef struct {
  const char *key;
  const char *value;
} actor_auth_kv_t;

/* 1 when `name` is `X-Jwt-Assertion-<TENANT>` (any case) with a non-empty
 * suffix, which is written upper-cased into tenant (truncated to size);
 * else 0. */
ACTOR_MUST_CHECK int actor_jwt_assertion_tenant(const char *name, char *tenant, size_t size);
/* The value of the first such header among n pairs (borrowed from kv), its
 * tenant in `tenant`; NULL when there is none. */
const char *actor_jwt_find_assertion(const actor_auth_kv_t *kv, size_t n, char *tenant,
                                     size_t size);
/* The token of an `Authorization: Bearer <jwt>` value (scheme in any case,
 * blanks skipped; a pointer into `authorization`), or NULL. */
const char *actor_jwt_bearer(const char *authorization);

/* ---- platform tokens (clientg) ----
 * clientg signs worker tokens with the platform private key ([clientg]
 * private_key_file) and publishes the public half in the Redis hash
 * ACTOR_PLATFORM_KEYS_HASH, field = the key's kid (actor_jwt_key_kid),
 * value = PEM. Each token carries that kid in its header, and the claims
 *   http://wso2.org/claims/enduser = "<owner>@<tenant>",
 *   http://wso2.org/claims/role = [web] user_role, tenant = "<TENANT>",
 *   iss = ACTOR_PLATFORM_ISSUER, iat, exp, jti = the worker id.
 * It is valid only while the Redis key actor_client_key(tenant, jti)
 * exists: clientg sets it (with the token's TTL) when it issues the token
 * and deletes it when the worker goes. */
#define ACTOR_PLATFORM_KEYS_HASH "abaco:platform_public_keys"
#define ACTOR_PLATFORM_KID_PREFIX "abaco-platform-"
#define ACTOR_PLATFORM_ISSUER "abaco-clientg"

/* "abaco:client:<TENANT>:<client_id>" into out (truncated to size). */
void actor_client_key(const char *tenant, const char *client_id, char *out, size_t size);
/* 1 when the key exists, 0 when not, ACTOR_ECONN/ACTOR_ESTORE. */
ACTOR_MUST_CHECK
int actor_client_active(struct store_redis_s *r, const char *tenant, const char *client_id);
/* Stores pub under its kid in ACTOR_PLATFORM_KEYS_HASH (clientg). */
ACTOR_MUST_CHECK
int actor_platform_key_publish(struct store_redis_s *r, const actor_jwt_key_t *pub);

/* Platform public keys read from Redis and kept in memory by kid (a kid is
 * the key's fingerprint, so an entry never goes stale). A key read from
 * Redis whose fingerprint does not match its kid is refused. */
typedef struct actor_platform_keys_s actor_platform_keys_t;
ACTOR_MUST_CHECK int actor_platform_keys_new(struct store_redis_s *r, actor_platform_keys_t **out);
void actor_platform_keys_free(actor_platform_keys_t *pk);
/* *out is borrowed, valid while pk lives. ACTOR_ENOTFOUND for an unknown
 * kid, ACTOR_EINVAL for a bad stored key, ACTOR_ECONN/ACTOR_ESTORE. */
ACTOR_MUST_CHECK int actor_platform_keys_get(actor_platform_keys_t *pk, const char *kid,
                                             const actor_jwt_key_t **out);

/* What actor_auth_verify needs; every member may be NULL. */
typedef struct {
  actor_jwt_cache_t *cache;
  const actor_jwt_key_t *tenant_key; /* the tenant's APIM key */
  actor_platform_keys_t *platform;   /* NULL: platform tokens are refused */
  struct store_redis_s *redis;       /* for the revocation check */
} actor_auth_keys_t;

/* The whole check of one token (see the top of this file). Platform tokens
 * additionally need jti and exp claims, and their client key
 * actor_client_key(out->tenant, jti) must exist in Redis (else "the token
 * has been revoked"), which also ties them to their tenant; out->platform
 * tells them apart. The verified-token cache never hides a revocation: the
 * Redis check runs on every call. Return codes as actor_jwt_verify, plus ACTOR_ECONN/ACTOR_ESTORE
 * when Redis cannot answer (a 500, not a 401). */
ACTOR_MUST_CHECK
int actor_auth_verify(const actor_auth_keys_t *keys, const char *token, const char *tenant,
                      const char *default_tenant, int64_t now, actor_identity_t *out, char *reason,
                      size_t reason_size);

#endif
