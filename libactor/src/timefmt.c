/* Times as the API shows and stores them: milliseconds since the epoch,
 * printed as ISO-8601 UTC with milliseconds and a trailing Z, and parsed
 * from the handful of ISO-8601 spellings that reach us (our own, Python's
 * str(datetime), Docker's nanosecond timestamps). Calendar arithmetic is
 * done here (days_from_civil) so the result never depends on TZ or locale. */
#include "actor/timefmt.h"

#include "actor/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

int64_t actor_time_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t actor_time_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); valid for any year representable here. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

void actor_time_format(int64_t ms, char out[ACTOR_TIME_MAX]) {
  if (ms < 0) {
    snprintf(out, ACTOR_TIME_MAX, "None");
    return;
  }
  int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, ACTOR_TIME_MAX, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
           (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)(ms % 1000));
}

/* Reads exactly n decimal digits. */
static bool digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int actor_time_parse(const char *s, int64_t *ms) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year, mon, day, hour = 0, min = 0, sec = 0, milli = 0, off_min = 0;
  const char *p = s;
  if (s == NULL || ms == NULL)
    return ACTOR_EINVAL;
  if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
      !digits(&p, 2, &day))
    return ACTOR_EPARSE;
  if (mon < 1 || mon > 12 || day < 1 ||
      day > mdays[mon - 1] + (mon == 2 && is_leap(year)))
    return ACTOR_EPARSE;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &min))
      return ACTOR_EPARSE;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &sec))
        return ACTOR_EPARSE;
      if (*p == '.' || *p == ',') {
        int n = 0;
        p++;
        /* Keep milliseconds, truncate finer digits (Docker gives ns). */
        for (; *p >= '0' && *p <= '9'; p++, n++)
          if (n < 3)
            milli = milli * 10 + (*p - '0');
        if (n == 0)
          return ACTOR_EPARSE;
        for (; n < 3; n++)
          milli *= 10;
      }
    }
    if (hour > 23 || min > 59 || sec > 59)
      return ACTOR_EPARSE;
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
      if (!digits(&p, 2, &oh))
        return ACTOR_EPARSE;
      if (*p == ':')
        p++;
      if (*p >= '0' && *p <= '9' && !digits(&p, 2, &om))
        return ACTOR_EPARSE;
      if (oh > 23 || om > 59)
        return ACTOR_EPARSE;
      off_min = sign * (oh * 60 + om);
    }
  }
  if (*p != '\0')
    return ACTOR_EPARSE;
  int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec -
                 (int64_t)off_min * 60;
  *ms = secs * 1000 + milli;
  return 0;
}

void actor_time_now_text(char out[ACTOR_TIME_MAX]) { actor_time_format(actor_time_now_ms(), out); }
