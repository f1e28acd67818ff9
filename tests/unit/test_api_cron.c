/* Unit tests for the api's cron schedule arithmetic (services/api/src/
 * cron.c): validation and the first run, reading cron_next_ex, and the
 * step from a due run to the next -- fixed units in one division, calendar
 * months with the day clamped, and missed runs skipped after a downtime
 * (one run, never a backlog). One test per form of Abaco's grammar and
 * per error, with Abaco's messages. Epoch values were computed with Python's
 * datetime (UTC). */
#include "actor/errors.h"
#include "api.h"
#include "test.h"

#define HOUR 3600000LL
/* 2026-11-22 14:45:41.591 UTC */
#define NOW 1795358741591LL
/* 2026-11-22 14:00 UTC */
#define NOW_HOUR 1795356000000LL

/* Parses schedule at NOW; returns the code, with next or err filled. */
static char next[API_CRON_NEXT_MAX], err[API_CRON_ERR_MAX];
static int parse(const char *schedule) {
  next[0] = err[0] = '\0';
  return api_cron_parse(schedule, NOW, next, err, sizeof(err));
}

/* "now + <n> <unit>": every unit, singular and plural, and "Now". */
static void test_now_every_unit(void) {
  static const char *const OK[] = {"now + 1 hour",  "now + 2 hours", "now + 1 day",
                                   "now + 3 days",  "now + 1 week",  "now + 2 weeks",
                                   "now + 1 month", "now + 3 months", "Now + 1 hour"};
  for (size_t i = 0; i < sizeof(OK) / sizeof(OK[0]); i++) {
    ASSERT_EQ_INT(parse(OK[i]), 0);
    ASSERT_EQ_STR(next, "2026-11-22 14"); /* the current hour is the first run */
  }
}

/* Dates and hours with or without leading zeros, as Abaco takes them. */
static void test_dated_unpadded(void) {
  ASSERT_EQ_INT(parse("2078-09-6 20 + 3 months"), 0); /* day without its zero */
  ASSERT_EQ_STR(next, "2078-09-06 20");
  ASSERT_EQ_INT(parse("2078-9-06 20 + 1 month"), 0); /* month without its zero */
  ASSERT_EQ_STR(next, "2078-09-06 20");
  ASSERT_EQ_INT(parse("2078-9-6 5 + 1 hour"), 0); /* hour too */
  ASSERT_EQ_STR(next, "2078-09-06 05");
  ASSERT_EQ_INT(parse("2026-11-23 05 + 2 days"), 0);
  ASSERT_EQ_STR(next, "2026-11-23 05");
  ASSERT_EQ_INT(parse("2026-11-22 14 + 1 week"), 0); /* the current hour is not past */
  ASSERT_EQ_STR(next, "2026-11-22 14");
}

/* The increment as Python's int() reads it: leading zeros, a sign, blanks. */
static void test_increment_forms(void) {
  ASSERT_EQ_INT(parse("now + 01 hour"), 0);
  ASSERT_EQ_INT(parse("now + +2 days"), 0);
  ASSERT_EQ_INT(parse("now +  1 hour"), 0); /* the field is " 1" */
  ASSERT_EQ_INT(parse("2026-11-22 14 + 12 hours"), 0);
}

/* Text that does not split as "{} + {} {}": Abaco's first message. */
static void test_not_a_schedule(void) {
  static const char *const BAD[] = {"every hour", "now+1 hour", "now + 1", "", " + 1 hour"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    ASSERT_EQ_INT(parse(BAD[i]), ACTOR_EPARSE);
    ASSERT_EQ_STR(err, "The cron is not in the correct format");
  }
  ASSERT_EQ_INT(api_cron_parse(NULL, NOW, next, err, sizeof(err)), ACTOR_EPARSE);
}

