/* Unit tests for actor/ids.h: hashids against vectors produced by the
 * reference Python `hashids` 1.3.1 package (including the published ones,
 * e.g. "this is my salt": [12345] -> "NkK9"), rejection of strings that do
 * not re-encode, and the uniqueness/shape of actor_id_new() across threads. */
#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/timefmt.h"
#include "test.h"

#include <pthread.h>

struct vector {
  const char *salt;
  size_t min_length;
  const char *alphabet;
  size_t n;
  uint64_t nums[4];
  const char *hash;
};

/* Generated with: Hashids(salt=..., min_length=..., alphabet=...).encode(*nums) */
static const struct vector vectors[] = {
    {"this is my salt", 0, NULL, 1, {UINT64_C(12345)}, "NkK9"},
    {"this is my salt", 0, NULL, 4, {UINT64_C(683), UINT64_C(94108), UINT64_C(123), UINT64_C(5)}, "aBMswoO2UB3Sj"},
    {"this is my salt", 0, NULL, 3, {UINT64_C(1), UINT64_C(2), UINT64_C(3)}, "laHquq"},
    {"this is my salt", 8, NULL, 1, {UINT64_C(1)}, "gB0NV05e"},
    {"", 0, NULL, 3, {UINT64_C(1), UINT64_C(2), UINT64_C(3)}, "o2fXhV"},
    {"", 0, NULL, 1, {UINT64_C(0)}, "gY"},
    {"", 0, NULL, 1, {UINT64_C(18446744073709551615)}, "AOo9Ql5nQR1VO"},
    {"this is my salt", 0, NULL, 1, {UINT64_C(9223372036854775807)}, "jvNx4BjM5KYjv"},
    {"this is my salt", 0, NULL, 4, {UINT64_C(1), UINT64_C(0), UINT64_C(18446744073709551615), UINT64_C(42)}, "laHRU8VzXZr7XB6k8sD"},
    {"eJa5wZlEX4eWU", 0, NULL, 1, {UINT64_C(7301049174592221185)}, "pOQGDerrlpJBJ"},
    {"eJa5wZlEX4eWU", 0, NULL, 1, {UINT64_C(3735406254301659136)}, "MVyRqjWkevZVD"},
    {"this is my salt", 18, NULL, 1, {UINT64_C(1)}, "aJEDngB0NV05ev1WwP"},
    {"this is my salt", 50, NULL, 3, {UINT64_C(1), UINT64_C(2), UINT64_C(3)}, "arwE2q487KZPVgxzNb59LGlaHquq06DmlyMX3okOQWRneYJpj1"},
    {"this is my salt", 100, NULL, 1, {UINT64_C(5)}, "z34Br2Mm5aLzklPbjBKDy9qEXVeqEnaRPgpNbx7W4vB2D6MZ0rDdozOryjYVJ9L31m5wk8lQXKRo71Q6e8wxZ4vOpYWN3JgnyMD5"},
    {"arbitrary salt", 16, "abcdefghijkl0123456", 3, {UINT64_C(1), UINT64_C(23), UINT64_C(456)}, "1d6216i30h53elk3"},
    {"", 0, "abcdefghijklmnop", 3, {UINT64_C(1), UINT64_C(2), UINT64_C(3)}, "ljflhe"},
    {"salt", 0, "cfhistuCFHISTU01", 2, {UINT64_C(7), UINT64_C(99)}, "1111h0011100"},
    {"salt", 10, "cfhistuCFHISTU01", 1, {UINT64_C(3)}, "010s011s10"},
    {"sälz ünicode ✓", 0, NULL, 1, {UINT64_C(123456789)}, "zo2zpk"},
    {"a much longer salt than the alphabet itself has characters, really quite long indeed ok", 0, NULL, 2, {UINT64_C(987654321), UINT64_C(1)}, "vXD1qMXIr"},
    {"x", 20, "0123456789abcdef", 2, {UINT64_C(255), UINT64_C(4096)}, "26ebd3ee9ec7d543a498"},
    {"this is my salt", 0, "!#$%&()*+,-./:;<=>?@[]^_`{|}~", 1, {UINT64_C(31337)}, "{{,:["},
};

