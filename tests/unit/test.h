/* The unit-test harness, after libuv's test runner. Each test_<module>.c is
 * one executable whose main() does the module's setup, runs its tests with
 * one `RUN_TEST(fn);` line each, does the teardown and ends with
 * TEST_EXIT(). The executable runs in one of three ways:
 *
 *   test_x          every test, each in its own process (this executable
 *                   again, given the test's name) with a timeout
 *                   (ABACO_TEST_TIMEOUT seconds, default 60); one line per
 *                   test (ok / FAIL / SKIP), the output of every test that
 *                   did not pass; exits 0 when none failed, 77 when all
 *                   were skipped, 1 otherwise.
 *   test_x NAME     main() with only the test NAME, in this process (for a
 *                   debugger or valgrind): every RUN_TEST but NAME's is
 *                   passed over. Exits 0 (passed), 1 (failed) or 77
 *                   (skipped).
 *   test_x --list   the names of the tests.
 *
 * CTest registers each test as its own test <module>.<fn> (`ctest -R
 * test_time.test_format`) running `test_x fn`: tests/unit/CMakeLists.txt
 * reads the RUN_TEST lines of the source and compiles the same list in
 * (TEST__LIST) for the first and last forms.
 *
 * A failed assertion prints where it is and both sides, and ends its test
 * at once (a longjmp back to RUN_TEST); main() then goes on with its
 * teardown. An assertion that fails in another thread of a test cannot
 * stop it: it is printed and the test fails when it returns. One that fails
 * outside any test (main's setup or teardown) is printed, the tests after
 * it are not run, and the executable fails.
 *
 * TEST_SKIP(fmt, ...) ends the test as skipped (outside a test: every test
 * of the executable, exit 77). A test that needs a server takes its address
 * from test_server_env("REDIS_URL"): unset, the test is skipped; set, the
 * test fails when nothing answers there, so a run with the servers up
 * (`make test`) can never pass by skipping. */
#ifndef ABACO_TEST_H
#define ABACO_TEST_H

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST__PASS 1
#define TEST__FAIL 2
#define TEST__SKIP 3
#define TEST__EXIT_SKIP 77 /* CTest's SKIP_RETURN_CODE */

/* Failed assertions so far, anywhere. */
static atomic_int test__failures;
static atomic_int test__checks;

static struct {
  const char *only;      /* the one test to run (NAME); NULL: every test, here */
  int setup_failed;      /* an assertion failed outside any test */
  int ran, passed, failed, skipped;
  int main_skipped;      /* TEST_SKIP outside a test */
  int exited;            /* TEST_EXIT was reached */
  /* The test running now. */
  const char *name;
  int active;
  pthread_t thread;      /* the one RUN_TEST runs it in */
  jmp_buf jb;
  atomic_int other_failed; /* an assertion failed in another thread */
} test__s;

