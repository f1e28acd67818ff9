/* Cron schedules (API.md §5), in Abaco's grammar: "<start> + <n> <unit>"
 * where <start> is "now" (or "Now") or "Y-M-D H" (UTC, numbers with or
 * without leading zeros: "2078-09-6 20"), <n> a whole number and <unit>
 * one of hour(s), day(s), week(s), month(s), exactly as written (case
 * matters, as in Abaco). Validation, the first run (cron_next_ex, written
 * "YYYY-MM-DD HH") and the step from a due run to the next live here,
 * without I/O; the tick that fires executions is cron_tick.c. A start
 * earlier than the current hour is in the past; the current hour itself is
 * allowed, so "now + ..." always is (and is due at once).
 *
 * Design note on the grammar: Abaco splits the text with the `parse`
 * library's "{} + {} {}" (then the start with "{}-{}-{} {}"): each field
 * is at least one character, the shortest that lets the rest match, and
 * the literals are single spaces. fields_split() does the same, so the
 * same texts are accepted and the same parts reach the same checks, in
 * Abaco's order and with Abaco's messages. Where Abaco fails with a 500
 * (a field that is not a number, a date that does not exist, a zero or
 * negative increment that would fire forever) the message is ours.
 *
 * Stepping: hours, days and weeks are fixed lengths (UTC has no DST), so
 * the next run after a long downtime is computed in one division. Months
 * are calendar months counted from the due run; a day the month lacks is
 * clamped to its last day (Jan 31 + 1 month = Feb 28), like dateutil's
 * relativedelta. Either way every missed run is skipped: one execution
 * fires, and the next is the first step after now. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actor/errors.h"
#include "actor/timefmt.h"
#include "api.h"

#define HOUR_MS (3600LL * 1000)
/* Longer texts are refused before splitting (the split backtracks). */
#define CRON_TEXT_MAX 256

typedef struct {
  const char *p;
  size_t len;
} span_t;

/* The units Abaco accepts, exactly as written, and what they step by. */
static const struct {
  const char *name;
  char unit; /* 'h', 'd', 'w' or 'm' */
} UNITS[] = {{"hour", 'h'},  {"hours", 'h'}, {"day", 'd'},    {"days", 'd'},
             {"week", 'w'},  {"weeks", 'w'}, {"month", 'm'}, {"months", 'm'}};

/* Matches s[0..len) against "{}L0{}L1...{}" (nlits literals) the way
 * parse's \A(.+?)L0(.+?)...(.+?)\Z does: every field non-empty, each the
 * shortest that lets the rest match. Fills out[0..nlits]. */
static bool fields_split(const char *s, size_t len, const char *const *lits, size_t nlits,
                         span_t *out) {
  if (nlits == 0) {
    out[0] = (span_t){s, len};
    return len > 0;
  }
  size_t l = strlen(lits[0]);
  for (size_t i = 1; i + l <= len; i++)
    if (memcmp(s + i, lits[0], l) == 0 &&
        fields_split(s + i + l, len - i - l, lits + 1, nlits - 1, out + 1)) {
      out[0] = (span_t){s, i};
      return true;
    }
  return false;
}