/* A start that is neither now/Now nor "Y-M-D H". */
static void test_bad_start(void) {
  ASSERT_EQ_INT(parse("NOW + 1 hour"), ACTOR_EPARSE); /* only now and Now, as in Abaco */
  ASSERT_EQ_STR(err, "The starting date NOW is not in the correct format");
  ASSERT_EQ_INT(parse("now  + 1 hour"), ACTOR_EPARSE); /* the start is "now " */
  ASSERT_EQ_STR(err, "The starting date now  is not in the correct format");
  ASSERT_EQ_INT(parse("2078/09/06 20 + 1 day"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "The starting date 2078/09/06 20 is not in the correct format");
  /* Abaco fails with a 500 on these; ours names the start. */
  ASSERT_EQ_INT(parse("2026-02-30 05 + 1 day"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "The starting date 2026-02-30 05 is not a valid date and hour "
                     "(year-month-day hour, UTC)");
  ASSERT_EQ_INT(parse("2078-13-01 00 + 1 day"), ACTOR_EPARSE);
  ASSERT_EQ_INT(parse("2078-12-01 24 + 1 day"), ACTOR_EPARSE);
  ASSERT_EQ_INT(parse("2078-12-xx 01 + 1 day"), ACTOR_EPARSE);
  ASSERT_EQ_INT(parse("2078-12-01 1 2 + 1 day"), ACTOR_EPARSE);
}

/* A start before the current hour, with Abaco's message naming now. */
static void test_past(void) {
  ASSERT_EQ_INT(parse("2026-11-22 13 + 1 hour"), ACTOR_EINVAL);
  ASSERT_EQ_STR(err, "The starting datetime is old. The current UTC time is 2026-11-22 14:00:00");
  /* Abaco checks the start before the unit. */
  ASSERT_EQ_INT(parse("2020-1-1 0 + 1 fortnight"), ACTOR_EINVAL);
}

/* Units are exactly Abaco's eight words, case included. */
static void test_bad_unit(void) {
  ASSERT_EQ_INT(parse("now + 1 fortnight"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "fortnight is an invalid unit of time");
  ASSERT_EQ_INT(parse("now + 1 Hours"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "Hours is an invalid unit of time");
  ASSERT_EQ_INT(parse("now + 1  hour"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, " hour is an invalid unit of time");
  ASSERT_EQ_INT(parse("now + 1 hour + 2 days"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "hour + 2 days is an invalid unit of time");
  ASSERT_EQ_INT(parse("now + 1 hourss"), ACTOR_EPARSE);
}

/* Zero, negative or non-numeric increments: Abaco takes some and then
 * fires forever or fails at the tick; here they are refused. */
static void test_bad_increment(void) {
  static const char *const BAD[] = {"now + 0 hours", "now + -1 hour", "now + x hours",
                                    "2078-09-06 20 + 1.5 days", "now + 1000001 hours"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    ASSERT_EQ_INT(parse(BAD[i]), ACTOR_EPARSE);
    ASSERT_TRUE(strstr(err, "is not a whole number of") != NULL);
  }
  ASSERT_EQ_INT(parse("now + x hours"), ACTOR_EPARSE);
  ASSERT_EQ_STR(err, "The increment x is not a whole number of hours between 1 and 1000000");
}

static void test_time(void) {
  int64_t ms = 0;
  ASSERT_EQ_INT(api_cron_time("2026-11-22 14", &ms), 0);
  ASSERT_EQ_INT(ms, NOW_HOUR);
  int64_t unpadded = 0; /* as Abaco wrote its own cron_next_ex */
  ASSERT_EQ_INT(api_cron_time("2078-9-6 5", &unpadded), 0);
  ASSERT_EQ_INT(api_cron_time("2078-09-06 05", &ms), 0);
  ASSERT_EQ_INT(unpadded, ms);
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
  /* Abaco's unpadded forms step like any other. */
  ASSERT_EQ_INT(api_cron_advance("2026-11-2 4 + 2 weeks", NOW_HOUR, NOW, out), 0);
  ASSERT_EQ_STR(out, "2026-12-06 14");
  ASSERT_EQ_INT(api_cron_advance("now + 0 hours", NOW_HOUR, NOW, out), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_cron_advance("now + 1 fortnight", NOW_HOUR, NOW, out), ACTOR_EPARSE);
}

int main(void) {
  RUN_TEST(test_now_every_unit);
  RUN_TEST(test_dated_unpadded);
  RUN_TEST(test_increment_forms);
  RUN_TEST(test_not_a_schedule);
  RUN_TEST(test_bad_start);
  RUN_TEST(test_past);
  RUN_TEST(test_bad_unit);
  RUN_TEST(test_bad_increment);
  RUN_TEST(test_time);
  RUN_TEST(test_advance_fixed_units);
  RUN_TEST(test_advance_months);
  RUN_TEST(test_advance_bad);
  TEST_EXIT();
}
