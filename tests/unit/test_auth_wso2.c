/* JWTs in exactly the shape WSO2 API Manager sends them to Abaco in
 * `X-Jwt-Assertion-<TENANT>`, signed here with a key pair of our own: the
 * three parts in the standard base64 alphabet with '=' padding, an `x5t`
 * header, alg RS256 or WSO2's "SHA256withRSA", the
 * http://wso2.org/claims/... claims, enduser "user@carbon.super", a role
 * claim listing 100 application subscriptions, exp in milliseconds.
 * Covers: they verify, and so does Abaco's debris after the signature's
 * padding; every tampering and every other algorithm is still refused;
 * exp read as seconds by default and as milliseconds with
 * actor_jwt_key_set_exp_ms (the cache never mixes the two); role claims up
 * to the token size limit; tenant names with '_' (actor_tenant_norm and
 * the tenant claim); actor_jwt_peek_tenant. */
#include <jansson.h>
#include <openssl/sha.h>
#include <time.h>

#include "actor/auth.h"
#include "actor/errors.h"
#include "jwt_test_keys.h"
#include "test.h"

static EVP_PKEY *priv;
static actor_jwt_key_t *key, *key_ms; /* the same public key; key_ms reads exp in ms */
static int64_t now;
static char x5t[128];
static char reason[ACTOR_AUTH_REASON_MAX];
static actor_identity_t ident;

static int check(const actor_jwt_key_t *k, const char *tok, const char *tenant) {
  return actor_jwt_verify(NULL, k, tok, tenant, NULL, now, &ident, reason, sizeof(reason));
}

static void expect_refused(const actor_jwt_key_t *k, const char *tok, const char *why,
                           const char *what) {
  int rc = check(k, tok, "DEV_STAGING");
  if (rc != ACTOR_EAUTH || strstr(reason, why) == NULL)
    fprintf(stderr, "  case %s: rc %d reason \"%s\" (wanted \"%s\")\n", what, rc, reason, why);
  ASSERT_EQ_INT(rc, ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, why) != NULL);
  ASSERT_EQ_STR(ident.username, "");
}

/* WSO2's header: typ, alg and x5t (base64 of the hex SHA-1 thumbprint). */
static char *wso2_header(const char *alg) {
  char *h = malloc(256);
  snprintf(h, 256, "{\"typ\":\"JWT\",\"alg\":\"%s\",\"x5t\":\"%s\"}", alg, x5t);
  return h;
}

/* WSO2's claims for testuser with nroles roles (Internal/abaco-admin among
 * them unless nroles is 0) and the given exp (JSON text, or NULL for none).
 * `extra` is spliced in as more claims (or ""). */
static char *wso2_claims(int nroles, const char *exp, const char *extra) {
  size_t cap = 64 + (size_t)nroles * 64 + 2048 + strlen(extra);
  char *roles = malloc(cap), *out = malloc(cap + 1024);
  /* the subscriptions around it: Internal/<TENANT>_<user>_<app>_PRODUCTION */
  size_t off = 0;
  roles[0] = '\0';
  for (int i = 0; i < nroles; i++) {
    if (i == nroles / 2)
      off += (size_t)snprintf(roles + off, cap - off, "%sInternal/abaco-admin", i ? "," : "");
    else
      off += (size_t)snprintf(roles + off, cap - off,
                              "%sInternal/DEV_STAGING_testuser_client-%d_PRODUCTION", i ? "," : "",
                              1496345350 + i);
  }
  snprintf(out, cap + 1024,
           "{\"iss\":\"wso2.org/products/am\",%s%s%s"
           "\"http://wso2.org/claims/subscriber\":\"DEV_STAGING/testuser\","
           "\"http://wso2.org/claims/applicationid\":\"236\","
           "\"http://wso2.org/claims/applicationname\":\"test\","
           "\"http://wso2.org/claims/applicationtier\":\"Unlimited\","
           "\"http://wso2.org/claims/apicontext\":\"/actors/v2\","
           "\"http://wso2.org/claims/version\":\"v2\","
           "\"http://wso2.org/claims/tier\":\"Unlimited\","
           "\"http://wso2.org/claims/keytype\":\"PRODUCTION\","
           "\"http://wso2.org/claims/usertype\":\"APPLICATION\","
           "\"http://wso2.org/claims/enduser\":\"testuser@carbon.super\","
           "\"http://wso2.org/claims/enduserTenantId\":\"-1234\","
           "\"http://wso2.org/claims/emailaddress\":\"testuser@test.com\","
           "\"http://wso2.org/claims/fullname\":\"test user\","
           "\"http://wso2.org/claims/role\":\"%s\"%s}",
           exp ? "\"exp\":" : "", exp ? exp : "", exp ? "," : "", roles, extra);
  free(roles);
  return out;
}

