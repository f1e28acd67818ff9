/* Unit tests for the api's bounds (services/api/src/bounds.c and
 * imageref.c): Docker image references that must pass and fail, with
 * the length edges of the name (255), the tag (128) and the digest (64
 * hex digits); the reasons name the offending part; character counting
 * of UTF-8; and the limits table (every entry set, units as documented). */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "test.h"

static const char *const VALID[] = {
    "abaco/samples-echo",
    "abaco/samples-echo:latest",
    "x",
    "ubuntu",
    "ubuntu:22.04",
    "library/ubuntu:22.04",
    "docker.io/library/ubuntu:22.04",
    "registry.example.com/team/app",
    "localhost/app",
    "localhost:5000/app:v1",
    "Registry.Example.COM:443/app",    /* a host may have upper case */
    "my-registry.local:5000/a/b/c/d",
    "a.b/c",
    "a_b/c__d/e.f/g-h/i---j",          /* every separator */
    "abaco/no-such-image-anywhere",
    "localhost:5000",                   /* repository localhost, tag 5000 */
    "app:_tag",
    "app:TAG.with-Dots_1",
    "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "reg:1/app:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0/1",
    NULL};

/* {reference, a piece the reason must contain} */
static const char *const INVALID[][2] = {
    {"", "empty"},
    {"UPPER/Case", "'Case'"},
    {"Upper", "'Upper'"},
    {"a::b", "'a:'"},
    {"a:", "tag"},
    {"a:.b", "tag '.b'"},
    {"a:-b", "tag"},
    {"a:b/c", "'a:b'"}, /* a ':' before a '/' is a port, and "b" is no port */
    {"/a", "empty path component"},
    {"a/", "empty path component"},
    {"a//b", "empty path component"},
    {"a-", "'a-'"},
    {"-a", "'-a'"},
    {"a..b", "'a..b'"},
    {"a___b", "'a___b'"},
    {"a._b", "'a._b'"},
    {"a b", "'a b'"},
    {"a/b c", "'b c'"},
    {"my_host:5000/app", "registry host"},
    {"host:port/app", "registry host"},
    {"-host.com/app", "registry host"},
    {"host-.com/app", "registry host"},
    {"app@sha256:0123", "digest"},
    {"app@md5:0123456789abcdef0123456789abcdef", "digest"},
    {"app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest"},
    {"app@", "digest"},
    {"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "name is empty"},
    {":tag", "name is empty"},
    {"app:t\xc3\xa9", "tag"},
    {"\xc3\xa9t\xc3\xa9", "component"},
    {"a/b/../c", "'..'"},
    {"app;rm -rf", "component"},
    {NULL, NULL}};

static void test_valid(void) {
  char why[512];
  for (int i = 0; VALID[i]; i++) {
    int rc = api_image_ref_check(VALID[i], why, sizeof(why));
    if (rc != 0)
      fprintf(stderr, "  '%s' refused: %s\n", VALID[i], why);
    ASSERT_EQ_INT(rc, 0);
  }
}

static void test_invalid(void) {
  char why[512];
  for (int i = 0; INVALID[i][0]; i++) {
    why[0] = '\0';
    int rc = api_image_ref_check(INVALID[i][0], why, sizeof(why));
    if (rc == 0 || strstr(why, INVALID[i][1]) == NULL)
      fprintf(stderr, "  '%s': rc %d, reason '%s' (want '%s')\n", INVALID[i][0], rc, why,
                      INVALID[i][1]);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_TRUE(strstr(why, INVALID[i][1]) != NULL);
  }
  ASSERT_EQ_INT(api_image_ref_check(NULL, why, sizeof(why)), -1);
}

/* n copies of c, NUL-terminated (malloc'd). */
static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* prefix + n times fill: refused (with a reason holding `why`) or not. */
static const struct {
  const char *prefix;
  char fill;
  size_t n;
  const char *why; /* NULL: valid */
} EDGES[] = {
    /* the name: 255 characters, counted with the registry host */
    {"", 'a', API_IMAGE_NAME_MAX, NULL},
    {"", 'a', API_IMAGE_NAME_MAX + 1, "at most 255"},
    {"h.io/", 'a', API_IMAGE_NAME_MAX - 5, NULL},
    {"h.io/", 'a', API_IMAGE_NAME_MAX - 4, "has 256"},
    /* the tag: 1 to 128 */
    {"app:", 't', API_IMAGE_TAG_MAX, NULL},
    {"app:", 't', API_IMAGE_TAG_MAX + 1, "tag"},
    {"app:", 't', 0, "tag"},
    /* the digest: 64 hex digits exactly */
    {"app@sha256:", 'f', API_IMAGE_DIGEST_HEX, NULL},
    {"app@sha256:", 'f', API_IMAGE_DIGEST_HEX + 1, "digest"},
    {"app@sha256:", 'f', API_IMAGE_DIGEST_HEX - 1, "digest"},
    /* far beyond any valid reference: refused on the length alone */
    {"", 'a', 20 * 1000 * 1000, "has 20000000"},
    {"", 'a', API_IMAGE_REF_MAX + 1, "at most 456"},
};

static void test_lengths(void) {
  char why[512];
  for (size_t i = 0; i < sizeof(EDGES) / sizeof(EDGES[0]); i++) {
    size_t plen = strlen(EDGES[i].prefix);
    char *ref = repeat(EDGES[i].fill, plen + EDGES[i].n);
    memcpy(ref, EDGES[i].prefix, plen);
    why[0] = '\0';
    int rc = api_image_ref_check(ref, why, sizeof(why));
    int ok = EDGES[i].why ? rc == -1 && strstr(why, EDGES[i].why) != NULL : rc == 0;
    if (!ok)
      fprintf(stderr, "  edge %zu ('%s' + %zu x '%c'): rc %d, reason '%s'\n", i,
              EDGES[i].prefix, EDGES[i].n, EDGES[i].fill, rc, why);
    ASSERT_TRUE(ok);
    free(ref);
  }

  /* the longest valid reference is API_IMAGE_REF_MAX long */
  char buf[1024];
  char *name = repeat('a', API_IMAGE_NAME_MAX), *tag = repeat('t', API_IMAGE_TAG_MAX),
       *hex = repeat('f', API_IMAGE_DIGEST_HEX);
  snprintf(buf, sizeof(buf), "%s:%s@sha256:%s", name, tag, hex);
  ASSERT_EQ_INT(strlen(buf), API_IMAGE_REF_MAX);
  ASSERT_EQ_INT(api_image_ref_check(buf, why, sizeof(why)), 0);
  free(name);
  free(tag);
  free(hex);

  /* reasons quote at most 64 bytes of the piece, and fit a small buffer */
  char *upper = repeat('A', 200);
  ASSERT_EQ_INT(api_image_ref_check(upper, why, sizeof(why)), -1);
  ASSERT_TRUE(strlen(why) < 64 + 200);
  char small[16];
  ASSERT_EQ_INT(api_image_ref_check(upper, small, sizeof(small)), -1);
  ASSERT_EQ_INT(strlen(small), sizeof(small) - 1);
  free(upper);
}

static void test_utf8_chars(void) {
  ASSERT_EQ_INT(api_utf8_chars(""), 0);
  ASSERT_EQ_INT(api_utf8_chars(NULL), 0);
  ASSERT_EQ_INT(api_utf8_chars("abc"), 3);
  ASSERT_EQ_INT(api_utf8_chars("J\xc3\xbcrgen"), 6);           /* 2-byte ü */
  ASSERT_EQ_INT(api_utf8_chars("\xe2\x82\xac\xf0\x9f\x98\x80"), 2); /* € and an emoji */
}

static void test_table(void) {
  for (int i = 0; i < API_LIM_COUNT; i++) {
    const api_limit_def_t *l = api_limit((api_limit_t)i);
    ASSERT_TRUE(l->field != NULL && *l->field != '\0');
    ASSERT_TRUE(l->max > 0);
  }
  ASSERT_EQ_INT(api_limit(API_LIM_IMAGE)->max, API_IMAGE_REF_MAX);
  ASSERT_EQ_STR(api_limit(API_LIM_DEFAULT_ENV)->field, "default_environment");
  ASSERT_EQ_INT(api_limit(API_LIM_DEFAULT_ENV)->unit, API_UNIT_JSON);
  ASSERT_EQ_INT(api_limit(API_LIM_HINTS)->unit, API_UNIT_ITEMS);
  ASSERT_EQ_INT(api_limit(API_LIM_NAME)->unit, API_UNIT_CHARS);
  /* a link names an alias: it must be able to hold the longest one */
  ASSERT_TRUE(api_limit(API_LIM_LINK)->max >= api_limit(API_LIM_ALIAS)->max);
  /* an out-of-range id gets an entry, never a wild read */
  ASSERT_TRUE(api_limit(API_LIM_COUNT) == api_limit((api_limit_t)0));
}

int main(void) {
  RUN_TEST(test_valid);
  RUN_TEST(test_invalid);
  RUN_TEST(test_lengths);
  RUN_TEST(test_utf8_chars);
  RUN_TEST(test_table);
  TEST_EXIT();
}
