/* Unit tests for the api's cron schedule arithmetic (services/api/src/
 * cron.c): validation and the first run, reading cron_next_ex, and the
 * step from a due run to the next -- fixed units in one division, calendar
 * months with the day clamped, and missed runs skipped after a downtime
 * (one run, never a backlog). Epoch values were computed with Python's
 * datetime (UTC). */
#include "actor/errors.h"
#include "api.h"
#include "test.h"

#define HOUR 3600000LL
/* 2026-11-22 14:45:41.591 UTC */
#define NOW 1795358741591LL
/* 2026-11-22 14:00 UTC */
#define NOW_HOUR 1795356000000LL

static void test_parse(void) {
  char next[API_CRON_NEXT_MAX], err[256];
  ASSERT_EQ_INT(api_cron_parse("now + 1 hour", NOW, next, err, sizeof(err)), 0);
  ASSERT_EQ_STR(next, "2026-11-22 14");
  ASSERT_EQ_INT(api_cron_parse("2026-11-23 05 + 2 days", NOW, next, err, sizeof(err)), 0);
  ASSERT_EQ_STR(next, "2026-11-23 05");
  ASSERT_EQ_INT(api_cron_parse("2026-11-22 13 + 1 hour", NOW, next, err, sizeof(err)),
                ACTOR_EINVAL);
  ASSERT_TRUE(strstr(err, "past") != NULL);
  ASSERT_EQ_INT(api_cron_parse("now + 0 hours", NOW, next, err, sizeof(err)), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_parse("now + 1 fortnight", NOW, next, err, sizeof(err)), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_parse("2026-02-30 05 + 1 day", NOW, next, err, sizeof(err)), ACTOR_EPARSE);
}

static void test_time(void) {
  int64_t ms = 0;
  ASSERT_EQ_INT(api_cron_time("2026-11-22 14", &ms), 0);
  ASSERT_EQ_INT(ms, NOW_HOUR);
  ASSERT_EQ_INT(api_cron_time("2026-11-22 24", &ms), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_time("2026-11-22", &ms), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_time("2026-11-22 14x", &ms), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_time(NULL, &ms), ACTOR_EPARSE);
}

static void test_advance_fixed_units(void) {
  char out[API_CRON_NEXT_MAX];
  /* Due now: the next run is one step on. */
  ASSERT_EQ_INT(api_cron_advance("now + 1 hour", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-22 15");
  ASSERT_EQ_INT(api_cron_advance("2026-11-20 14 + 3 hours", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-22 17");
  ASSERT_EQ_INT(api_cron_advance("now + 2 days", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-24 14");
  ASSERT_EQ_INT(api_cron_advance("now + 1 week", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-29 14");
  /* Ten hours of downtime on an hourly schedule: one run, the next after now. */
  ASSERT_EQ_INT(api_cron_advance("now + 1 hour", NOW_HOUR - 10 * HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-22 15");
  /* Exactly on a step: that step is now, so the next is one further. */
  ASSERT_EQ_INT(api_cron_advance("now + 2 hours", NOW_HOUR - 2 * HOUR, NOW_HOUR, out), 0);
  ASSERT_EQ_STR(out, "2026-11-22 16");
  /* Years of downtime are still one division. */
  ASSERT_EQ_INT(api_cron_advance("now + 5 hours", NOW_HOUR - 5 * 8766 * HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-22 19");
}

static void test_advance_months(void) {
  char out[API_CRON_NEXT_MAX];
  int64_t jan31 = 0, nov22 = 0;
  ASSERT_EQ_INT(api_cron_time("2026-01-31 10", &jan31), 0);
  ASSERT_EQ_INT(api_cron_advance("now + 1 month", jan31, jan31, out), 0);
  ASSERT_EQ_STR(out, "2026-02-28 10"); /* clamped */
  ASSERT_EQ_INT(api_cron_advance("now + 1 month", jan31, jan31 + 40 * 24 * HOUR, out), 0);
  ASSERT_EQ_STR(out, "2026-03-31 10"); /* counted from the due run: no drift */
  ASSERT_EQ_INT(
      api_cron_advance("now + 1 month", jan31 + 366LL * 24 * HOUR, jan31 + 366LL * 24 * HOUR, out),
      0);
  ASSERT_EQ_STR(out, "2027-03-01 10"); /* 2027-02-01 + 1 month */
  ASSERT_EQ_INT(api_cron_time("2027-11-22 14", &nov22), 0);
  ASSERT_EQ_INT(api_cron_advance("now + 3 months", NOW_HOUR, nov22, out), 0);
  ASSERT_EQ_STR(out, "2028-02-22 14"); /* 2027-11-22 itself is not after now */
  int64_t leap = 0;
  ASSERT_EQ_INT(api_cron_time("2028-01-29 00", &leap), 0);
  ASSERT_EQ_INT(api_cron_advance("now + 1 month", leap, leap, out), 0);
  ASSERT_EQ_STR(out, "2028-02-29 00");
  ASSERT_EQ_INT(api_cron_advance("now + 12 months", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2027-11-22 14");
}

static void test_advance_bad(void) {
  char out[API_CRON_NEXT_MAX];
  ASSERT_EQ_INT(api_cron_advance("every hour", NOW_HOUR, NOW, out), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_advance(NULL, NOW_HOUR, NOW, out), ACTOR_EPARSE);
  /* A dated schedule far in the past still steps (only its unit counts). */
  ASSERT_EQ_INT(api_cron_advance("2001-01-01 00 + 1 day", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-11-23 14");
}

int main(void) {
  RUN_TEST(test_parse);
  RUN_TEST(test_time);
  RUN_TEST(test_advance_fixed_units);
  RUN_TEST(test_advance_months);
  RUN_TEST(test_advance_bad);
  TEST_EXIT();
}