/* A WSO2-shaped token: standard alphabet with padding. */
static char *wso2_token(const char *alg, int nroles, const char *exp, const char *extra) {
  char *h = wso2_header(alg), *c = wso2_claims(nroles, exp, extra);
  char *t = jwt_test_sign(priv, h, c, 0, 1);
  free(h);
  free(c);
  return t;
}

static char *ms_exp(int64_t seconds_from_now) {
  static char buf[32];
  snprintf(buf, sizeof(buf), "%lld", (long long)(now + seconds_from_now) * 1000 + 205);
  return buf;
}

static void test_accepted(void) {
  char *t = wso2_token("RS256", 100, ms_exp(3600), "");
  /* the shape under test: standard alphabet and padding in the text */
  ASSERT_TRUE(strpbrk(t, "+/") != NULL);
  ASSERT_TRUE(strchr(t, '=') != NULL);
  ASSERT_TRUE(strchr(t, '=') < strchr(t, '.')); /* the header is padded */
  ASSERT_TRUE(strlen(t) > 4096);
  int rc = check(key, t, "DEV_STAGING");
  if (rc != 0)
    fprintf(stderr, "  WSO2 token refused: %s\n", reason);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_STR(ident.username, "testuser");
  ASSERT_EQ_STR(ident.tenant, "DEV_STAGING");
  ASSERT_EQ_INT(ident.nroles, 100);
  ASSERT_TRUE(actor_identity_has_role(&ident, "Internal/abaco-admin"));
  const char *last = "Internal/DEV_STAGING_testuser_client-1496345449_PRODUCTION";
  ASSERT_TRUE(actor_identity_has_role(&ident, last));
  ASSERT_EQ_INT(ident.exp, (now + 3600) * 1000 + 205); /* seconds by default */

  /* Abaco's test tokens end in "[\r][\n]" after the signature's padding:
   * PyJWT ignores it, so do we. */
  char *debris = malloc(strlen(t) + 16);
  sprintf(debris, "%s[\\r][\\n]", t);
  ASSERT_EQ_INT(check(key, debris, "dev_staging"), 0);
  ASSERT_EQ_STR(ident.username, "testuser");
  free(debris);
  free(t);

  /* WSO2's own name of the algorithm. */
  t = wso2_token("SHA256withRSA", 100, ms_exp(3600), "");
  ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
  ASSERT_EQ_INT(ident.nroles, 100);
  free(t);
  t = wso2_token("SHA256WITHRSA", 3, ms_exp(3600), "");
  ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
  free(t);

  /* The same claims in base64url without padding, and in the standard
   * alphabet without padding, verify too. */
  char *h = wso2_header("RS256"), *c = wso2_claims(100, ms_exp(3600), "");
  for (int v = 0; v < 2; v++) {
    t = jwt_test_sign(priv, h, c, v == 0, 0);
    ASSERT_TRUE(strchr(t, '=') == NULL);
    ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
    ASSERT_EQ_INT(ident.nroles, 100);
    free(t);
  }
  free(h);
  free(c);
}

/* Replaces part `which` (0 header, 1 payload) of tok with `text` encoded
 * the WSO2 way, keeping the signature. */
static char *swap_part(const char *tok, int which, const char *text) {
  const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
  char *enc = jwt_test_b64(text, strlen(text), 0, 1);
  size_t n = strlen(tok) + strlen(enc) + 1;
  char *out = malloc(n);
  if (which == 0)
    snprintf(out, n, "%s%s", enc, d1);
  else
    snprintf(out, n, "%.*s.%s%s", (int)(d1 - tok), tok, enc, d2);
  free(enc);
  return out;
}

