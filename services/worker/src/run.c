/* One execution's container, from its files to its record (thread pool),
 * as a sequence of stages, each in its own file with its failure rule:
 *
 *   prepare   results socket, FIFO, token, configs, env, spec  (exec_prepare.c)
 *   create    the container                                    (exec_container.c)
 *   start     start it; an early force_quit; the FIFO writer   (exec_container.c)
 *   wait      until it ends, killing it after max_run_time     (exec_wait.c)
 *   collect   final logs, state, runtime, cpu/io               (exec_collect.c)
 *   clean up  container (unless leave_containers), socket, FIFO (exec_container.c)
 *   record    COMPLETE, once nothing of it is left on the host (exec_record.c)
 *
 * A stage that fails for the platform's reason stops the sequence with its
 * code; one that settles the execution (ERROR stored) or finds the actor's
 * container would not start stops it with 0 and a flag. Clean-up always
 * runs; record only after a run that went through. */
#include <stdlib.h>
#include <string.h>

#include "actor/secret.h"
#include "channels/proto/clients.h"
#include "exec.h"

void worker__exec_init(worker_exec_t *x, worker_t *w, const worker_run_in_t *in, char *why,
                       size_t whylen) {
  memset(x, 0, sizeof(*x));
  x->w = w;
  x->in = in;
  x->res.fd = -1;
  x->pipefd[0] = x->pipefd[1] = -1;
  x->oci.log_fd = x->oci.pidfd = x->oci.lock_fd = -1;
  x->wt.x = x;
  x->wt.docker = w->docker;
  x->wt.eid = in->eid;
  x->wt.max_run_ms = w->exec.max_run_time * 1000;
  x->logs_len = (size_t)-1;
  x->runtime_s = -1;
  x->why = why;
  x->whylen = whylen;
}

void worker__exec_free(worker_exec_t *x) {
  if (x->oci.late != NULL)
    worker__oci_release(x);
  json_decref(x->done);
  free(x->wt.err);
  free(x->err);
  free(x->cid);
  json_decref(x->spec);
  json_decref(x->configs);
  /* The environment held the token and the decrypted configs. */
  if (x->configs_text)
    actor_secret_free(x->configs_text, 0);
  chan_clients_token_free(x->token);
  memset(x, 0, sizeof(*x));
}

/* The next stage runs only after one that went through. */
static bool going(const worker_exec_t *x, int rc) {
  return rc == 0 && !x->settled && !x->start_failed;
}

int worker_run(worker_t *w, const worker_run_in_t *in, bool *start_failed, char *why,
               size_t whylen) {
  worker_exec_t x;
  worker__exec_init(&x, w, in, why, whylen);
  worker__set_running(w, in->eid, NULL);
  int rc = worker__exec_prepare(&x);
  if (going(&x, rc))
    rc = worker__exec_create(&x);
  if (going(&x, rc))
    rc = worker__exec_start(&x);
  if (going(&x, rc))
    rc = worker__exec_wait(&x);
  if (going(&x, rc))
    rc = worker__exec_collect(&x);
  worker__exec_cleanup(&x, rc);
  if (going(&x, rc))
    rc = worker__exec_record(&x);
  *start_failed = x.start_failed;
  worker__exec_free(&x);
  return rc;
}
