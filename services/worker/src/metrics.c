/* The worker's share of the execution figures behind /metrics
 * (actor/execstats.h): RUNNING when it takes a message, COMPLETE with the
 * runtime, ERROR when it settles one as failed. */
#include "actor/errors.h"
#include "actor/execstats.h"
#include "actor/log.h"
#include "worker.h"

void worker_count_execution(worker_t *w, const char *status, double runtime_s) {
  int rc = actor_execstats_status(w->redis, status);
  if (rc == 0 && runtime_s >= 0)
    rc = actor_execstats_runtime(w->redis, runtime_s);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: could not count an execution %s: %s", w->wid, status,
             actor_strerror(rc));
}