static void test_refused(void) {
  char *t = wso2_token("RS256", 100, ms_exp(3600), "");
  const char *sig = strrchr(t, '.') + 1;
  size_t n = strlen(t);

  /* tampered header (the alg renamed) and payload (one more claim) */
  char *h = wso2_header("SHA256withRSA");
  char *bad = swap_part(t, 0, h);
  expect_refused(key, bad, "signature does not verify", "header re-encoded");
  free(bad);
  free(h);
  char *c = wso2_claims(100, ms_exp(3600), ",\"x\":1");
  bad = swap_part(t, 1, c);
  expect_refused(key, bad, "signature does not verify", "payload re-encoded");
  free(bad);
  free(c);
  /* one character of the payload or signature changed */
  bad = strdup(t);
  bad[strchr(t, '.') - t + 40] ^= 1;
  ASSERT_EQ_INT(check(key, bad, "DEV_STAGING"), ACTOR_EAUTH);
  strcpy(bad, t);
  bad[sig - t + 10] = bad[sig - t + 10] == '+' ? '/' : '+';
  expect_refused(key, bad, "signature does not verify", "signature changed");
  free(bad);

  /* The debris rule is narrow: only after complete padding, visible ASCII,
   * no '.', and the padding itself must be right. */
  ASSERT_TRUE(t[n - 1] == '=' && t[n - 2] == '='); /* RSA-2048: 256 bytes, "==" */
  bad = malloc(n + 32);
  static const struct {
    size_t cut; /* characters of t kept */
    const char *tail, *what;
  } cases[] = {
      {1, "x=", "debris before the padding"}, {1, "[\\r]", "one '=' of two, then debris"},
      {0, ".x", "a fourth part"},             {0, "a b", "a blank in the debris"},
      {0, "\xc3\xa9", "non-ASCII debris"},    {0, "\t", "a control character"},
      {2, "AA", "data where the padding was"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(bad, n + 32, "%.*s%s", (int)(n - cases[i].cut), t, cases[i].tail);
    int rc = check(key, bad, "DEV_STAGING");
    if (rc != ACTOR_EAUTH)
      fprintf(stderr, "  case %s: accepted\n", cases[i].what);
    ASSERT_EQ_INT(rc, ACTOR_EAUTH);
  }
  /* '=' where no padding belongs, with or without debris after it. */
  char *u = jwt_test_sign(priv, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                          "{\"http://wso2.org/claims/enduser\":\"a@carbon.super\"}", 1, 0);
  size_t un = strlen(u);
  ASSERT_EQ_INT(check(key, u, "T"), 0);
  char *v = malloc(un + 8);
  snprintf(v, un + 8, "%s===", u); /* 342 data characters: "==" completes, "=" is debris */
  ASSERT_EQ_INT(check(key, v, "T"), 0);
  snprintf(v, un + 8, "%.*s=x", (int)(un - 2), u); /* 340 characters: no padding belongs */
  ASSERT_EQ_INT(check(key, v, "T"), ACTOR_EAUTH);
  free(v);
  free(u);
  free(bad);
  free(t);

  /* Every other algorithm, in WSO2's shape and signed with our key. */
  static const char *const algs[] = {"none", "None", "HS256", "HS512", "RS384", "RS512", "PS256",
                                     "ES256", "SHA512withRSA", "SHA1withRSA", "rs256", ""};
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
    t = wso2_token(algs[i], 5, ms_exp(3600), "");
    expect_refused(key, t, "", algs[i]);
    if (*algs[i])
      ASSERT_TRUE(strstr(reason, "is not accepted") != NULL);
    free(t);
  }
  /* alg none with an empty signature, the standard alphabet and padding */
  h = wso2_header("none");
  c = wso2_claims(5, ms_exp(3600), "");
  char *hb = jwt_test_b64(h, strlen(h), 0, 1), *cb = jwt_test_b64(c, strlen(c), 0, 1);
  bad = malloc(strlen(hb) + strlen(cb) + 8);
  sprintf(bad, "%s.%s.", hb, cb);
  ASSERT_EQ_INT(check(key, bad, "DEV_STAGING"), ACTOR_EAUTH);
  free(bad);
  free(hb);
  free(cb);
  free(h);
  free(c);

  /* Another key's signature. */
  EVP_PKEY *other = EVP_RSA_gen(2048);
  h = wso2_header("RS256");
  c = wso2_claims(100, ms_exp(3600), "");
  t = jwt_test_sign(other, h, c, 0, 1);
  expect_refused(key, t, "signature does not verify", "another key");
  free(t);
  free(h);
  free(c);
  EVP_PKEY_free(other);

  /* A WSO2 token past the size limit. */
  t = wso2_token("RS256", 300, ms_exp(3600), "");
  ASSERT_TRUE(strlen(t) > ACTOR_JWT_MAX_LEN);
  expect_refused(key, t, "longer than", "oversized");
  free(t);
}

