/* Secrets at rest (AES-256-GCM): round trips of text, empty and binary
 * values, the stored format, fresh nonces, refusal of a wrong key, of a
 * value bound to another context (aad), of every single-character change
 * and of truncation, and the argument checks. */
#include "actor/errors.h"
#include "actor/secret.h"
#include "b64_int.h"
#include "test.h"

static actor_secret_key_t key, other;

static void test_round_trip(void) {
  const char *vals[] = {"s3cr3t-password", "", "é ünïcødé ✓", "{\"json\": [1, 2]}"};
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    char *enc = NULL, *dec = NULL;
    size_t n = 99;
    ASSERT_EQ_INT(actor_secret_encrypt(&key, vals[i], strlen(vals[i]), "DEV_cfg", &enc), 0);
    ASSERT_TRUE(actor_secret_is_encrypted(enc));
    ASSERT_TRUE(strncmp(enc, "v1:", 3) == 0);
    ASSERT_TRUE(*vals[i] == '\0' || strstr(enc, vals[i]) == NULL);
    ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, "DEV_cfg", &dec, &n), 0);
    ASSERT_EQ_STR(dec, vals[i]);
    ASSERT_EQ_INT(n, strlen(vals[i]));
    /* Layout: nonce(12) | ciphertext(len) | tag(16). */
    unsigned char *raw = NULL;
    size_t rlen = 0;
    ASSERT_EQ_INT(actor__b64_decode(enc + 3, strlen(enc + 3), 0, &raw, &rlen), 0);
    ASSERT_EQ_INT(rlen, 12 + strlen(vals[i]) + 16);
    free(raw);
    actor_secret_free(dec, n);
    free(enc);
  }
  /* Binary with NUL bytes, no aad. */
  unsigned char bin[300];
  for (size_t i = 0; i < sizeof(bin); i++)
    bin[i] = (unsigned char)(i * 31);
  char *enc = NULL, *dec = NULL;
  size_t n = 0;
  ASSERT_EQ_INT(actor_secret_encrypt(&key, bin, sizeof(bin), NULL, &enc), 0);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, NULL, &dec, &n), 0);
  ASSERT_EQ_INT(n, sizeof(bin));
  ASSERT_TRUE(memcmp(dec, bin, sizeof(bin)) == 0);
  ASSERT_EQ_INT(dec[n], 0);
  actor_secret_free(dec, n);
  /* NULL aad and "" are the same context. */
  ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, "", &dec, NULL), 0);
  actor_secret_free(dec, sizeof(bin));
  free(enc);
  /* The same key text gives the same key. */
  actor_secret_key_t again;
  ASSERT_EQ_INT(actor_secret_key_init(&again, "correct horse battery staple"), 0);
  ASSERT_EQ_INT(actor_secret_encrypt(&again, "x", 1, NULL, &enc), 0);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, NULL, &dec, NULL), 0);
  ASSERT_EQ_STR(dec, "x");
  actor_secret_free(dec, 0);
  free(enc);
  actor_secret_key_wipe(&again);
  ASSERT_TRUE(!again.set);
}

static void test_fresh_nonce(void) {
  char *a = NULL, *b = NULL;
  ASSERT_EQ_INT(actor_secret_encrypt(&key, "same", 4, NULL, &a), 0);
  ASSERT_EQ_INT(actor_secret_encrypt(&key, "same", 4, NULL, &b), 0);
  ASSERT_TRUE(strcmp(a, b) != 0);
  ASSERT_TRUE(strncmp(a, b, 3 + 16) != 0); /* the nonces differ */
  free(a);
  free(b);
}

static void test_wrong_key_and_context(void) {
  char *enc = NULL, *dec = (char *)1;
  ASSERT_EQ_INT(actor_secret_encrypt(&key, "top secret", 10, "T_a", &enc), 0);
  ASSERT_EQ_INT(actor_secret_decrypt(&other, enc, "T_a", &dec, NULL), ACTOR_EAUTH);
  ASSERT_TRUE(dec == NULL);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, "T_b", &dec, NULL), ACTOR_EAUTH);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, enc, NULL, &dec, NULL), ACTOR_EAUTH);
  free(enc);
}