static inline void test__vfail(const char *file, int line, const char *fmt, va_list ap) {
  fprintf(stderr, "%s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  test__failures++;
  if (test__s.active && pthread_equal(pthread_self(), test__s.thread))
    longjmp(test__s.jb, TEST__FAIL);
  if (test__s.active) {
    fprintf(stderr, "  (in a thread of the test: it carries on and fails when it returns)\n");
    test__s.other_failed = 1;
    return;
  }
  test__s.setup_failed = 1;
}

__attribute__((format(printf, 3, 4))) static inline void test__fail(const char *file, int line,
                                                                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  test__vfail(file, line, fmt, ap);
  va_end(ap);
}

#define ASSERT_TRUE(cond)                                                                     \
  do {                                                                                        \
    test__checks++;                                                                           \
    if (!(cond))                                                                              \
      test__fail(__FILE__, __LINE__, "expected true: %s", #cond);                             \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                                   \
  do {                                                                                        \
    long long test__a = (long long)(a), test__b = (long long)(b);                             \
    test__checks++;                                                                           \
    if (test__a != test__b)                                                                   \
      test__fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, test__a, test__b);     \
  } while (0)

#define ASSERT_EQ_STR(a, b)                                                                   \
  do {                                                                                        \
    const char *test__a = (a), *test__b = (b);                                                \
    test__checks++;                                                                           \
    if (test__a == NULL || test__b == NULL || strcmp(test__a, test__b) != 0)                  \
      test__fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                 test__a ? test__a : "(null)", test__b ? test__b : "(null)");                 \
  } while (0)

/* Ends the running test as skipped, saying why; outside a test, skips every
 * test of this executable. */
#define TEST_SKIP(...) test__skip(__FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static inline void test__skip(const char *file, int line,
                                                                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (test__s.active && !pthread_equal(pthread_self(), test__s.thread)) {
    test__vfail(file, line, fmt, ap); /* a helper thread cannot skip its test */
    va_end(ap);
    return;
  }
  const char *name = test__s.active ? test__s.name : test__s.only;
  fprintf(stderr, "SKIP%s%s: ", name ? " " : "", name ? name : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (test__s.active)
    longjmp(test__s.jb, TEST__SKIP);
  test__s.main_skipped = 1;
  exit(TEST__EXIT_SKIP);
}

/* The address of a server a test needs, from the environment variable var
 * (REDIS_URL, MONGO_URL, AMQP_URI, DOCKER_HOST): unset or empty, the test
 * is skipped (every test, when called outside one) and this does not
 * return. The caller fails, never skips, when nothing answers there. */
static inline const char *test_server_env(const char *var) {
  const char *v = getenv(var);
  if (v == NULL || *v == '\0')
    TEST_SKIP("%s is not set (the address of a server this test needs)", var);
  return v;
}

/* ---- the list of tests ---- */

#ifdef TEST__LIST
static const char test__list[] = TEST__LIST; /* "test_a,test_b", from CMake */
#else
static const char test__list[] = "";
#endif

/* Whether name is in test__list (or no list was compiled in). */
static inline int test__listed(const char *name) {
  size_t n = strlen(name);
  if (test__list[0] == '\0')
    return 1;
  for (const char *p = test__list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p += len + (end != NULL);
  }
  return 0;
}

/* ---- one test, in this process ---- */

/* Runs fn, returning how it ended; the setjmp is here so that no variable of
 * test__run lives across it. */
static inline int test__call(void (*fn)(void)) {
  int r = setjmp(test__s.jb);
  if (r != 0)
    return r;
  fn();
  return TEST__PASS;
}

static inline void test__run(const char *name, void (*fn)(void)) {
  if (!test__listed(name)) {
    fprintf(stderr,
            "FAIL RUN_TEST(%s) is not in the list CMake read from the source: one "
            "`RUN_TEST(fn);` per line, then re-run cmake\n",
            name);
    test__s.setup_failed = 1;
  }
  if (test__s.only != NULL && strcmp(test__s.only, name) != 0)
    return;
  test__s.ran++;
  if (test__s.setup_failed) {
    fprintf(stderr, "FAIL %s: not run, a check outside the tests failed (above)\n", name);
    test__s.failed++;
    return;
  }
  test__s.name = name;
  test__s.thread = pthread_self();
  test__s.other_failed = 0;
  test__s.active = 1;
  int r = test__call(fn);
  test__s.active = 0;
  if (r == TEST__PASS && test__s.other_failed)
    r = TEST__FAIL;
  if (r == TEST__PASS)
    test__s.passed++;
  else if (r == TEST__SKIP)
    test__s.skipped++;
  else
    test__s.failed++;
  if (r != TEST__SKIP) /* TEST_SKIP said it, with the reason */
    fprintf(stderr, "%s %s\n", r == TEST__PASS ? "ok  " : "FAIL", name);
}

#define RUN_TEST(fn) test__run(#fn, fn)

static inline int test__exit_code(void) {
  test__s.exited = 1;
  if (test__s.only != NULL && test__s.ran == 0) {
    fprintf(stderr, "FAIL %s: main() never reached its RUN_TEST\n", test__s.only);
    return 1;
  }
  if (test__s.failed > 0 || test__failures > 0 || test__s.setup_failed)
    return 1;
  if (test__s.skipped > 0 && test__s.passed == 0)
    return TEST__EXIT_SKIP;
  return 0;
}

/* The end of main(). */
#define TEST_EXIT()                                                                           \
  do {                                                                                        \
    return test__exit_code();                                                                 \
  } while (0)

#include "test_runner.h" /* the modes, the runner of every test */

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

/* prefix + name, for keys and queues unique to one test run. Four
 * rotating buffers, so a few can be used in one expression. */
static inline char *test_prefixed(const char *prefix, const char *name) {
  static char buf[4][192];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, sizeof(buf[0]), "%s%s", prefix, name);
  return b;
}

#endif
