/* Cron schedules (API.md §5): "YYYY-MM-DD HH + <n> <hour|day|week|month>[s]"
 * or "now + <n> <unit>[s]", where the time is UTC and names the first run
 * (whole hours). Validation, the first run (cron_next_ex, written
 * "YYYY-MM-DD HH" as Abaco does) and the step from a due run to the next
 * live here, without I/O; the tick that fires executions is cron_tick.c.
 * A start earlier than the current hour is in the past; the current hour
 * itself is allowed, so "now + ..." always is (and is due at once).
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

static const char *const UNITS[] = {"hour", "day", "week", "month", NULL};

/* Splits on blanks into at most max tokens (in place); -1 when more. */
static int tokens(char *s, char **tok, int max) {
  int n = 0;
  for (char *save = NULL, *t = strtok_r(s, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n == max)
      return -1;
    tok[n++] = t;
  }
  return n;
}

static bool all_digits(const char *s, size_t len) {
  if (strlen(s) != len)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

/* "YYYY-MM-DD" and "HH" -> ms since the epoch; -1 when not a real date. */
static int64_t start_ms(const char *date, const char *hour) {
  if (strlen(date) != 10 || date[4] != '-' || date[7] != '-' || !all_digits(hour, 2))
    return -1;
  char y[5], m[3], d[3];
  memcpy(y, date, 4);
  y[4] = '\0';
  memcpy(m, date + 5, 2);
  m[2] = '\0';
  memcpy(d, date + 8, 2);
  d[2] = '\0';
  if (!all_digits(y, 4) || !all_digits(m, 2) || !all_digits(d, 2))
    return -1;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = atoi(y) - 1900;
  tm.tm_mon = atoi(m) - 1;
  tm.tm_mday = atoi(d);
  tm.tm_hour = atoi(hour);
  int want_mon = tm.tm_mon, want_mday = tm.tm_mday, want_hour = tm.tm_hour;
  if (want_mon < 0 || want_mon > 11 || want_mday < 1 || want_hour > 23)
    return -1;
  time_t t = timegm(&tm);
  /* timegm normalises 2026-02-30 into March: refuse what moved. */
  if (t == (time_t)-1 || tm.tm_mon != want_mon || tm.tm_mday != want_mday ||
      tm.tm_hour != want_hour)
    return -1;
  return (int64_t)t * 1000;
}

static void format_hour(int64_t ms, char out[API_CRON_NEXT_MAX]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, API_CRON_NEXT_MAX, "%Y-%m-%d %H", &tm);
}

/* The parts of a schedule: start (ms; -1 when not a real date), the
 * count and unit ('h', 'd', 'w', 'm') of the increment. False when the
 * text is not a schedule. */
static bool split_schedule(const char *schedule, int64_t now_ms, int64_t *start, long *n,
                           char *unit) {
  char buf[128];
  char *tok[6];
  int ntok = -1;
  if (schedule && strlen(schedule) < sizeof(buf)) {
    memcpy(buf, schedule, strlen(schedule) + 1);
    ntok = tokens(buf, tok, 6);
  }
  int at = 0;
  *start = -1;
  if (ntok == 4 && strcasecmp(tok[0], "now") == 0) {
    *start = now_ms - now_ms % HOUR_MS;
    at = 1;
  } else if (ntok == 5) {
    *start = start_ms(tok[0], tok[1]);
    at = 2;
  }
  if (*start < 0 || strcmp(tok[at], "+") != 0)
    return false;
  const char *num = tok[at + 1];
  if (!*num || strspn(num, "0123456789") != strlen(num) || strlen(num) > 6 || atol(num) <= 0)
    return false;
  *n = atol(num);
  const char *word = tok[at + 2];
  size_t ulen = strlen(word);
  if (ulen > 1 && word[ulen - 1] == 's')
    ulen--;
  for (int i = 0; UNITS[i]; i++)
    if (strlen(UNITS[i]) == ulen && strncmp(UNITS[i], word, ulen) == 0) {
      *unit = UNITS[i][0];
      return true;
    }
  return false;
}

int api_cron_parse(const char *schedule, int64_t now_ms, char next[API_CRON_NEXT_MAX], char *err,
                   size_t errlen) {
  int64_t start = -1, now_hour = now_ms - now_ms % HOUR_MS;
  long n = 0;
  char unit = 0;
  if (!split_schedule(schedule, now_ms, &start, &n, &unit)) {
    snprintf(err, errlen,
             "Invalid cron_schedule: '%s' is not of the form 'YYYY-MM-DD HH + <n> "
             "<hour|day|week|month>' or 'now + <n> <hour|day|week|month>' (UTC).",
             schedule ? schedule : "");
    return ACTOR_EPARSE;
  }
  if (start < now_hour) {
    char when[API_CRON_NEXT_MAX];
    format_hour(start, when);
    snprintf(err, errlen, "Invalid cron_schedule: the start time %s is in the past.", when);
    return ACTOR_EINVAL;
  }
  format_hour(start, next);
  return 0;
}

int api_cron_time(const char *next_ex, int64_t *ms) {
  char date[16], hour[8];
  if (next_ex == NULL || sscanf(next_ex, "%15s %7s", date, hour) != 2 ||
      strlen(next_ex) != 13)
    return ACTOR_EPARSE;
  int64_t t = start_ms(date, hour);
  if (t < 0)
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
  int64_t start = 0, next = next_ms;
  long n = 0;
  char unit = 0;
  /* The start of a dated schedule may be long past now; only the step counts. */
  if (!split_schedule(schedule, now_ms, &start, &n, &unit))
    return ACTOR_EPARSE;
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
