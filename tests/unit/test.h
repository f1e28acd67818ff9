/* Minimal unit-test harness: each test_<module>.c is one executable run by
 * CTest. Assertions print both sides and the location, then abort the test
 * with a non-zero exit so CTest reports it. */
#ifndef ABACO_TEST_H
#define ABACO_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__failures;
static int test__checks;

#define TEST_FAIL_(fmt, ...)                                                                  \
  do {                                                                                        \
    fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);                     \
    test__failures++;                                                                         \
  } while (0)

#define ASSERT_TRUE(cond)                                                                     \
  do {                                                                                        \
    test__checks++;                                                                           \
    if (!(cond))                                                                              \
      TEST_FAIL_("expected true: %s", #cond);                                                 \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                                   \
  do {                                                                                        \
    long long test__a = (long long)(a), test__b = (long long)(b);                             \
    test__checks++;                                                                           \
    if (test__a != test__b)                                                                   \
      TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, test__a, test__b);                         \
  } while (0)

#define ASSERT_EQ_STR(a, b)                                                                   \
  do {                                                                                        \
    const char *test__a = (a), *test__b = (b);                                                \
    test__checks++;                                                                           \
    if (test__a == NULL || test__b == NULL || strcmp(test__a, test__b) != 0)                  \
      TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, test__a ? test__a : "(null)",          \
                 test__b ? test__b : "(null)");                                               \
  } while (0)

#define RUN_TEST(fn)                                                                          \
  do {                                                                                        \
    int test__before = test__failures;                                                        \
    fn();                                                                                     \
    fprintf(stderr, "%s %s\n", test__failures == test__before ? "ok  " : "FAIL", #fn);        \
  } while (0)

#define TEST_EXIT()                                                                           \
  do {                                                                                        \
    fprintf(stderr, "%d checks, %d failures\n", test__checks, test__failures);                \
    return test__failures == 0 ? 0 : 1;                                                       \
  } while (0)

/* A JSON value from test text (NULL, said on stderr, if it does not
 * parse). New reference. For tests that include <jansson.h> first. */
#ifdef JANSSON_H
static inline json_t *test_json(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, 0, &err);
  if (v == NULL)
    fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
  return v;
}
#endif

#endif