static void test_exp_units(void) {
  actor_jwt_cache_t *cache = NULL;
  ASSERT_EQ_INT(actor_jwt_cache_new(0, 0, &cache), 0);
  char secs[32];
  /* An expired millisecond exp: accepted as seconds, refused as ms. */
  char *t = wso2_token("RS256", 10, ms_exp(-60), "");
  ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
  expect_refused(key_ms, t, "expired", "expired ms exp, ms setting");
  /* The cache keeps the two readings apart, in either order. */
  ASSERT_EQ_INT(actor_jwt_verify(cache, key, t, "T", NULL, now, &ident, reason, 160), 0);
  ASSERT_EQ_INT(actor_jwt_verify(cache, key, t, "T", NULL, now, &ident, reason, 160), 0);
  ASSERT_EQ_INT(actor_jwt_verify(cache, key_ms, t, "T", NULL, now, &ident, reason, 160),
                ACTOR_EAUTH);
  free(t);
  t = wso2_token("RS256", 10, ms_exp(3600), "");
  ASSERT_EQ_INT(actor_jwt_verify(cache, key_ms, t, "T", NULL, now, &ident, reason, 160), 0);
  ASSERT_EQ_INT(ident.exp, now + 3600);
  /* past the exp read in ms, the cached entry is gone too */
  ASSERT_EQ_INT(actor_jwt_verify(cache, key_ms, t, "T", NULL, now + 3601, &ident, reason, 160),
                ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, "expired") != NULL);
  ASSERT_EQ_INT(actor_jwt_verify(cache, key, t, "T", NULL, now + 3601, &ident, reason, 160), 0);
  free(t);
  /* A seconds exp under the ms setting is in January 1970. */
  snprintf(secs, sizeof(secs), "%lld", (long long)now + 3600);
  t = wso2_token("RS256", 10, secs, "");
  ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
  ASSERT_EQ_INT(ident.exp, now + 3600);
  expect_refused(key_ms, t, "expired", "seconds exp, ms setting");
  free(t);
  /* No exp at all is fine either way. */
  t = wso2_token("RS256", 10, NULL, "");
  ASSERT_EQ_INT(check(key_ms, t, "DEV_STAGING"), 0);
  ASSERT_EQ_INT(ident.exp, 0);
  free(t);
  actor_jwt_cache_free(cache);
}

/* The administrator of the issue: 69 roles in 4,623 characters, and role
 * claims up to what a token of ACTOR_JWT_MAX_LEN can hold. */
static void test_role_size(void) {
  actor_jwt_cache_t *cache = NULL;
  ASSERT_EQ_INT(actor_jwt_cache_new(0, 0, &cache), 0);
  int counts[] = {69, 100, 180};
  for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
    char *t = wso2_token("RS256", counts[k], ms_exp(60), "");
    ASSERT_TRUE(strlen(t) <= ACTOR_JWT_MAX_LEN);
    for (int pass = 0; pass < 2; pass++) { /* the second from the cache */
      int rc = actor_jwt_verify(cache, key, t, "DEV_STAGING", NULL, now, &ident, reason, 160);
      if (rc != 0)
        fprintf(stderr, "  %d roles refused: %s\n", counts[k], reason);
      ASSERT_EQ_INT(rc, 0);
      ASSERT_EQ_INT(ident.nroles, counts[k]);
      ASSERT_TRUE(actor_identity_has_role(&ident, "Internal/abaco-admin"));
      char last[96];
      snprintf(last, sizeof(last), "Internal/DEV_STAGING_testuser_client-%d_PRODUCTION",
               1496345350 + counts[k] - 1);
      ASSERT_TRUE(actor_identity_has_role(&ident, last));
    }
    if (counts[k] == 180)
      ASSERT_TRUE(strlen(ident.roles) > 9000);
    free(t);
  }
  uint64_t hits = 0;
  actor_jwt_cache_stats(cache, &hits, NULL, NULL);
  ASSERT_EQ_INT(hits, 3);
  actor_jwt_cache_free(cache);
}

