/* Stage 2, prepare the container's spec (thread pool): the files the
 * container shares with the worker (results socket <socket dir>/<eid>.sock;
 * binary FIFO <fifo dir>/<eid>, binary messages only), the access token,
 * the actor's configs, the environment (actor/execenv.h) and the
 * ContainerCreate body (spec.c).
 *
 * Failure rule: a results socket path too long for the host (ETOOBIG)
 * settles the execution as ERROR ("Error on host <host>: the results socket
 * path is too long") and the message is acked: no retry can fix it. Any
 * other failure (the host's files, clientg, the store, memory) returns its
 * code: the execution goes back to SUBMITTED and the message is requeued.
 * What was made is removed by the clean-up stage. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actor/actorcfg.h"
#include "actor/execenv.h"
#include "actor/log.h"
#include "exec.h"

/* mkdir -p; the last component gets mode, the ones above 0755. Errors
 * show when a file is made in it. Also called from worker-ext.so (the OCI
 * runtime), which binds to the worker binary's exported symbols. */
void worker__mkdirs(const char *path, mode_t mode) {
  char *p = strdup(path);
  if (p == NULL)
    return;
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0755);
      *s = '/';
    }
  }
  mkdir(p, mode);
  free(p);
}

static int open_files(worker_exec_t *x) {
  worker_t *w = x->w;
  worker__mkdirs(w->socket_dir, 0755);
  int rc = worker_results_open(&x->res, w->socket_dir, w->db_id, x->in->eid);
  if (rc == 0 && x->in->binary) {
    worker__mkdirs(w->fifo_dir, 0755);
    rc = worker_fifo_open(w->fifo_dir, x->in->eid, &x->fifo);
  }
  if (rc == ACTOR_ETOOBIG) {
    worker__exec_settle(x, "the results socket path is too long");
    return 0;
  }
  return rc; /* otherwise a host problem: try again later */
}

int worker__exec_prepare(worker_exec_t *x) {
  worker_t *w = x->w;
  int rc = open_files(x);
  if (rc != 0 || x->settled)
    return rc;
  rc = worker_token_get(w, x->in->actor, &x->token);
  if (rc == 0 && !w->config_key.set && w->config_key_text && *w->config_key_text) {
    /* One execution at a time: no other thread reads the key meanwhile. */
    rc = actor_secret_key_init(&w->config_key, w->config_key_text);
    if (rc != 0)
      LOG_ERROR("worker", "[web] encryption_key: cannot derive a key from it: %s",
                actor_strerror(rc));
  }
  if (rc == 0)
    rc = actorcfg_for_actor(w->redis, &w->config_key, w->db_id, &x->configs);
  if (rc == 0 && (x->configs_text = json_dumps(x->configs, JSON_COMPACT)) == NULL)
    rc = ACTOR_ENOMEM;
  if (rc != 0)
    return rc; /* clientg or the store: try again later */
  actor_execenv_in_t ein = {.actor = x->in->actor,
                            .meta = x->in->meta,
                            .message = x->in->message,
                            .worker_id = w->wid,
                            .access_token = x->token,
                            .configs = x->configs_text};
  json_t *env = NULL;
  rc = actor_execenv_build(&ein, &env);
  if (rc != 0) {
    json_decref(env);
    return rc;
  }
  if (w->docker_sock == NULL) /* NULL again for a tcp:// engine: cheap */
    w->docker_sock = dkr_unix_path(w->docker);
  worker_spec_in_t sin = {.actor = x->in->actor,
                          .env = env, /* the spec owns it now */
                          .eid = x->in->eid,
                          .results_sock = x->res.path,
                          .binary_fifo = x->fifo ? worker_fifo_path(x->fifo) : NULL};
  x->spec = worker_spec(w, &sin);
  return x->spec ? 0 : ACTOR_ENOMEM;
}
