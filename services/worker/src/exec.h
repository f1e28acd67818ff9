/* One mailbox message in stages (private to the worker). A message goes
 * through them in this order; each file opens with its failure rule: what
 * becomes of the message (ack, or requeue after a pause) and of the
 * execution record when its stage fails.
 *
 *   exec_delivery.c  loop: copy the delivery, queue it; ack or requeue   (worker_on_message)
 *   exec_admit.c     pool: read the message and the actor; SUBMITTED -> RUNNING
 *   execute.c        pool: the sequence: admit, worker BUSY, run, settle, worker READY
 *   run.c            pool: the container's run, one stage after the other:
 *     exec_prepare.c    files (results socket, FIFO), token, configs, env, spec
 *     exec_container.c  create; start and attach; clean up
 *     exec_wait.c       wait for the end, killing it after max_run_time
 *     exec_collect.c    logs, results, final state, accounting
 *     exec_record.c     COMPLETE; ERROR; back to SUBMITTED; the start-failure rule
 *
 * A stage returns 0 to go on, or a platform-fault code (store, broker or
 * engine unreachable: the execution goes back to SUBMITTED and the message
 * is requeued). A stage that settles the execution for good (ERROR stored)
 * or finds the actor's container would not start sets `settled` or
 * `start_failed` and returns 0: the stages after it do not run, clean-up
 * does. */
#ifndef WORKER_EXEC_H
#define WORKER_EXEC_H

#include <pthread.h>
#include <sys/types.h>

#include "actor/errors.h"
#include "worker.h"

/* Store, broker or engine unreachable: the message must run again later. */
static inline bool worker__platform_fault(int rc) {
  return rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT;
}

/* ---- a delivery (exec_delivery.c, exec_admit.c, execute.c) ---- */

/* What becomes of a message once its execution is done with. */
enum {
  WORKER_OUT_ACK,      /* settled: ack */
  WORKER_OUT_RETRY,    /* requeue after a back-off pause */
  WORKER_OUT_OBSOLETE, /* the actor has a newer revision: requeue now and shut down */
  WORKER_OUT_RUN       /* (admission only) go on and run it */
};

struct worker_job_s {
  worker_t *w;
  uv_work_t work;
  uv_timer_t retry;
  chan_tag_t tag;
  char *body; /* the delivery's bytes, NUL-terminated */
  size_t len;
  bool binary;
  char *meta_text; /* binary messages: metadata from the abaco_meta header, NULL without one */
  int outcome;
};
typedef struct worker_job_s worker_job_t;

/* The allocator deliveries are copied with (malloc); a test replaces it to
 * make a copy fail. */
extern void *(*worker__job_alloc)(size_t size);

/* What worker_on_message does with a delivery. */
typedef enum {
  WORKER_DELIVERY_RUN,  /* *job is the copy to run */
  WORKER_DELIVERY_NACK, /* give it back now (stopping, or no memory for the copy) */
  WORKER_DELIVERY_HOLD  /* busy: keep it unacked until the execution ends */
} worker_delivery_t;

/* Decides, and copies the delivery for the thread pool (*job, freed with
 * worker__job_free). Loop thread. */
worker_delivery_t worker__delivery_take(const worker_t *w, const chan_msg_t *msg,
                                        worker_job_t **job);
void worker__job_free(worker_job_t *j);

/* A message admitted to run (exec_admit.c). */
typedef struct {
  json_t *meta;          /* the metadata (owned) */
  json_t *actor;         /* the actor record (owned) */
  const json_t *message; /* in meta; NULL for binary messages */
  const char *eid;       /* in meta */
} worker_msg_t;

/* Admission: reads the message and the actor and marks the execution
 * RUNNING. WORKER_OUT_RUN (m filled) or the message's outcome. Thread pool. */
int worker__admit(worker_t *w, const worker_job_t *j, worker_msg_t *m);
void worker__msg_free(worker_msg_t *m);

/* The execution of a job, admission to settling (execute.c): sets
 * j->outcome. Thread pool (uv_work_cb). */
void worker__execute(uv_work_t *wk);

/* ---- a container's run (run.c and the exec_*.c stages) ---- */

/* The waiter thread's side (exec_wait.c): set before it starts, read after
 * it is joined. */