static void test_tenant_names(void) {
  char out[ACTOR_AUTH_TENANT_MAX];
  static const struct {
    const char *in, *want;
  } ok[] = {{"dev_staging", "DEV_STAGING"}, {"DEV-DEVELOP", "DEV-DEVELOP"},
            {"tacc.prod", "TACC.PROD"},     {"a", "A"},
            {"_", "_"},                     {"Dev_Staging-2.x", "DEV_STAGING-2.X"}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    ASSERT_EQ_INT(actor_tenant_norm(ok[i].in, out, sizeof(out)), 0);
    ASSERT_EQ_STR(out, ok[i].want);
  }
  static const char *const bad[] = {"", "a b", "a/b", "a*b", "a:b", "\xc3\xa9", "a\n", "a@b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ASSERT_EQ_INT(actor_tenant_norm(bad[i], out, sizeof(out)), ACTOR_EINVAL);
    ASSERT_EQ_STR(out, "");
  }
  ASSERT_EQ_INT(actor_tenant_norm(NULL, out, sizeof(out)), ACTOR_EINVAL);
  char longest[ACTOR_AUTH_TENANT_MAX + 1];
  memset(longest, 'x', sizeof(longest));
  longest[ACTOR_AUTH_TENANT_MAX - 1] = '\0';
  ASSERT_EQ_INT(actor_tenant_norm(longest, out, sizeof(out)), 0);
  longest[ACTOR_AUTH_TENANT_MAX - 1] = 'x';
  longest[ACTOR_AUTH_TENANT_MAX] = '\0';
  ASSERT_EQ_INT(actor_tenant_norm(longest, out, sizeof(out)), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_tenant_norm("abcd", out, 4), ACTOR_EINVAL); /* does not fit */

  /* The tenant claim and the header's tenant compare case-insensitively. */
  char *t = wso2_token("RS256", 3, ms_exp(60), ",\"tenant\":\"dev_staging\"");
  ASSERT_EQ_INT(check(key, t, "DEV_STAGING"), 0);
  ASSERT_EQ_INT(check(key, t, NULL), 0);
  ASSERT_EQ_STR(ident.tenant, "DEV_STAGING");
  ASSERT_EQ_INT(check(key, t, "DEV"), ACTOR_EAUTH);
  ASSERT_TRUE(strstr(reason, "issued for tenant DEV_STAGING, not DEV") != NULL);
  ASSERT_EQ_INT(actor_jwt_peek_tenant(t, out, sizeof(out)), 0);
  ASSERT_EQ_STR(out, "DEV_STAGING");
  free(t);
  t = wso2_token("RS256", 3, ms_exp(60), "");
  ASSERT_EQ_INT(actor_jwt_peek_tenant(t, out, sizeof(out)), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(actor_jwt_verify(NULL, key, t, NULL, "dev_staging", now, &ident, reason, 160), 0);
  ASSERT_EQ_STR(ident.tenant, "DEV_STAGING");
  free(t);
  t = wso2_token("RS256", 3, ms_exp(60), ",\"tenant\":\"dev staging\"");
  ASSERT_EQ_INT(actor_jwt_peek_tenant(t, out, sizeof(out)), ACTOR_EAUTH);
  ASSERT_EQ_STR(out, "");
  free(t);
  ASSERT_EQ_INT(actor_jwt_peek_tenant("a.b.c", out, sizeof(out)), ACTOR_EAUTH);
}

int main(void) {
  now = (int64_t)time(NULL);
  priv = EVP_RSA_gen(2048);
  char *pub = jwt_test_der_b64(priv);
  ASSERT_EQ_INT(actor_jwt_key_parse(pub, &key), 0);
  ASSERT_EQ_INT(actor_jwt_key_parse(pub, &key_ms), 0);
  actor_jwt_key_set_exp_ms(key_ms, true);
  /* x5t as WSO2 writes it: base64 of the hex SHA-1 of the key (here) */
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)pub, strlen(pub), sha);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
    snprintf(hex + 2 * i, 3, "%02x", sha[i]);
  char *b = jwt_test_b64(hex, strlen(hex), 0, 1);
  snprintf(x5t, sizeof(x5t), "%s", b);
  free(b);
  free(pub);
  RUN_TEST(test_accepted);
  RUN_TEST(test_refused);
  RUN_TEST(test_exp_units);
  RUN_TEST(test_role_size);
  RUN_TEST(test_tenant_names);
  actor_jwt_key_free(key);
  actor_jwt_key_free(key_ms);
  EVP_PKEY_free(priv);
  TEST_EXIT();
}
