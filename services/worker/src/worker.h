/* The worker: one per (actor, worker id). Takes one message at a time from
 * the actor's mailbox, runs one container for it, records the execution,
 * and only then acks the message. Also listens on its control queue
 * (`stop`, `force_quit`). Blocking work (stores, Docker) runs on libuv's
 * thread pool; the loop thread owns the broker connection. */
#ifndef WORKER_H
#define WORKER_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "actor/docker.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"

typedef struct {
  actor_service_t *svc;
  store_redis_t *redis;
  store_mongo_t *mongo;
  dkr_t *docker;
  chan_conn_t *conn;
  char db_id[256];
  char wid[64];
  char mailbox[CHAN_NAME_MAX];
  char control[CHAN_NAME_MAX];
  const char *host_id;

  /* [workers] / [web] settings */
  long max_run_time;   /* seconds, 0 = none */
  long max_log_length; /* bytes */
  long log_ex;         /* seconds logs are kept */
  const char *mem_limit;
  long max_cpus;
  bool leave_containers;
  const char *actor_uid, *actor_gid;

  bool busy;      /* an execution is running */
  bool stopping;  /* no new messages; exit when idle */
  bool started;   /* consumers are running */
  uv_mutex_t lock;
  char cid[128];  /* container of the running execution, guarded by lock */
} worker_t;

/* execute.c: handle one mailbox message. */
void worker_on_message(chan_conn_t *c, const chan_msg_t *msg, void *ud);
/* Kills the running container, if any (thread pool). */
void worker_force_quit(worker_t *w);

/* main.c */
void worker_shutdown(worker_t *w);

/* Parses a memory size like "2g", "512m", "1024" into bytes; -1 if invalid. */
long long worker_parse_bytes(const char *s);

#endif