static void test_vectors(void) {
  for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
    const struct vector *t = &vectors[v];
    actor_hashids_t *h = NULL;
    char out[256];
    uint64_t back[8];
    size_t n = 0;
    ASSERT_EQ_INT(actor_hashids_new(t->salt, t->min_length, t->alphabet, &h), 0);
    if (h == NULL)
      continue;
    ASSERT_EQ_INT(actor_hashids_encode(h, t->nums, t->n, out, sizeof(out)), 0);
    ASSERT_EQ_STR(out, t->hash);
    ASSERT_EQ_INT(actor_hashids_decode(h, t->hash, back, 8, &n), 0);
    ASSERT_EQ_INT(n, t->n);
    for (size_t i = 0; i < n && i < t->n; i++)
      ASSERT_EQ_INT(back[i] == t->nums[i], 1);
    actor_hashids_free(h);
  }
}

static void test_invalid_decodes(void) {
  actor_hashids_t *h = NULL;
  uint64_t nums[4];
  size_t n = 99;
  ASSERT_EQ_INT(actor_hashids_new("this is my salt", 0, NULL, &h), 0);
  /* Each of these decodes to () in the reference implementation. */
  const char *bad[] = {"NkK8", "aBMswoO2UB3Sk", "", "NkK9NkK9", "laHquq-"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    n = 99;
    ASSERT_EQ_INT(actor_hashids_decode(h, bad[i], nums, 4, &n), ACTOR_EPARSE);
    ASSERT_EQ_INT(n, 0);
  }
  /* A valid 4-number hash does not fit in 2 slots. */
  ASSERT_EQ_INT(actor_hashids_decode(h, "aBMswoO2UB3Sj", nums, 2, &n), ACTOR_ETOOBIG);
  /* Wrong salt: valid characters, but does not re-encode. */
  actor_hashids_t *other = NULL;
  ASSERT_EQ_INT(actor_hashids_new("another salt", 0, NULL, &other), 0);
  ASSERT_EQ_INT(actor_hashids_decode(other, "aBMswoO2UB3Sj", nums, 4, &n), ACTOR_EPARSE);
  actor_hashids_free(other);
  actor_hashids_free(h);
}

static void test_encode_limits(void) {
  actor_hashids_t *h = NULL;
  char small[5], out[64];
  uint64_t one = 12345;
  ASSERT_EQ_INT(actor_hashids_new("this is my salt", 0, NULL, &h), 0);
  ASSERT_EQ_INT(actor_hashids_encode(h, &one, 1, small, 4), ACTOR_ETOOBIG);
  ASSERT_EQ_INT(actor_hashids_encode(h, &one, 1, small, sizeof(small)), 0); /* "NkK9" + NUL */
  ASSERT_EQ_STR(small, "NkK9");
  ASSERT_EQ_INT(actor_hashids_encode(h, NULL, 0, out, sizeof(out)), 0);
  ASSERT_EQ_STR(out, "");
  actor_hashids_free(h);
  h = (actor_hashids_t *)1;
  ASSERT_EQ_INT(actor_hashids_new("", 0, "abcdefghijklmno", &h), ACTOR_EINVAL); /* 15 chars */
  ASSERT_TRUE(h == NULL);
  ASSERT_EQ_INT(actor_hashids_new("", 0, "abcdefghijklmnopqrstuvwxyzaaaa", &h), 0);
  actor_hashids_free(h);
  ASSERT_EQ_INT(actor_hashids_new("", 0, "abcdefgh ijklmnopqrstuvwxyz", &h), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_hashids_new("", 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &h), ACTOR_EINVAL);
}

#define THREADS 4
#define PER_THREAD 20000

static char ids[THREADS * PER_THREAD][ACTOR_ID_MAX];

