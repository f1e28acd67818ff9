/* One mailbox message on the thread pool, as a sequence of stages (see
 * exec.h for the map):
 *
 *   admit    read the message and the actor; SUBMITTED -> RUNNING (exec_admit.c)
 *   busy     worker READY -> BUSY
 *   run      the container, from its files to its record (run.c)
 *   settle   the outcome of the run, below
 *   idle     worker BUSY -> READY
 *
 * Failure rules of the whole. A platform fault (store, broker or engine
 * unreachable) never puts the actor in ERROR and never loses the message:
 * the execution goes back to SUBMITTED and the message is requeued after a
 * back-off pause (exec_delivery.c). A container that cannot be created or
 * started for a reason of the actor's (the engine answered with an error)
 * is retried the same way; the WORKER_MAX_START_FAILURES-th consecutive
 * such failure on this worker puts the actor in ERROR ("Error on host
 * <host>: <reason>"), marks the execution ERROR with that reason and acks
 * the message (exec_record.c). The worker's own record moving READY ->
 * BUSY -> READY is logged when it fails, never a reason to requeue: the
 * execution's record is the one that counts. */
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "exec.h"

/* The worker's own record, its last_execution_time set. Both moves set it:
 * READY -> BUSY so that whoever sees the execution COMPLETE also sees the
 * worker's time set (Abaco sets it on taking the message), and BUSY -> READY
 * so that idle time counts from the end of the run. */
static void worker_move(worker_t *w, const char *from, const char *to) {
  const char *const FROM[] = {from, NULL};
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *fields = json_pack("{s:s}", "last_execution_time", now);
  int rc = fields == NULL ? ACTOR_ENOMEM
                          : model_worker_transition(w->redis, w->db_id, w->wid, FROM, to, fields);
  json_decref(fields);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: %s -> %s: %s", w->wid, from, to, actor_strerror(rc));
}

/* Runs the admitted message's container; the outcome for the message. */
static int run_and_settle(worker_t *w, const worker_job_t *j, const worker_msg_t *m) {
  worker_run_in_t in = {.actor = m->actor,
                        .meta = m->meta,
                        .message = m->message,
                        .eid = m->eid,
                        .binary = j->binary ? j->body : NULL,
                        .binary_len = j->binary ? j->len : 0};
  bool failed_start = false;
  char why[1024] = "";
  int rc = worker_run(w, &in, &failed_start, why, sizeof(why));
  if (rc != 0) {
    LOG_WARN("worker", "execution %s: platform fault (%s): requeueing the message", m->eid,
             actor_strerror(rc));
    worker__exec_resubmit(w, m->eid);
    return WORKER_OUT_RETRY;
  }
  if (failed_start)
    return worker__start_failed(w, m->actor, m->eid, why);
  w->start_failures = 0;
  return WORKER_OUT_ACK;
}

void worker__execute(uv_work_t *wk) {
  worker_job_t *j = wk->data;
  worker_t *w = j->w;
  worker_msg_t m;
  j->outcome = worker__admit(w, j, &m);
  if (j->outcome == WORKER_OUT_RUN) {
    worker_move(w, WORKER_READY, WORKER_BUSY);
    j->outcome = run_and_settle(w, j, &m);
    worker_move(w, WORKER_BUSY, WORKER_READY);
  }
  worker__msg_free(&m);
  if (w->thread_done != NULL)
    w->thread_done();
}
