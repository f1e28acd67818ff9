/* The spawner: consumes its host's command channels and starts one worker
 * per command (process backend: a child process running the `worker`
 * executable). It owns the workers on its host: on shutdown it stops them. */
#ifndef SPAWNER_H
#define SPAWNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "actor/docker.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "channels/proto/name.h"

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
  const actor_config_t *cfg;
  bool generate_clients; /* [workers] generate_clients, on globally or for some tenant */
  const char *clientg_queue, *clientg_secret; /* [clientg] queue, secret */
  chan_client_t *clients;                     /* requests to clientg (thread pool) */
  spawner_child_t *children;                  /* live worker processes */
  int nchildren;
  bool stopping;
  uv_timer_t stop_timer;
  void (*stop_done)(spawner_t *);
  int inflight;                 /* commands being handled */
  void (*on_idle)(spawner_t *); /* called when inflight drops to 0 while stopping */
};

/* command.c */
void spawner_on_command(chan_conn_t *c, const chan_msg_t *msg, void *ud);

/* children.c: starts the worker process; a token (may be NULL) goes into
 * its environment with its expiry. */
int spawner_start_worker(spawner_t *sp, const char *db_id, const char *wid, const char *token,
                         int64_t token_exp, int *pid);

/* clients.c */
/* Reads [workers] generate_clients (any tenant's) and [clientg];
 * ACTOR_ECONFIG (logged, naming the key) when tokens are on without a
 * secret. */
int spawner_clients_init(spawner_t *sp, const actor_config_t *cfg, const char *uri);
/* A token for a new worker when the actor has `token` true and
 * generate_clients is on for its tenant (*token malloc'd, else NULL). ACTOR_EAUTH when
 * clientg refused, ACTOR_ETIMEDOUT/ACTOR_ECONN when it did not answer
 * (logged). Thread pool. */
int spawner_token_new(spawner_t *sp, const json_t *actor, const char *db_id, const char *wid,
                      char **token, int64_t *expires_at);
/* Revokes a dead worker's token (logged on failure). Thread pool. */
void spawner_token_revoke(spawner_t *sp, const char *tenant, const char *wid);
/* reaper.c: a worker died by a signal: clean up after it and request a
 * replacement. */
void spawner_worker_died(spawner_t *sp, const char *db_id, const char *wid);

/* One dead worker's reaping (reaper.c). */
typedef struct {
  spawner_t *sp;
  uv_work_t work;
  char db_id[256];
  char wid[64];
  char queue[CHAN_NAME_MAX]; /* command queue of the replacement; "" for none */
  char *command;             /* replacement command (JSON text, malloc'd), NULL for none */
} spawner_reap_t;

/* Publishes r's replacement command (loop thread) and takes r: it is freed
 * at once when there is nothing to publish (or the spawner is stopping)
 * or the publish is refused, else by the publish's confirm callback, which
 * logs a failure with the actor's id. */
void spawner__request_replacement(spawner_reap_t *r);
void spawner__reap_free(spawner_reap_t *r);

/* Sends SIGTERM to every worker; done() runs when all have exited (SIGKILL after 10 s). */
void spawner_stop_workers(spawner_t *sp, void (*done)(spawner_t *));

#endif
