/* Shared between oci.c (the stages) and oci_clean.c (the clean-up and the
 * sweep): private to the OCI runtime, not part of worker-ext's interface. */
#ifndef WORKER_OCI_INT_H
#define WORKER_OCI_INT_H

#include <sys/types.h>

#include "exec.h"

/* Writes text to path (created or truncated, 0644). 0 or -1 (errno). */
int oci_write_file(const char *path, const char *text);
/* `runc kill <cid> KILL`. 0, or -1 (logged at debug). */
int oci_runc_kill(worker_t *w, const char *cid);
/* waitpid on e->runc_pid with flags; once reaped, e->status and
 * e->finished_ms are set and e->runc_pid is 0. */
void oci_reap(oci_exec_t *e, int flags);
/* Removes the bundles of workers that died before their clean-up. */
void oci_sweep(worker_t *w);

#endif
