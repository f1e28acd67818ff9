/* Stage 5, wait for the container's end with a time limit (thread pool).
 * A waiter thread blocks in the engine's wait, kills the container after
 * [workers] max_run_time (then waits up to 30 s more for it to go) and
 * wakes this thread through a pipe; until then this thread publishes the
 * results socket's datagrams as they come and, on a tick (250 ms, then
 * every second), samples the engine's stats and stores the logs so far.
 * Once the waiter is done: the last results are drained and the FIFO's
 * writer stopped.
 *
 * Failure rule: a pipe or thread that cannot be made returns its code
 * (the container is removed, the message requeued). A wait the engine
 * answers with an error settles the execution as ERROR ("Error on host
 * <host>: waiting for the container failed: ...") and the message is
 * acked; the engine unreachable returns its code (requeued). Logs that
 * cannot be stored while it runs are logged at DEBUG: the final ones are
 * stored by the collect stage. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "actor/log.h"
#include "actor/timefmt.h"
#include "exec.h"

#define FIRST_TICK_MS 250
#define TICK_MS 1000
#define KILL_WAIT_MS 30000
#define PUMP_BATCH 256

static void *waiter_main(void *arg) {
  worker_waiter_t *wt = arg;
  if (wt->x->w->runtime == WORKER_RUNTIME_OCI) {
    worker__oci_wait(wt->x);
    while (write(wt->wake_fd, "x", 1) < 0 && errno == EINTR)
      ;
    return NULL;
  }
  wt->rc = dkr_container_wait(wt->docker, wt->cid, wt->max_run_ms, &wt->exit_code, &wt->err);
  if (wt->rc == ACTOR_ETIMEDOUT && wt->max_run_ms > 0) {
    LOG_INFO("worker", "execution %s ran past max_run_time (%lds): killing it", wt->eid,
             wt->max_run_ms / 1000);
    wt->timed_out = true;
    free(wt->err);
    wt->err = NULL;
    char *kerr = NULL;
    int krc = dkr_container_kill(wt->docker, wt->cid, "SIGKILL", &kerr);
    if (krc != 0)
      LOG_WARN("worker", "execution %s: kill after max_run_time failed: %s", wt->eid,
               kerr ? kerr : actor_strerror(krc));
    free(kerr);
    wt->rc = dkr_container_wait(wt->docker, wt->cid, KILL_WAIT_MS, &wt->exit_code, &wt->err);
  }
  while (write(wt->wake_fd, "x", 1) < 0 && errno == EINTR)
    ;
  return NULL;
}

/* Until the waiter says the container has stopped: results as they come,
 * stats and logs on each tick. */
static void monitor(worker_exec_t *x, int wake_fd) {
  worker_results_t *res = &x->res;
  int64_t t0 = actor_time_mono_ms(), next = t0 + FIRST_TICK_MS;
  for (;;) {
    int64_t left = next - actor_time_mono_ms();
    struct pollfd p[2] = {{.fd = wake_fd, .events = POLLIN}, {.fd = res->fd, .events = POLLIN}};
    int n = poll(p, res->fd >= 0 ? 2 : 1, left > 0 ? (int)left : 0);
    if (n > 0 && (p[1].revents & POLLIN))
      worker_results_pump(x->w, res, PUMP_BATCH); /* ticks must not starve */
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
      return;
    if (actor_time_mono_ms() >= next) {
      worker__sample_stats(x);
      char *err = NULL;
      int rc = worker__store_logs(x, &err);
      if (rc != 0)
        LOG_DEBUG("worker", "execution %s: logs while running: %s", x->in->eid,
                  err ? err : actor_strerror(rc));
      free(err);
      next = (next == t0 + FIRST_TICK_MS ? t0 : next) + TICK_MS;
      if (next <= actor_time_mono_ms())
        next = actor_time_mono_ms() + TICK_MS;
    }
  }
}

int worker__exec_wait(worker_exec_t *x) {
  worker_t *w = x->w;
  worker_waiter_t *wt = &x->wt;
  pthread_t waiter;
  if (pipe2(x->pipefd, O_CLOEXEC) != 0) {
    x->pipefd[0] = x->pipefd[1] = -1;
    return ACTOR_EIO;
  }
  wt->cid = x->cid;
  wt->wake_fd = x->pipefd[1];
  if (pthread_create(&waiter, NULL, waiter_main, wt) != 0)
    return ACTOR_ENOMEM;
  /* From here on nothing leaves before the container has stopped. */
  monitor(x, x->pipefd[0]);
  pthread_join(waiter, NULL);
  x->stopped = wt->rc == 0;
  worker_results_pump(w, &x->res, 0); /* whatever came before the exit */
  worker_fifo_close(x->fifo);
  x->fifo = NULL;
  if (w->runtime == WORKER_RUNTIME_OCI && worker__oci_never_started(x)) {
    x->stopped = false;
    return 0; /* start_failed: execute.c's start-failure rule */
  }
  if (wt->rc == 0)
    return 0;
  if (worker__platform_fault(wt->rc))
    return wt->rc;
  worker__exec_settle(x, "waiting for the container failed: %s",
                      wt->err ? wt->err : actor_strerror(wt->rc));
  return 0;
}
