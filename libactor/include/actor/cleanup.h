/* Cleaning up after a dead worker: the engine's containers labelled
 * abaco.worker=<wid>, and the files each of its executions shared with it
 * (results socket <socket_dir>/<eid>.sock, binary FIFO <fifo_dir>/<eid>).
 * Shared by the spawner's reaper and the health agent, which log under their
 * own module and decide themselves when the files go. */
#ifndef ACTOR_CLEANUP_H
#define ACTOR_CLEANUP_H

#include "actor/errors.h"

#include <jansson.h>

#include "actor/docker.h"

/* All strings borrowed, for the duration of the call. */
typedef struct {
  const char *module;     /* log module, e.g. "health" */
  const char *host_id;    /* only containers with no abaco.host label or this one; NULL: any */
  const char *socket_dir; /* NULL or "": no results sockets */
  const char *fifo_dir;   /* NULL or "": no FIFOs */
  const char *retry;      /* appended to failure logs, e.g. ": next tick"; NULL: "" */
} actor_cleanup_t;

/* Removes worker wid's containers and appends the abaco.execution label of
 * each (removed or not) to eids, which may be NULL. Returns 0, the listing's
 * error (nothing was removed), or the last removal error (the others were
 * still tried). Logs each removal and failure. */
ACTOR_MUST_CHECK
int actor_cleanup_containers(dkr_t *docker, const actor_cleanup_t *c, const char *wid,
                             json_t *eids);

/* Removes the execution's results socket and FIFO, if any. An eid that is
 * not a plain file name (a label is not a path) is ignored. */
void actor_cleanup_exec_files(const actor_cleanup_t *c, const char *eid);

#endif