typedef struct {
  struct worker_exec_s *x; /* the execution (the OCI path's waiter) */
  dkr_t *docker;
  const char *cid;
  const char *eid;
  long max_run_ms; /* 0 = no limit */
  int wake_fd;     /* write end of the pipe */
  int rc;
  int64_t exit_code;
  bool timed_out;
  char *err;
} worker_waiter_t;

typedef struct worker_exec_s {
  worker_t *w;
  const worker_run_in_t *in;
  /* prepare */
  worker_results_t res;
  worker_fifo_t *fifo;
  char *token;
  json_t *configs;
  char *configs_text; /* decrypted: wiped when freed */
  json_t *spec;
  /* container */
  char *cid;
  oci_exec_t oci; /* runtime = oci: the bundle and runc */
  bool stopped; /* the container ran to its end */
  /* wait */
  worker_waiter_t wt;
  int pipefd[2];
  /* collect: figures sampled while it ran, then the final ones */
  int64_t cpu, io;    /* last non-zero samples */
  size_t logs_len;    /* what was stored last (SIZE_MAX: nothing yet) */
  int logs_truncated;
  double runtime_s;   /* from the engine's StartedAt and FinishedAt, -1 unknown */
  json_t *done;       /* the fields that make it COMPLETE */
  /* how it went */
  bool settled;      /* ended for good: ERROR is stored */
  bool start_failed; /* create or start refused for the actor's reason (why says it) */
  char *err;         /* the engine's message of the failing call */
  char *why;
  size_t whylen;
} worker_exec_t;

void worker__exec_init(worker_exec_t *x, worker_t *w, const worker_run_in_t *in, char *why,
                       size_t whylen);
/* Frees what is left (after worker__exec_cleanup). */
void worker__exec_free(worker_exec_t *x);

/* exec_prepare.c */
int worker__exec_prepare(worker_exec_t *x);
/* mkdir -p path; the last directory gets mode, those above it 0755. */
void worker__mkdirs(const char *path, mode_t mode);
/* exec_container.c */
int worker__exec_create(worker_exec_t *x);
int worker__exec_start(worker_exec_t *x);
void worker__exec_cleanup(worker_exec_t *x, int rc);
/* Which execution and container run now (for force_quit); NULL clears. */
void worker__set_running(worker_t *w, const char *eid, const char *cid);
/* A force_quit that came before the container started (and forgets it). */
bool worker__take_quit(worker_t *w);
/* exec_wait.c */
int worker__exec_wait(worker_exec_t *x);
/* exec_collect.c */
void worker__sample_stats(worker_exec_t *x);
int worker__store_logs(worker_exec_t *x, char **err);
int worker__exec_collect(worker_exec_t *x);
/* The fields that make the execution COMPLETE from the engine's State
 * (borrowed, may be NULL) and what was sampled; sets x->runtime_s. New
 * reference, NULL when out of memory. No I/O. */
json_t *worker__complete_fields(worker_exec_t *x, const json_t *state);
/* oci.c: the same stages through runc (runtime = oci) */
int worker__oci_create(worker_exec_t *x);
int worker__oci_start(worker_exec_t *x);
void worker__oci_wait(worker_exec_t *x);
bool worker__oci_never_started(worker_exec_t *x);
void worker__oci_sample(worker_exec_t *x);
int worker__oci_logs(worker_exec_t *x, size_t max, char **out, size_t *len, int *truncated);
json_t *worker__oci_state(worker_exec_t *x);
void worker__oci_cleanup(worker_exec_t *x);
/* After the record: the rest of the clean-up (runc delete, unmount, the
 * network namespace, the lease, the bundle) on a thread of its own, off
 * the execution's path to COMPLETE and its ack. */
void worker__oci_release(worker_exec_t *x);
/* exec_record.c */
int worker__exec_record(worker_exec_t *x);
/* Fills why and stores ERROR: the stage settled the execution. */
void worker__exec_settle(worker_exec_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Back to SUBMITTED so the execution shows it waits for another try. */
void worker__exec_resubmit(worker_t *w, const char *eid);
/* The start-failure rule (execute.c's note): a WORKER_OUT_* outcome. */
int worker__start_failed(worker_t *w, const json_t *actor, const char *eid, const char *reason);

#endif
