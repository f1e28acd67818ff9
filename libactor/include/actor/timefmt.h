/* Times as the API shows them: ISO-8601 UTC with milliseconds and a
 * trailing Z (2026-11-22T14:45:41.591Z); an unset time is the string "None". */
#ifndef ACTOR_TIMEFMT_H
#define ACTOR_TIMEFMT_H

#include "actor/errors.h"

#include <stdint.h>

#define ACTOR_TIME_MAX 32

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t actor_time_now_ms(void);
/* Monotonic milliseconds, for measuring durations. */
int64_t actor_time_mono_ms(void);
/* Formats ms since the epoch; ms < 0 gives "None". */
void actor_time_format(int64_t ms, char out[ACTOR_TIME_MAX]);
/* The time now, formatted so. */
void actor_time_now_text(char out[ACTOR_TIME_MAX]);
/* Parses ISO-8601 ("2026-11-22T14:45:41.591Z", "2026-11-22T14:45:41Z",
 * "2026-11-22 14:45:41.591", "2026-11-22", with or without 'Z' or "+00:00",
 * and Docker's nanosecond form "2026-11-22T14:45:41.591234567Z").
 * Returns 0 and sets *ms, or ACTOR_EPARSE. */
ACTOR_MUST_CHECK int actor_time_parse(const char *s, int64_t *ms);

#endif
