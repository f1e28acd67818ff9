/* The parts of the transport that need no broker: the queue-name check,
 * bounded JSON decoding of message bodies and the reconnect back-off curve.
 * Kept apart so they are unit-testable and fuzzable. (The names of our
 * queues are the protocol's: proto/src/chan_name.c.) */
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"

int chan__name_check(const char *queue) {
  return queue == NULL || *queue == '\0' || strlen(queue) >= CHAN_NAME_MAX ? ACTOR_EINVAL : 0;
}

/* jansson's own nesting limit is 2048; ours is checked by a scan that only
 * tracks strings and brackets, so a too-deep body is refused before any
 * allocation. Malformed input the scan lets through is jansson's to reject. */
static int json_too_deep(const unsigned char *p, size_t len) {
  int depth = 0, in_str = 0, esc = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = p[i];
    if (in_str) {
      if (esc)
        esc = 0;
      else if (ch == '\\')
        esc = 1;
      else if (ch == '"')
        in_str = 0;
      continue;
    }
    if (ch == '"') {
      in_str = 1;
    } else if (ch == '[' || ch == '{') {
      if (++depth > CHAN_JSON_MAX_DEPTH)
        return 1;
    } else if (ch == ']' || ch == '}') {
      depth--;
    }
  }
  return 0;
}

int chan_json_decode(const void *body, size_t len, size_t max, json_t **out) {
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = NULL;
  if (max == 0)
    max = CHAN_JSON_MAX_DEFAULT;
  if (len > max)
    return ACTOR_ETOOBIG;
  if (body == NULL || len == 0)
    return ACTOR_EPARSE;
  if (memchr(body, '\0', len) != NULL)
    return ACTOR_EPARSE;
  if (json_too_deep(body, len))
    return ACTOR_ETOOBIG;
  json_error_t err;
  json_t *v = json_loadb(body, len, JSON_DECODE_ANY, &err);
  if (v == NULL)
    return ACTOR_EPARSE;
  *out = v;
  return 0;
}

unsigned chan_backoff_ms(unsigned attempt, double rnd) {
  const unsigned base_ms = 100, cap_ms = 5000;
  unsigned ms = attempt >= 16 ? cap_ms : base_ms << attempt;
  if (ms > cap_ms)
    ms = cap_ms;
  if (!(rnd >= 0.0)) /* also catches NaN */
    rnd = 0.0;
  if (rnd >= 1.0)
    rnd = 0.999999999;
  return (unsigned)((double)ms * (0.8 + 0.4 * rnd));
}
