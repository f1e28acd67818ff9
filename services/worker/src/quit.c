/* force_quit from the control queue: kill the container of the running
 * execution (of a given one, or whichever). The kill is blocking (thread
 * pool); an execution whose container has not started yet is marked, and
 * the start stage (exec_container.c) kills it as soon as it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "worker.h"

typedef struct {
  uv_work_t work;
  worker_t *w;
  char eid[64];
} kill_t;

static void kill_work(uv_work_t *wk) {
  kill_t *k = wk->data;
  worker_t *w = k->w;
  char cid[128], eid[64];
  uv_mutex_lock(&w->lock);
  bool match = w->eid[0] != '\0' && (k->eid[0] == '\0' || strcmp(k->eid, w->eid) == 0);
  if (match)
    w->quit_pending = true; /* for a container not started yet */
  snprintf(cid, sizeof(cid), "%s", match ? w->cid : "");
  snprintf(eid, sizeof(eid), "%s", w->eid);
  uv_mutex_unlock(&w->lock);
  if (!match) {
    LOG_INFO("worker", "worker %s: force quit of %s: not running here", w->wid,
             k->eid[0] ? k->eid : "an execution");
    return;
  }
  if (cid[0] == '\0')
    return;
  if (w->runtime == WORKER_RUNTIME_OCI) {
    /* quit_pending is set: the execution's waiter (oci.c) kills it. */
    LOG_INFO("worker", "force quit of execution %s requested", eid);
    return;
  }
  char *err = NULL;
  int rc = dkr_container_kill(w->docker, cid, "SIGKILL", &err);
  if (rc != 0)
    LOG_WARN("worker", "force quit of execution %s (container %.12s) failed: %s", eid, cid,
             err ? err : actor_strerror(rc));
  else
    LOG_INFO("worker", "force quit execution %s (container %.12s)", eid, cid);
  free(err);
  if (w->thread_done != NULL)
    w->thread_done();
}

static void after_kill(uv_work_t *wk, int status) {
  (void)status;
  free(wk->data);
}

void worker_force_quit(worker_t *w, const char *eid) {
  kill_t *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return;
  k->w = w;
  k->work.data = k;
  snprintf(k->eid, sizeof(k->eid), "%s", eid ? eid : "");
  if (uv_queue_work(&w->svc->loop, &k->work, kill_work, after_kill) != 0)
    free(k);
}
