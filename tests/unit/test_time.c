/* Unit tests for actor/timefmt.h: formatting (ms and "None"), parsing of
 * the ISO-8601 spellings we meet (ours, Python's, Docker's), rejection of
 * malformed or impossible dates, and the clocks. Expected epoch values were
 * computed with Python's datetime. */
#include "actor/errors.h"
#include "actor/timefmt.h"
#include "test.h"

#include <time.h>

static void test_format(void) {
  char out[ACTOR_TIME_MAX];
  actor_time_format(1795358741591, out);
  ASSERT_EQ_STR(out, "2026-11-22T14:45:41.591Z");
  actor_time_format(0, out);
  ASSERT_EQ_STR(out, "1970-01-01T00:00:00.000Z");
  actor_time_format(951868799999, out);
  ASSERT_EQ_STR(out, "2000-02-29T23:59:59.999Z");
  actor_time_format(253402300799999, out);
  ASSERT_EQ_STR(out, "9999-12-31T23:59:59.999Z");
  actor_time_format(-1, out);
  ASSERT_EQ_STR(out, "None");
  actor_time_format(1795305600007, out);
  ASSERT_EQ_STR(out, "2026-11-22T00:00:00.007Z");
}

static void test_parse_forms(void) {
  static const struct {
    const char *s;
    int64_t ms;
  } ok[] = {
      {"2026-11-22T14:45:41.591Z", 1795358741591},
      {"2026-11-22T14:45:41Z", 1795358741000},
      {"2026-11-22 14:45:41.591", 1795358741591},
      {"2026-11-22 14:45:41.591000", 1795358741591}, /* Python str(datetime) */
      {"2026-11-22T14:45:41.591234567Z", 1795358741591}, /* Docker */
      {"2026-11-22T14:45:41.5Z", 1795358741500},
      {"2026-11-22", 1795305600000},
      {"2026-11-22T14:45:41.591+00:00", 1795358741591},
      {"2026-11-22T14:45:41.591+02:00", 1795351541591},
      {"2026-11-22T14:45:41.591+0200", 1795351541591},
      {"1999-12-31T23:59:59.999-05:30", 946704599999},
      {"2000-02-29T23:59:59.999Z", 951868799999},
      {"2026-11-22T14:45Z", 1795358700000},
      {"1970-01-01T00:00:00Z", 0},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int64_t ms = -42;
    int rc = actor_time_parse(ok[i].s, &ms);
    if (rc != 0 || ms != ok[i].ms)
      fprintf(stderr, "  while parsing %s\n", ok[i].s);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(ms, ok[i].ms);
  }
}

static void test_parse_bad(void) {
  static const char *const bad[] = {
      "None",
      "",
      "2026-13-01T00:00:00Z",
      "2023-02-29",
      "2026-04-31",
      "2026-11-22T24:00:00Z",
      "2026-11-22T14:60:00Z",
      "2026-11-22T14:45:61Z",
      "2026-11-22T14:45:41.Z",
      "2026-11-22T14:45:41.591Zjunk",
      "2026-11-22T14:45:41+25:00",
      "26-11-22",
      "2026/11/22",
      "2026-11-22T",
      " 2026-11-22",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ms = 0;
    int rc = actor_time_parse(bad[i], &ms);
    if (rc != ACTOR_EPARSE)
      fprintf(stderr, "  accepted %s\n", bad[i]);
    ASSERT_EQ_INT(rc, ACTOR_EPARSE);
  }
  int64_t ms;
  ASSERT_EQ_INT(actor_time_parse(NULL, &ms), ACTOR_EINVAL);
}

static void test_round_trip(void) {
  char out[ACTOR_TIME_MAX];
  int bad = 0;
  /* Every day over ~300 years, at a varying time of day. */
  for (int64_t ms = 0; ms < INT64_C(10000000000000); ms += 86400000 + 3723007) {
    int64_t back = -1;
    actor_time_format(ms, out);
    if (actor_time_parse(out, &back) != 0 || back != ms)
      bad++;
  }
  ASSERT_EQ_INT(bad, 0);
}

static void test_clocks(void) {
  int64_t now = actor_time_now_ms();
  int64_t t = (int64_t)time(NULL) * 1000;
  ASSERT_TRUE(now >= t - 2000 && now <= t + 2000);
  int64_t a = actor_time_mono_ms();
  struct timespec ts = {0, 20 * 1000000};
  nanosleep(&ts, NULL);
  int64_t b = actor_time_mono_ms();
  ASSERT_TRUE(b - a >= 19 && b - a < 5000);
  /* actor_time_now_text: the formatted time of now */
  char text[ACTOR_TIME_MAX];
  int64_t before = actor_time_now_ms();
  actor_time_now_text(text);
  int64_t at = 0;
  ASSERT_EQ_INT(actor_time_parse(text, &at), 0);
  ASSERT_TRUE(at >= before && at <= actor_time_now_ms());
}

int main(void) {
  RUN_TEST(test_format);
  RUN_TEST(test_parse_forms);
  RUN_TEST(test_parse_bad);
  RUN_TEST(test_round_trip);
  RUN_TEST(test_clocks);
  TEST_EXIT();
}
