/* Unit tests for [store] executions_retention's reading
 * (services/api/src/retention.c, api_retention_parse): "keep" and empty
 * keep everything, a bare number is days, <n>s|m|h|d a duration, and
 * anything else (zero, a sign, a fraction, another unit, trailing text,
 * beyond 100000 days) is refused. */
#include "actor/errors.h"
#include "api.h"
#include "test.h"

static int64_t parse_ms(const char *text, int *rc) {
  int64_t ms = -1;
  *rc = api_retention_parse(text, &ms);
  return ms;
}

static void test_keep(void) {
  int rc;
  ASSERT_EQ_INT((int)parse_ms("keep", &rc), 0);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT((int)parse_ms("KEEP", &rc), 0);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT((int)parse_ms("", &rc), 0);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT((int)parse_ms(NULL, &rc), 0);
  ASSERT_EQ_INT(rc, 0);
}

static void test_days_and_durations(void) {
  int rc;
  ASSERT_TRUE(parse_ms("30", &rc) == 30LL * 86400 * 1000);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(parse_ms("7d", &rc) == 7LL * 86400 * 1000);
  ASSERT_TRUE(parse_ms("12h", &rc) == 12LL * 3600 * 1000);
  ASSERT_TRUE(parse_ms("90m", &rc) == 90LL * 60 * 1000);
  ASSERT_TRUE(parse_ms("45s", &rc) == 45LL * 1000);
  ASSERT_TRUE(parse_ms("100000", &rc) == 100000LL * 86400 * 1000);
  ASSERT_EQ_INT(rc, 0);
}

static void test_refused(void) {
  static const char *const BAD[] = {"0",   "0d",  "-1", "+3", "1.5", "3w",     "3 d", " 3",
                                    "3dd", "d",   "s",  "x",  "100001", "99999999999999999999"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    int rc;
    parse_ms(BAD[i], &rc);
    ASSERT_EQ_INT(rc, ACTOR_EINVAL);
  }
}

int main(void) {
  RUN_TEST(test_keep);
  RUN_TEST(test_days_and_durations);
  RUN_TEST(test_refused);
  TEST_EXIT();
}