static bool span_is(span_t s, const char *text) {
  return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

/* A whole number as Python's int() reads the ASCII ones: blanks around,
 * an optional sign, decimal digits (leading zeros allowed). */
static bool span_int(span_t s, long long max, long long *out) {
  size_t i = 0, end = s.len;
  while (i < end && isspace((unsigned char)s.p[i]))
    i++;
  while (end > i && isspace((unsigned char)s.p[end - 1]))
    end--;
  bool neg = false;
  if (i < end && (s.p[i] == '+' || s.p[i] == '-'))
    neg = s.p[i++] == '-';
  if (i == end)
    return false;
  long long v = 0;
  for (; i < end; i++) {
    if (!isdigit((unsigned char)s.p[i]))
      return false;
    if (v > max)
      return false; /* keep going would overflow; far beyond any use anyway */
    v = v * 10 + (s.p[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

/* "Y-M-D H" (any of its numbers with or without leading zeros) -> ms since
 * the epoch. ACTOR_EPARSE when it does not split into four parts,
 * ACTOR_EINVAL when a part is not a number or the date does not exist. */
static int start_ms(span_t text, int64_t *ms) {
  static const char *const LITS[] = {"-", "-", " "};
  span_t f[4];
  long long v[4];
  if (!fields_split(text.p, text.len, LITS, 3, f))
    return ACTOR_EPARSE;
  for (int i = 0; i < 4; i++)
    if (!span_int(f[i], 100000, &v[i]))
      return ACTOR_EINVAL;
  if (v[0] < 1 || v[0] > 9999 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] < 0 ||
      v[3] > 23)
    return ACTOR_EINVAL;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = (int)v[0] - 1900;
  tm.tm_mon = (int)v[1] - 1;
  tm.tm_mday = (int)v[2];
  tm.tm_hour = (int)v[3];
  time_t t = timegm(&tm);
  /* timegm normalises 2026-02-30 into March: refuse what moved. */
  if (tm.tm_mon != (int)v[1] - 1 || tm.tm_mday != (int)v[2])
    return ACTOR_EINVAL;
  *ms = (int64_t)t * 1000;
  return 0;
}

static void format_hour(int64_t ms, char out[API_CRON_NEXT_MAX]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, API_CRON_NEXT_MAX, "%Y-%m-%d %H", &tm);
}

typedef struct {
  int64_t start; /* ms of the first run */
  long n;        /* the increment, in units */
  char unit;     /* 'h', 'd', 'w', 'm' */
} schedule_t;

/* Reads a schedule as Abaco's set_cron() and the unit check after it do,
 * in their order. now_ms: the clock ("now" and the check for the past).
 * past: whether a start before the current hour is refused (validation)
 * or taken (stepping a stored schedule). 0, or an error with its message
 * in err: ACTOR_EINVAL for a start in the past, else ACTOR_EPARSE. */
static int schedule_read(const char *text, int64_t now_ms, bool past, schedule_t *out,
                         char *err, size_t errlen) {
  static const char *const LITS[] = {" + ", " "};
  span_t f[3];
  size_t len = text ? strlen(text) : 0;
  if (text == NULL || len > CRON_TEXT_MAX || !fields_split(text, len, LITS, 2, f)) {
    snprintf(err, errlen, "The cron is not in the correct format");
    return ACTOR_EPARSE;
  }
  long long n = 0;
  bool n_ok = span_int(f[1], 1000000, &n);
  int64_t now_hour = now_ms - now_ms % HOUR_MS;
  if (span_is(f[0], "now") || span_is(f[0], "Now")) {
    out->start = now_hour;
  } else {
    int rc = start_ms(f[0], &out->start);
    if (rc == ACTOR_EPARSE) {
      snprintf(err, errlen, "The starting date %.*s is not in the correct format", (int)f[0].len,
               f[0].p);
      return ACTOR_EPARSE;
    }
    if (rc != 0) {
      snprintf(err, errlen,
               "The starting date %.*s is not a valid date and hour (year-month-day hour, UTC)",
               (int)f[0].len, f[0].p);
      return ACTOR_EPARSE;
    }
    if (past && out->start < now_hour) {
      char when[API_CRON_NEXT_MAX];
      format_hour(now_hour, when);
      snprintf(err, errlen, "The starting datetime is old. The current UTC time is %s:00:00",
               when);
      return ACTOR_EINVAL;
    }
  }
  out->unit = 0;
  for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]) && !out->unit; i++)
    if (span_is(f[2], UNITS[i].name))
      out->unit = UNITS[i].unit;
  if (!out->unit) {
    snprintf(err, errlen, "%.*s is an invalid unit of time", (int)f[2].len, f[2].p);
    return ACTOR_EPARSE;
  }
  if (!n_ok || n <= 0 || n > 1000000) {
    snprintf(err, errlen,
             "The increment %.*s is not a whole number of %.*s between 1 and 1000000",
             (int)f[1].len, f[1].p, (int)f[2].len, f[2].p);
    return ACTOR_EPARSE;
  }
  out->n = (long)n;
  return 0;
}

int api_cron_parse(const char *schedule, int64_t now_ms, char next[API_CRON_NEXT_MAX], char *err,
                   size_t errlen) {
  schedule_t s;
  int rc = schedule_read(schedule, now_ms, true, &s, err, errlen);
  if (rc == 0)
    format_hour(s.start, next);
  return rc;
}

int api_cron_time(const char *next_ex, int64_t *ms) {
  /* Ours are "YYYY-MM-DD HH"; Abaco wrote its own without leading zeros. */
  if (next_ex == NULL || strlen(next_ex) > 32)
    return ACTOR_EPARSE;
  int64_t t = 0;
  if (start_ms((span_t){next_ex, strlen(next_ex)}, &t) != 0)
    return ACTOR_EPARSE;
  *ms = t;
  return 0;
}

static int days_in_month(int year, int mon) {
  static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return mon == 1 && leap ? 29 : DAYS[mon];
}

/* from_ms plus k*n calendar months, the day clamped to the month's end. */
static int64_t add_months(int64_t from_ms, long months) {
  time_t t = (time_t)(from_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  long total = (long)tm.tm_year * 12 + tm.tm_mon + months;
  tm.tm_year = (int)(total / 12);
  tm.tm_mon = (int)(total % 12);
  int dim = days_in_month(tm.tm_year + 1900, tm.tm_mon);
  if (tm.tm_mday > dim)
    tm.tm_mday = dim;
  return (int64_t)timegm(&tm) * 1000;
}

/* A step count beyond which "months" is not a schedule but a typo. */
#define MONTH_STEPS_MAX 100000

int api_cron_advance(const char *schedule, int64_t next_ms, int64_t now_ms,
                     char out[API_CRON_NEXT_MAX]) {
  schedule_t s;
  char err[API_CRON_ERR_MAX];
  int64_t next = next_ms;
  /* The start of a dated schedule may be long past now; only the step counts. */
  if (schedule_read(schedule, now_ms, false, &s, err, sizeof(err)) != 0)
    return ACTOR_EPARSE;
  long n = s.n;
  char unit = s.unit;
  if (unit == 'm') {
    long k = 1;
    while ((next = add_months(next_ms, k * n)) <= now_ms && k < MONTH_STEPS_MAX)
      k++;
  } else {
    int64_t step = (int64_t)n * HOUR_MS * (unit == 'h' ? 1 : unit == 'd' ? 24 : 24 * 7);
    int64_t k = now_ms >= next_ms ? (now_ms - next_ms) / step + 1 : 1;
    next = next_ms + k * step;
  }
  format_hour(next, out);
  return 0;
}

int64_t api_cron_now_ms(const api_ctx_t *c) {
  return actor_time_now_ms() + c->cron_offset_ms;
}
