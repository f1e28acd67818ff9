/* The spawner: consumes its host's command channels and starts one worker
 * per command (process backend: a child process running the `worker`
 * executable). It owns the workers on its host: on shutdown it stops them. */
#ifndef SPAWNER_H
#define SPAWNER_H

#include <stdbool.h>
#include <uv.h>

#include "actor/docker.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"

typedef struct spawner_child_s spawner_child_t;

typedef struct spawner_s spawner_t;

struct spawner_s {
  actor_service_t *svc;
  store_redis_t *redis;
  dkr_t *docker;
  chan_conn_t *conn;
  const char *host_id;
  const char *host_ip;
  const char *config_path; /* absolute, passed to workers */
  char worker_path[4096];
  char socket_dir[4096]; /* [workers] socket_host_path_dir, absolute */
  char fifo_dir[4096];   /* [workers] fifo_host_path_dir, absolute */
  long max_workers_per_host;
  spawner_child_t *children; /* live worker processes */
  int nchildren;
  bool stopping;
  uv_timer_t stop_timer;
  void (*stop_done)(spawner_t *);
  int inflight;              /* commands being handled */
  void (*on_idle)(spawner_t *); /* called when inflight drops to 0 while stopping */
};

/* command.c */
void spawner_on_command(chan_conn_t *c, const chan_msg_t *msg, void *ud);

/* children.c */
int spawner_start_worker(spawner_t *sp, const char *db_id, const char *wid, int *pid);
/* reaper.c: a worker died by a signal: clean up after it and request a
 * replacement. */
void spawner_worker_died(spawner_t *sp, const char *db_id, const char *wid);

/* Sends SIGTERM to every worker; done() runs when all have exited (SIGKILL after 10 s). */
void spawner_stop_workers(spawner_t *sp, void (*done)(spawner_t *));

#endif