static void test_tamper(void) {
  char *enc = NULL, *dec = NULL;
  ASSERT_EQ_INT(actor_secret_encrypt(&key, "tamper with me", 14, "ctx", &enc), 0);
  size_t n = strlen(enc);
  char *t = malloc(n + 1);
  int refused = 0, tried = 0;
  /* Every character after the prefix, changed to another base64 letter. */
  for (size_t i = 3; i < n; i++) {
    if (enc[i] == '=')
      continue;
    strcpy(t, enc);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    tried++;
    int rc = actor_secret_decrypt(&key, t, "ctx", &dec, NULL);
    refused += rc == ACTOR_EAUTH || rc == ACTOR_EPARSE;
    if (rc == 0)
      actor_secret_free(dec, 0);
  }
  ASSERT_EQ_INT(refused, tried);
  /* Truncated at every length. */
  refused = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(t, enc, i);
    t[i] = '\0';
    int rc = actor_secret_decrypt(&key, t, "ctx", &dec, NULL);
    refused += rc == ACTOR_EAUTH || rc == ACTOR_EPARSE;
  }
  ASSERT_EQ_INT(refused, n);
  free(t);
  free(enc);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, "plain text", NULL, &dec, NULL), ACTOR_EPARSE);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, "v1:!!!!", NULL, &dec, NULL), ACTOR_EPARSE);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, "v1:", NULL, &dec, NULL), ACTOR_EPARSE);
  /* 28 zero bytes: a well-formed but forged empty value. */
  ASSERT_EQ_INT(
      actor_secret_decrypt(&key, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", NULL, &dec, NULL),
      ACTOR_EAUTH);
}

static void test_args(void) {
  actor_secret_key_t k;
  char *out = NULL;
  ASSERT_EQ_INT(actor_secret_key_init(&k, ""), ACTOR_ECONFIG);
  ASSERT_EQ_INT(actor_secret_key_init(&k, NULL), ACTOR_ECONFIG);
  ASSERT_TRUE(!k.set);
  ASSERT_EQ_INT(actor_secret_encrypt(&k, "x", 1, NULL, &out), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_secret_decrypt(&k, "v1:AAAA", NULL, &out, NULL), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_secret_encrypt(&key, NULL, 1, NULL, &out), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_secret_encrypt(&key, "x", ACTOR_SECRET_MAX + 1, NULL, &out), ACTOR_ETOOBIG);
  ASSERT_TRUE(out == NULL);
  ASSERT_TRUE(!actor_secret_is_encrypted(NULL));
  ASSERT_TRUE(!actor_secret_is_encrypted("v2:abc"));
  actor_secret_free(NULL, 0);
  /* The largest value round-trips. */
  char *big = malloc(ACTOR_SECRET_MAX);
  memset(big, 'z', ACTOR_SECRET_MAX);
  char *dec = NULL;
  size_t n = 0;
  ASSERT_EQ_INT(actor_secret_encrypt(&key, big, ACTOR_SECRET_MAX, NULL, &out), 0);
  ASSERT_EQ_INT(actor_secret_decrypt(&key, out, NULL, &dec, &n), 0);
  ASSERT_EQ_INT(n, ACTOR_SECRET_MAX);
  ASSERT_TRUE(dec && memcmp(dec, big, n) == 0);
  actor_secret_free(dec, n);
  free(out);
  free(big);
}

int main(void) {
  ASSERT_EQ_INT(actor_secret_key_init(&key, "correct horse battery staple"), 0);
  ASSERT_EQ_INT(actor_secret_key_init(&other, "correct horse battery staplE"), 0);
  RUN_TEST(test_round_trip);
  RUN_TEST(test_fresh_nonce);
  RUN_TEST(test_wrong_key_and_context);
  RUN_TEST(test_tamper);
  RUN_TEST(test_args);
  actor_secret_key_wipe(&key);
  actor_secret_key_wipe(&other);
  TEST_EXIT();
}
