/* The worker: one per (actor, worker id). Takes one message at a time from
 * the actor's mailbox, runs one container for it (docs/api.md "What a container sees": environment,
 * results socket, binary FIFO, logs, limits), records the execution, and
 * only then acks the message. Also listens on its control queue (`stop`,
 * `stop-no-delete`, `force_quit`, `status`). Blocking work (stores, Docker,
 * the results socket) runs on libuv's thread pool; the loop thread owns the
 * broker connection.
 *
 * Files: main.c wiring, start, control and stop; quit.c force_quit; one
 * mailbox message in stages, each file with its failure rule (the map is
 * in exec.h): exec_delivery.c (loop: take, ack, requeue), execute.c (the
 * message's sequence), exec_admit.c, run.c (the container's sequence),
 * exec_prepare.c, exec_container.c, exec_wait.c, exec_collect.c,
 * exec_record.c; spec.c the container's create body; events.c platform
 * events; results.c the results socket; fifo.c the binary-message FIFO;
 * token.c the access token; metrics.c execution figures. */
#ifndef WORKER_H
#define WORKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "actor/docker.h"
#include "actor/execconf.h"
#include "actor/secret.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "channels/proto/name.h"
#include "channels/proto/event.h"
#include "oci.h"

/* [workers] runtime */
enum { WORKER_RUNTIME_DOCKER, WORKER_RUNTIME_OCI };

/* Consecutive container create/start failures (actor-caused) after which
 * the actor goes to ERROR. */
#define WORKER_MAX_START_FAILURES 5
/* The expiry of logs kept forever ([web] log_ex -1): 9999-12-31T23:59:59Z. */
#define WORKER_LOGS_FOREVER_MS 253402300799000LL
/* Results queues are deleted by the broker after this much disuse. */
#define WORKER_RESULTS_EXPIRE_MS (24LL * 3600 * 1000)

typedef struct worker_s {
  actor_service_t *svc;
  store_redis_t *redis;
  store_mongo_t *mongo;
  dkr_t *docker;
  chan_conn_t *conn;
  chan_client_t *results; /* blocking publisher for results (connects lazily) */
  char db_id[256];
  char wid[64];
  char mailbox[CHAN_NAME_MAX];
  char control[CHAN_NAME_MAX];
  const char *host_id;
  long long revision; /* the worker record's revision */

  /* [workers] / [web] / [spawner] settings */
  int runtime;      /* WORKER_RUNTIME_*: [workers] runtime */
  worker_oci_t oci; /* runtime = oci: its settings and the image cache */
  actor_execconf_t exec; /* limits, log_ex, user, generate_clients: the actor's tenant's */
  long max_log_length;   /* bytes */
  bool leave_containers;
  const char *network;     /* [spawner] docker_network, "" = engine default */
  const char *docker_sock; /* the engine's unix socket ([docker] dd), NULL if tcp
                              (set at the first execution: exec_prepare.c) */
  char *socket_dir;        /* absolute (malloc'd) */
  const char *clientg_queue, *clientg_secret; /* [clientg] queue, secret */
  actor_secret_key_t config_key;              /* [web] encryption_key (secret configs) */
  const char *config_key_text; /* its text; the key is derived at the first execution */
  char tenant[64];                            /* the actor's, read at start */
  /* A stateful actor's (read at start; it never becomes stateless): its
   * mailbox is single-active-consumer. */
  bool stateful;

  /* The access token (token.c): execution thread, then the stop work. */
  char *token;
  int64_t token_exp;  /* seconds since the epoch */
  int64_t token_life; /* seconds it was issued for */
  char *fifo_dir;     /* absolute (malloc'd) */

  /* Loop thread only. */
  bool busy;                      /* a message is in hand */
  bool stopping;                  /* no new messages; exit when idle */
  bool keep_record;               /* stop-no-delete: leave the record (as SHUTTING_DOWN) */
  bool started;                   /* consumers are running */
  bool held;                      /* a delivery that came while busy (exec_delivery.c) */
  chan_tag_t held_tag;
  unsigned fault_streak;          /* consecutive requeues (back-off) */
  struct worker_job_s *retry_job; /* the message waiting out a retry pause */
  /* Touched only by the message in hand (one at a time). */
  unsigned start_failures; /* consecutive create/start failures */

  /* Shared between the loop and the execution thread. */
  /* Loads worker-ext.so and makes the engine and store clients
   * (ext/ext_stubs.c; main.c sets it, NULL in unit tests): called on the
   * loop thread before an execution is handed to the pool, so that the
   * libraries' initialisation (OpenSSL's, libcurl's, libmongoc's) runs on
   * the main thread, as it did when they were linked in (their exit
   * handlers free it there). */
  void (*load_exec)(struct worker_s *w);
  /* Releases the calling pool thread's OpenSSL state at the end of a job
   * that may have used worker-ext.so (worker_ext_thread_done; main.c sets
   * it, NULL in unit tests). */
  void (*thread_done)(void);
  uv_mutex_t lock;
  char cid[128];     /* container of the running execution, guarded by lock */
  char eid[64];      /* the running execution, guarded by lock */
  bool quit_pending; /* force_quit came before the container started, guarded */
} worker_t;

/* ---- exec_delivery.c ---- */
/* Handles one mailbox message (loop thread). */
void worker_on_message(chan_conn_t *c, const chan_msg_t *msg, void *ud);
/* ext/ext_stubs.c (the worker binary only): loads worker-ext.so and makes
 * w's clients, once; failures are logged (the calls needing them fail). */
