/* Stages 3, 4 and the last: create the container, start it and attach
 * what it needs while it runs (an early force_quit, the binary FIFO's
 * writer), and clean up after it whatever happened. Also the record of
 * which container runs now, shared with the control path (force_quit).
 *
 * Failure rules. Create or start refused by the engine (an error answer:
 * the actor's image, its settings) sets start_failed with the reason and
 * returns 0: execute.c applies the start-failure rule (retry, and ERROR
 * after WORKER_MAX_START_FAILURES in a row). The engine unreachable returns
 * its code: back to SUBMITTED, the message is requeued. The FIFO's writer
 * that cannot start is ENOMEM, requeued alike (the container is removed).
 * Clean-up cannot fail: what it cannot remove is logged. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "actor/log.h"
#include "exec.h"

void worker__set_running(worker_t *w, const char *eid, const char *cid) {
  uv_mutex_lock(&w->lock);
  snprintf(w->eid, sizeof(w->eid), "%s", eid ? eid : "");
  snprintf(w->cid, sizeof(w->cid), "%s", cid ? cid : "");
  if (eid == NULL)
    w->quit_pending = false;
  uv_mutex_unlock(&w->lock);
}

bool worker__take_quit(worker_t *w) {
  uv_mutex_lock(&w->lock);
  bool q = w->quit_pending;
  w->quit_pending = false;
  uv_mutex_unlock(&w->lock);
  return q;
}

/* An engine error answer is the actor's; anything else the platform's. */
static int refused(worker_exec_t *x, int rc, const char *what) {
  if (worker__platform_fault(rc))
    return rc;
  x->start_failed = true;
  snprintf(x->why, x->whylen, "could not %s the container: %s", what,
           x->err ? x->err : actor_strerror(rc));
  return 0;
}

int worker__exec_create(worker_exec_t *x) {
  if (x->w->runtime == WORKER_RUNTIME_OCI)
    return worker__oci_create(x);
  int rc = dkr_container_create(x->w->docker, NULL, x->spec, &x->cid, &x->err);
  if (rc != 0)
    return refused(x, rc, "create");
  worker__set_running(x->w, x->in->eid, x->cid);
  return 0;
}

int worker__exec_start(worker_exec_t *x) {
  worker_t *w = x->w;
  if (w->runtime == WORKER_RUNTIME_OCI)
    return worker__oci_start(x); /* an early force_quit: the wait stage kills it */
  int rc = dkr_container_start(w->docker, x->cid, &x->err);
  if (rc != 0)
    return refused(x, rc, "start");
  if (worker__take_quit(w)) {
    LOG_INFO("worker", "execution %s: force quit before it started: killing it", x->in->eid);
    /* Its end shows in the wait stage; a kill that fails leaves it running
     * to its own end. */
    ACTOR_IGNORE(dkr_container_kill(w->docker, x->cid, "SIGKILL", NULL));
  }
  if (x->fifo && worker_fifo_start(x->fifo, x->in->binary, x->in->binary_len) != 0)
    return ACTOR_ENOMEM;
  return 0;
}

void worker__exec_cleanup(worker_exec_t *x, int rc) {
  worker_t *w = x->w;
  const char *eid = x->in->eid;
  worker__set_running(w, eid, NULL); /* no force_quit on a container being removed */
  /* leave_containers keeps finished containers only, never a running one. */
  if (w->runtime == WORKER_RUNTIME_OCI)
    worker__oci_cleanup(x);
  else if (x->cid && (!w->leave_containers || !x->stopped)) {
    char *rerr = NULL;
    int rrc = dkr_container_remove(w->docker, x->cid, &rerr);
    if (rrc != 0)
      LOG_WARN("worker", "could not remove container %s: %s", x->cid,
               rerr ? rerr : actor_strerror(rrc));
    free(rerr);
  }
  worker_fifo_close(x->fifo);
  x->fifo = NULL;
  worker_results_close(&x->res);
  for (int i = 0; i < 2; i++) {
    if (x->pipefd[i] >= 0)
      close(x->pipefd[i]);
    x->pipefd[i] = -1;
  }
  if (rc != 0)
    LOG_WARN("worker", "execution %s: %s%s%s", eid, actor_strerror(rc), x->err ? ": " : "",
             x->err ? x->err : "");
  if (x->res.count > 0 || x->res.lost > 0)
    LOG_DEBUG("worker", "execution %s: %ld results published, %ld lost", eid, x->res.count,
              x->res.lost);
  worker__set_running(w, NULL, NULL);
}
