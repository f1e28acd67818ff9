/* The cluster-wide execution figures behind /metrics (services/api/src/
 * metrics.c renders them): Redis hashes every process that settles an
 * execution adds to.
 *   abaco:metrics:executions         <status> -> count
 *   abaco:metrics:execution_runtime  "<le>" -> finished executions with a
 *       runtime <= le seconds (cumulative, for each of ACTOR_RUNTIME_BUCKETS
 *       and "+Inf"), "count", and "sum" (seconds)
 * A failure to count is returned for the caller to log; it never undoes
 * the execution's own record. */
#ifndef ACTOR_EXECSTATS_H
#define ACTOR_EXECSTATS_H

#include "actor/errors.h"

#include "actor/store.h"

#define ACTOR_METRICS_EXECUTIONS "abaco:metrics:executions"
#define ACTOR_METRICS_RUNTIME "abaco:metrics:execution_runtime"

/* Upper bounds (seconds) of the runtime histogram, NULL-terminated. */
extern const char *const ACTOR_RUNTIME_BUCKETS[];

/* One more execution that reached `status`. */
ACTOR_MUST_CHECK int actor_execstats_status(store_redis_t *r, const char *status);
/* One more finished execution that ran `seconds`: every bucket, the count
 * and the sum in one atomic step. */
ACTOR_MUST_CHECK int actor_execstats_runtime(store_redis_t *r, double seconds);

#endif