static void *make_ids(void *arg) {
  size_t base = (size_t)arg * PER_THREAD;
  for (size_t i = 0; i < PER_THREAD; i++)
    if (actor_id_new(ids[base + i]) != 0)
      ids[base + i][0] = '\0';
  return NULL;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static void test_unique_ids(void) {
  pthread_t th[THREADS];
  int64_t before = actor_time_now_ms();
  for (size_t i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, make_ids, (void *)i);
  for (size_t i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  int64_t after = actor_time_now_ms();

  /* Every id decodes (default salt) to one number whose top bits are the
   * creation time in ms, and is Abaco-like in length. */
  actor_hashids_t *h = NULL;
  ASSERT_EQ_INT(actor_hashids_new(ACTOR_DEFAULT_SALT, 0, NULL, &h), 0);
  int bad_len = 0, bad_decode = 0, bad_time = 0;
  for (size_t i = 0; i < THREADS * PER_THREAD; i++) {
    uint64_t num = 0;
    size_t n = 0;
    size_t len = strlen(ids[i]);
    if (len < 12 || len > 14)
      bad_len++;
    if (actor_hashids_decode(h, ids[i], &num, 1, &n) != 0 || n != 1 || (num >> 63) != 0) {
      bad_decode++;
      continue;
    }
    int64_t ms = (int64_t)(num >> 21);
    if (ms < before || ms > after + 1000)
      bad_time++;
  }
  ASSERT_EQ_INT(bad_len, 0);
  ASSERT_EQ_INT(bad_decode, 0);
  ASSERT_EQ_INT(bad_time, 0);
  ASSERT_EQ_INT(strlen(ids[0]), 13);

  qsort(ids, THREADS * PER_THREAD, ACTOR_ID_MAX, cmp_id);
  int dups = 0;
  for (size_t i = 1; i < THREADS * PER_THREAD; i++)
    if (strcmp(ids[i - 1], ids[i]) == 0)
      dups++;
  ASSERT_EQ_INT(dups, 0);
  actor_hashids_free(h);

  /* actor_token_new: 64 lower-case hex characters, a new one each call */
  char t1[ACTOR_TOKEN_MAX], t2[ACTOR_TOKEN_MAX];
  ASSERT_EQ_INT(actor_token_new(t1), 0);
  ASSERT_EQ_INT(actor_token_new(t2), 0);
  ASSERT_EQ_INT(strlen(t1), 64);
  ASSERT_EQ_INT(strspn(t1, "0123456789abcdef"), 64);
  ASSERT_TRUE(strcmp(t1, t2) != 0);
}

static void test_ids_salt(void) {
  char id[ACTOR_ID_MAX];
  uint64_t num;
  size_t n;
  actor_hashids_t *def = NULL, *mine = NULL;
  ASSERT_EQ_INT(actor_hashids_new(ACTOR_DEFAULT_SALT, 0, NULL, &def), 0);
  ASSERT_EQ_INT(actor_hashids_new("my own salt", 0, NULL, &mine), 0);
  ASSERT_EQ_INT(actor_ids_init("my own salt"), 0);
  ASSERT_EQ_INT(actor_id_new(id), 0);
  ASSERT_EQ_INT(actor_hashids_decode(mine, id, &num, 1, &n), 0);
  ASSERT_EQ_INT(actor_hashids_decode(def, id, &num, 1, &n), ACTOR_EPARSE);
  actor_ids_shutdown(); /* back to the default salt */
  ASSERT_EQ_INT(actor_id_new(id), 0);
  ASSERT_EQ_INT(actor_hashids_decode(def, id, &num, 1, &n), 0);
  actor_hashids_free(def);
  actor_hashids_free(mine);
  actor_ids_shutdown();
}

int main(void) {
  RUN_TEST(test_vectors);
  RUN_TEST(test_invalid_decodes);
  RUN_TEST(test_encode_limits);
  RUN_TEST(test_unique_ids);
  RUN_TEST(test_ids_salt);
  TEST_EXIT();
}
