/* Execution figures in Redis (actor/execstats.h). The runtime goes in with
 * one Lua script, so a scrape never sees the count without its buckets. */
#include <stdio.h>

#include "actor/errors.h"
#include "actor/execstats.h"
#include "actor/store_kv.h"
#include "store_int.h"

const char *const ACTOR_RUNTIME_BUCKETS[] = {"0.1", "0.5", "1",   "2.5", "5",    "10",   "30",
                                             "60",  "120", "300", "600", "1800", "3600", NULL};

#define NBUCKETS (sizeof(ACTOR_RUNTIME_BUCKETS) / sizeof(ACTOR_RUNTIME_BUCKETS[0]) - 1)

static const char RUNTIME_SCRIPT[] =
    "local s = tonumber(ARGV[1]) "
    "for i = 2, #ARGV do "
    "  if s <= tonumber(ARGV[i]) then redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end "
    "end "
    "redis.call('HINCRBY', KEYS[1], '+Inf', 1) "
    "redis.call('HINCRBY', KEYS[1], 'count', 1) "
    "redis.call('HINCRBYFLOAT', KEYS[1], 'sum', ARGV[1]) "
    "return 1";

int actor_execstats_status(store_redis_t *r, const char *status) {
  return store_counter_add(r, ACTOR_METRICS_EXECUTIONS, status, 1, NULL);
}

int actor_execstats_runtime(store_redis_t *r, double seconds) {
  if (seconds < 0)
    seconds = 0;
  char secs[32];
  snprintf(secs, sizeof(secs), "%.3f", seconds);
  const char *argv[5 + NBUCKETS];
  int argc = 0;
  argv[argc++] = "EVAL";
  argv[argc++] = RUNTIME_SCRIPT;
  argv[argc++] = "1";
  argv[argc++] = ACTOR_METRICS_RUNTIME;
  argv[argc++] = secs;
  for (size_t i = 0; i < NBUCKETS; i++)
    argv[argc++] = ACTOR_RUNTIME_BUCKETS[i];
  return store_redis_reply_rc(store_redis_cmdargv(r, argc, argv, NULL));
}
