/* The stage that records how an execution ended, and the records the other
 * stages' failure rules write: COMPLETE (with the final state, exit code,
 * runtime, cpu and io), ERROR with a reason, back to SUBMITTED, and the
 * start-failure rule that may put the actor in ERROR.
 *
 * Failure rule of recording COMPLETE: it runs once nothing of the execution
 * is left on the host (clean-up came first); a store that cannot take it is
 * a platform fault: the execution goes back to SUBMITTED and the message is
 * requeued (it runs again). ERROR and SUBMITTED that cannot be stored are
 * logged: the message's outcome stands (a redelivery finds the record as
 * it was). */
#include <stdarg.h>
#include <stdio.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "exec.h"

void worker_exec_error(worker_t *w, const char *eid, const char *why) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f =
      json_pack("{s:s, s:s, s:s}", "status", EXEC_ERROR, "status_message", why, "finish_time", now);
  int rc = f ? model_exec_update(w->mongo, eid, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == 0)
    worker_count_execution(w, EXEC_ERROR, -1);
  LOG_ERROR("worker", "actor %s execution %s: %s%s%s", w->db_id, eid, why,
            rc ? "; and it could not be recorded: " : "", rc ? actor_strerror(rc) : "");
}

void worker__exec_settle(worker_exec_t *x, const char *fmt, ...) {
  int n = snprintf(x->why, x->whylen, "Error on host %s: ", x->w->host_id);
  if (n >= 0 && (size_t)n < x->whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why + n, x->whylen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  worker_exec_error(x->w, x->in->eid, x->why);
  x->settled = true;
}

void worker__exec_resubmit(worker_t *w, const char *eid) {
  static const char *const RUNNING[] = {EXEC_RUNNING, NULL};
  json_t *back = json_pack("{s:s, s:n}", "status", EXEC_SUBMITTED, "start_time");
  int rc = back ? model_exec_transition(w->mongo, eid, RUNNING, back) : ACTOR_ENOMEM;
  json_decref(back);
  if (rc != 0)
    LOG_DEBUG("worker", "execution %s: back to SUBMITTED: %s", eid, actor_strerror(rc));
}

int worker__start_failed(worker_t *w, const json_t *actor, const char *eid, const char *reason) {
  w->start_failures++;
  if (w->start_failures < WORKER_MAX_START_FAILURES) {
    LOG_WARN("worker", "actor %s execution %s: %s (failure %u of %d): will retry", w->db_id, eid,
             reason, w->start_failures, WORKER_MAX_START_FAILURES);
    worker__exec_resubmit(w, eid);
    return WORKER_OUT_RETRY;
  }
  w->start_failures = 0;
  char why[1400];
  snprintf(why, sizeof(why), "Error on host %s: %s", w->host_id, reason);
  static const char *const LIVE[] = {ACTOR_SUBMITTED, ACTOR_READY, ACTOR_ERROR, NULL};
  int rc = model_actor_transition(w->redis, w->db_id, LIVE, ACTOR_ERROR, why);
  if (worker__platform_fault(rc)) {
    worker__exec_resubmit(w, eid);
    return WORKER_OUT_RETRY; /* the rule applies on the next try */
  }
  LOG_ERROR("worker", "actor %s: %d consecutive failures to start a container: actor in ERROR",
            w->db_id, WORKER_MAX_START_FAILURES);
  worker_exec_error(w, eid, why);
  if (rc == 0) {
    chan_event_t ev = {.type = CHAN_EVENT_ACTOR_ERROR,
                       .actor = actor,
                       .execution_id = eid,
                       .status = ACTOR_ERROR,
                       .status_message = why};
    worker_event(w, &ev);
  }
  return WORKER_OUT_ACK;
}

int worker__exec_record(worker_exec_t *x) {
  worker_t *w = x->w;
  const char *eid = x->in->eid;
  if (x->done == NULL)
    return 0; /* settled or refused before it ran: nothing to complete */
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_object_set_new(x->done, "finish_time", json_string(now));
  int rc = model_exec_update(w->mongo, eid, x->done);
  if (rc != 0) {
    LOG_WARN("worker", "execution %s: cannot record it: %s", eid, actor_strerror(rc));
    return rc;
  }
  /* The actor's totals (its executions list) count what it used. */
  int irc = model_exec_index_finish(
      w->redis, w->db_id, eid, (long long)json_integer_value(json_object_get(x->done, "cpu")),
      (long long)json_integer_value(json_object_get(x->done, "io")),
      (long long)json_integer_value(json_object_get(x->done, "runtime")));
  if (irc != 0)
    LOG_WARN("worker", "execution %s: its actor's totals miss it: %s", eid, actor_strerror(irc));
  worker_count_execution(w, EXEC_COMPLETE, x->runtime_s >= 0 ? x->runtime_s : 0);
  LOG_INFO("worker", "actor %s execution %s complete: exit code %lld, %llds%s", w->db_id, eid,
           (long long)x->wt.exit_code,
           (long long)json_integer_value(json_object_get(x->done, "runtime")),
           x->wt.timed_out ? " (killed after max_run_time)" : "");
  chan_event_t ev = {.type = CHAN_EVENT_EXECUTION_COMPLETE,
                     .actor = x->in->actor,
                     .execution_id = eid,
                     .status = EXEC_COMPLETE,
                     .has_exit_code = true,
                     .exit_code = (long long)x->wt.exit_code};
  worker_event(w, &ev);
  return 0;
}