void worker_ext_load(struct worker_s *w);
/* ext/ext_stubs.c: releases the calling thread's OpenSSL state
 * (OPENSSL_thread_stop in worker-ext.so) once the module is loaded; a
 * no-op before. Called at the end of each pool job that may have used the
 * module: pool threads outlive OpenSSL's exit-time cleanup, which would
 * leave their state unreleased. */
void worker_ext_thread_done(void);
/* Ends a retry pause now (the message goes back to the queue): a stop
 * need not wait for it. */
void worker_retry_now(worker_t *w);

/* ---- quit.c ---- */
/* Kills the running container (of execution `eid`, NULL for whichever). */
void worker_force_quit(worker_t *w, const char *eid);

/* ---- exec_record.c ---- */
/* Marks an execution ERROR with a reason (thread pool). */
void worker_exec_error(worker_t *w, const char *eid, const char *why);

/* ---- run.c ---- */
typedef struct {
  const json_t *actor;   /* the actor record */
  const json_t *meta;    /* the mailbox message's metadata */
  const json_t *message; /* the message; NULL for binary messages */
  const char *eid;
  const void *binary; /* binary messages: the bytes (borrowed), else NULL */
  size_t binary_len;
} worker_run_in_t;

/* Runs one execution's container to its end and records it (logs, final
 * state, accounting, COMPLETE). Returns 0 when the execution is settled
 * (COMPLETE, or ERROR for a reason no retry can fix), or a platform-fault
 * code (store, broker or engine unreachable) when the message must run
 * again later. *start_failed is set (and why filled) when the container
 * could not be created or started for a reason of the actor's (an engine
 * error answer): the caller decides between a retry and ERROR. The
 * container, socket and FIFO are gone when this returns (the container
 * stays with [workers] leave_containers). Thread pool. */
int worker_run(worker_t *w, const worker_run_in_t *in, bool *start_failed, char *why,
               size_t whylen);

/* ---- spec.c ---- */
typedef struct {
  const json_t *actor;
  json_t *env; /* stolen */
  const char *eid;
  const char *results_sock; /* host path, NULL for none */
  const char *binary_fifo;  /* host path, NULL for none */
} worker_spec_in_t;

/* The ContainerCreate body (new reference, NULL when out of memory):
 * image, env, labels, user, limits, mounts, never privileged unless the
 * actor is. No I/O. */
json_t *worker_spec(const worker_t *w, const worker_spec_in_t *in);

/* ---- results.c ---- */
typedef struct {
  int fd;     /* -1 when closed */
  char *path; /* host path of the socket (malloc'd) */
  char queue[CHAN_NAME_MAX];
  bool declared; /* the results queue exists */
  long count;    /* datagrams published */
  long lost;     /* datagrams that could not be published */
} worker_results_t;

/* Creates and binds the datagram socket <dir>/<eid>.sock (mode 0777). */
int worker_results_open(worker_results_t *r, const char *dir, const char *db_id, const char *eid);
/* Publishes the datagrams waiting on the socket (non-blocking), at most
 * max of them (0: all). */
void worker_results_pump(worker_t *w, worker_results_t *r, long max);
/* Closes the socket and removes its file; safe on a zeroed or closed one. */
void worker_results_close(worker_results_t *r);

/* ---- fifo.c ---- */
typedef struct worker_fifo_s worker_fifo_t;

/* Creates the FIFO <dir>/<eid> (mode 0666); *out is owned by the caller. */
int worker_fifo_open(const char *dir, const char *eid, worker_fifo_t **out);
const char *worker_fifo_path(const worker_fifo_t *f);
/* Starts a thread that writes the bytes (borrowed until worker_fifo_close)
 * into the FIFO once a reader has it open, then closes it (EOF). */
int worker_fifo_start(worker_fifo_t *f, const void *data, size_t len);
/* Stops the writer (the container is gone), joins it, removes the FIFO,
 * frees f. NULL is fine. */
void worker_fifo_close(worker_fifo_t *f);

/* ---- events.c ---- */
/* Publishes a platform event (see channels/proto/event.h); a failure is logged,
 * never returned: the effect is stored already. Thread pool. */
void worker_event(worker_t *w, const chan_event_t *e);

/* ---- token.c ---- */
/* The environment variables the spawner hands a token over in. */
#define WORKER_ENV_TOKEN "ABACO_WORKER_ACCESS_TOKEN"
#define WORKER_ENV_TOKEN_EXPIRES "ABACO_WORKER_ACCESS_TOKEN_EXPIRES"
/* Takes the token out of the environment (start-up). */
void worker_token_adopt(worker_t *w);
/* The token for an execution of `actor` (*out malloc'd, NULL when the
 * actor has none), renewed first when it is near its end. A platform-fault
 * code when a needed token cannot be had: the message waits. Thread pool. */
int worker_token_get(worker_t *w, const json_t *actor, char **out);
/* Revokes the token with clientg (stop). Thread pool. */
void worker_token_revoke(worker_t *w);

/* ---- metrics.c ---- */
/* Counts an execution that reached `status` (RUNNING, COMPLETE, ERROR) and,
 * when runtime_s >= 0, its runtime. Failures are logged. Thread pool. */
void worker_count_execution(worker_t *w, const char *status, double runtime_s);

/* ---- main.c ---- */
void worker_shutdown(worker_t *w);

#endif
