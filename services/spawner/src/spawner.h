/* The spawner: consumes its host's command channels and starts one worker
 * per command ([spawner] worker_backend: `process`, a child process running
 * the `worker` executable; `docker`, a container of the platform image,
 * containers.c). It owns the workers on its host: on shutdown it stops them. */
#ifndef SPAWNER_H
#define SPAWNER_H

#include <jansson.h>
#include <stdatomic.h>
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
  /* docker backend (containers.c) */
  bool docker_backend;
  const char *worker_image;   /* [spawner] worker_image */
  const char *worker_network; /* [spawner] worker_network; "" = the engine's default */
  const char *conf_host_path; /* [spawner] abaco_conf_host_path, else config_path */
  const char *docker_dd;      /* [docker] dd: the workers' `location` */
  char logs_dir[4096];        /* [logs] directory, absolute; "" = stderr */
  uv_timer_t watch_timer;     /* looks for exited worker containers */
  bool watching;              /* a look at the exited ones is in flight */
  bool stop_deferred;         /* stopping waits for that look to end */
  atomic_bool engine_down;    /* the last listing failed (warned once) */
  uv_work_t stop_work;
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

/* containers.c: the docker backend. */
#define SPAWNER_WORKER_CONF "/etc/abaco/abaco.conf" /* the config inside a worker container */
/* Reads [spawner] worker_image, worker_network, abaco_conf_host_path and
 * [logs] directory; checks the image and network exist (a missing one is
 * ACTOR_ECONFIG, logged naming the key; an engine that does not answer
 * only earns a warning). Needs config_path, socket_dir, fifo_dir, docker. */
int spawner_containers_init(spawner_t *sp);
/* The ContainerCreate body of a worker's container (new reference; NULL
 * when out of memory). Exposed for the unit tests. */
json_t *spawner__worker_spec(const spawner_t *sp, const char *db_id, const char *wid,
                             const char *token, int64_t token_exp);
/* Starts the timer that looks for exited worker containers every second. */
void spawner_containers_watch(spawner_t *sp);
/* Thread pool: creates and starts the worker's container; *cid (size
 * cidlen) gets its id, *pid its main process (tini) as the host sees it.
 * 0, or the engine's error (logged). */
int spawner_container_start(spawner_t *sp, const char *db_id, const char *wid, const char *token,
                            int64_t token_exp, char *cid, size_t cidlen, int *pid);
/* Thread pool, on a redelivered command: the worker's containers on this
 * host (a spawner that died between creating one and recording it leaves
 * it). A running one: 1, its id in *cid and its pid in *pid; ended or
 * never started ones are removed (their output passed on, not reaped):
 * 0 when none is left; else the engine's error (logged). */
int spawner_container_find(spawner_t *sp, const char *wid, char *cid, size_t cidlen, int *pid);
/* Stops (SIGTERM, SIGKILL after 10 s) and removes every worker container
 * of this host, then calls done (loop thread). */
void spawner_containers_stop(spawner_t *sp, void (*done)(spawner_t *));

#endif
