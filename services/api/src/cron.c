/* Cron schedules (API.md §5): "YYYY-MM-DD HH + <n> <hour|day|week|month>[s]"
 * or "now + <n> <unit>[s]", where the time is UTC and names the first run
 * (whole hours). Only validation and the first run (cron_next_ex, written
 * "YYYY-MM-DD HH" as Abaco does) live here; the tick that fires executions
 * is the api's cron timer. A start earlier than the current hour is in the
 * past; the current hour itself is allowed, so "now + ..." always is. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actor/errors.h"
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

int api_cron_parse(const char *schedule, int64_t now_ms, char next[API_CRON_NEXT_MAX], char *err,
                   size_t errlen) {
  char buf[128];
  char *tok[6];
  int n = -1;
  if (schedule && strlen(schedule) < sizeof(buf)) {
    memcpy(buf, schedule, strlen(schedule) + 1);
    n = tokens(buf, tok, 6);
  }
  int64_t start = -1, now_hour = now_ms - now_ms % HOUR_MS;
  int at = 0;
  if (n == 4 && strcasecmp(tok[0], "now") == 0) {
    start = now_hour;
    at = 1;
  } else if (n == 5) {
    start = start_ms(tok[0], tok[1]);
    at = 2;
  }
  bool ok = start >= 0 && strcmp(tok[at], "+") == 0;
  if (ok) {
    const char *num = tok[at + 1];
    ok = *num && strspn(num, "0123456789") == strlen(num) && strlen(num) <= 6 && atoi(num) > 0;
  }
  if (ok) {
    const char *unit = tok[at + 2];
    size_t ulen = strlen(unit);
    if (ulen > 1 && unit[ulen - 1] == 's')
      ulen--;
    ok = false;
    for (int i = 0; UNITS[i] && !ok; i++)
      ok = strlen(UNITS[i]) == ulen && strncmp(UNITS[i], unit, ulen) == 0;
  }
  if (!ok) {
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
