/* The health agent: one per host. Every [health] interval seconds it runs
 * one tick on libuv's thread pool (never two at once): it looks at every
 * worker record of its host ([spawner] host_id) and at every platform
 * container and execution file on it, asks each live READY/BUSY worker for
 * its `status`, and repairs what it finds: dead, stuck (alive but not
 * answering, or hung shutting down), never-started and idle-expired
 * workers, orphan containers, orphan results sockets and binary FIFOs.
 * One agent at a time also removes the broker's orphan queues, which
 * belong to no host.
 *
 * Files: main.c wiring, timer and stop; judge.c the pure decisions (one
 * worker, one queue; unit-tested); procs.c which worker processes are alive
 * (/proc); status.c the status round; tick.c one pass over the stores, the
 * engine and the files; reap.c the repairs (removing a worker and what it
 * leaves behind, a replacement, orphans); queues.c orphan queues (RabbitMQ
 * management API). */
#ifndef HEALTH_H
#define HEALTH_H

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "actor/docker.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "channels/proto/name.h"

/* Consecutive ticks a worker must be seen without its process before it
 * counts as dead: one /proc miss never costs a worker its execution. */
#define HEALTH_DEAD_TICKS 2
/* After SIGTERM to a stuck worker, how long before SIGKILL. */
#define HEALTH_TERM_GRACE_MS 10000
/* A results socket or FIFO younger than this is never an orphan: the
 * worker makes it before it creates the container that uses it. */
#define HEALTH_FILE_GRACE_MS 60000
/* How long the status round waits for the answers (all asked at once). */
#define HEALTH_STATUS_TIMEOUT_MS 2000

/* ---- judge.c (pure: no I/O) ---- */

typedef struct {
  int64_t worker_ttl_ms;       /* [workers] worker_ttl; <= 0: never */
  int64_t shutdown_timeout_ms; /* [health] shutdown_timeout */
  int64_t spawn_timeout_ms;    /* [health] spawn_timeout */
  unsigned status_misses;      /* [health] status_misses; 0: never removed for it */
} health_limits_t;

/* What this tick and the earlier ones saw of one worker. */
typedef struct {
  const char *host_id;    /* ours */
  bool serves_queue;      /* this host's spawner serves the actor's queue */
  bool alive;             /* its process exists on this host */
  bool running_container; /* one of its containers runs (true when unknown) */
  int64_t now_ms;
  int64_t since_ms;       /* first seen (by this agent) in its current status */
  unsigned dead_ticks;    /* consecutive ticks seen without its process, this one included */
  int64_t term_ms;        /* when we sent it SIGTERM; 0: not yet */
  unsigned status_misses; /* consecutive status requests it left unanswered, this tick's included */
  bool actor_gone;        /* its actor's record is gone (deleted while it came up) */
} health_obs_t;

typedef enum {
  HEALTH_FOREIGN,     /* another host's, or no host's yet: not touched */
  HEALTH_LEAVE,       /* nothing to do now */
  HEALTH_OK,          /* its process is alive: record the check */
  HEALTH_SUSPECT,     /* no process this tick: confirmed or cleared on the next */
  HEALTH_DEAD,        /* its process is gone: clean up after it, delete it */
  HEALTH_EXPIRED,     /* never came up within spawn_timeout: delete the record */
  HEALTH_IDLE,        /* idle past worker_ttl: ask it to stop */
  HEALTH_ORPHAN,      /* idle, and its actor was deleted: ask it to stop */
  HEALTH_TERMINATE,   /* stuck shutting down while idle: SIGTERM */
  HEALTH_KILL,        /* SIGTERM did not end it: SIGKILL, then as DEAD */
  HEALTH_UNRESPONSIVE /* alive but deaf to status requests: SIGKILL, then as DEAD */
} health_verdict_t;

/* The verdict on one worker record (borrowed). */
health_verdict_t health_judge(const json_t *worker, const health_obs_t *o,
                              const health_limits_t *l);
const char *health_verdict_name(health_verdict_t v);
/* A time field of a record in ms since the epoch, or -1 when unset or
 * unreadable. */
int64_t health_record_time(const json_t *worker, const char *key);
/* Whether a status is one of the start-up ones (REQUESTED .. UPDATING
 * STORE) or one of the leaving ones (SHUTDOWN_REQUESTED, SHUTTING_DOWN). */
bool health_status_starting(const char *status);
bool health_status_leaving(const char *status);
/* Whether the status round asks this worker record (borrowed): ours
 * (host_id), READY or BUSY, and its process alive. */
bool health_status_asked(const json_t *worker, const char *host_id, bool alive);

/* Orphan queues, read with chan_name_parse (channels/proto/name.h). Health
 * judges mailbox and results queues (owned by an actor: its db_id) and the
 * worker control queues (owned by a worker: its id); every other kind
 * (commands, parked mailboxes, clients, events, not ours) is left alone. */
bool health_queue_judged(chan_qkind_t kind);
bool health_queue_of_actor(chan_qkind_t kind);

typedef enum {
  HEALTH_QUEUE_KEEP,    /* its owner exists (or it is not ours to judge) */
  HEALTH_QUEUE_SUSPECT, /* orphan now: deleted if still so at the next pass */
  HEALTH_QUEUE_DELETE   /* orphan at two consecutive passes */
} health_qverdict_t;

/* owner_exists: its actor or worker has a record (true when unknown);
 * consumers: from the listing, < 0 when unknown; was_suspect: it was an
 * orphan at this agent's previous pass. */
health_qverdict_t health_queue_judge(chan_qkind_t kind, bool owner_exists, long consumers,
                                     bool was_suspect);
const char *health_qverdict_name(health_qverdict_t v);
/* Parses the management API's queue listing (a JSON array of objects with
 * "name" and, once the broker has gathered its stats, "consumers") into
 * {name: consumers or -1} (new reference in *out). 0 or ACTOR_EPARSE. */
int health_queue_list_parse(const char *body, size_t len, json_t **out);

/* ---- procs.c ---- */

/* The worker processes of this host: `worker ... -- <db_id> <wid>`. */
typedef struct {
  struct health_proc_s {
    char wid[64];
    int pid;
  } * v;
  size_t n, cap;
} health_procs_t;

/* Pure: whether a NUL-separated command line (len bytes) is a worker's
 * (`... -- <db_id> <wid>`); copies the worker id into wid (size widlen). */
bool health_cmdline_worker(const char *cmdline, size_t len, char *wid, size_t widlen);
/* Pure: whether one of the NUL-separated arguments equals s. */
bool health_cmdline_has(const char *cmdline, size_t len, const char *s);
/* Reads /proc into *p (sorted by wid). 0 or ACTOR_EIO/ACTOR_ENOMEM. */
int health_procs_scan(health_procs_t *p);
/* The pid of worker wid: the record's pid when that process is the
 * worker's, else the one found by the scan; 0 when none. */
int health_procs_find(const health_procs_t *p, const char *wid, long long record_pid);
void health_procs_free(health_procs_t *p);

/* ---- the agent ---- */

/* What earlier ticks saw of a worker (tick thread only). */
typedef struct {
  char wid[64];
  char status[32];
  int64_t since_ms;
  unsigned dead_ticks;
  int64_t term_ms;
  unsigned status_misses;
  unsigned long seen_tick;
} health_track_t;

typedef struct {
  actor_service_t *svc;
  store_redis_t *redis;
  store_mongo_t *mongo;
  dkr_t *docker;
  chan_client_t *chan;
  const char *host_id;
  char **queues;             /* [spawner] host_queues, NULL-terminated */
  char socket_dir[PATH_MAX]; /* absolute; "" = not swept */
  char fifo_dir[PATH_MAX];
  health_limits_t limits;
  int64_t interval_ms;
  int64_t index_repair_ms; /* [health] index_repair_interval; 0: never */
  bool leave_containers; /* [workers] leave_containers: exited orphans stay */
  /* RabbitMQ management API ([rabbit] management_url etc.; url NULL: no
   * orphan-queue sweep). Decoded credentials and vhost, malloc'd. */
  char *mgmt_url, *mgmt_user, *mgmt_password, *vhost;
  char lock_owner[128]; /* the value of the sweep lock when it is ours */

  /* loop thread */
  uv_timer_t timer;
  uv_work_t work;
  bool ticking;
  atomic_bool stopping; /* also read by the tick, to end early */

  /* tick thread (one tick at a time) */
  unsigned long tick;
  health_track_t *track;
  size_t ntrack, captrack;
  void *curl;             /* CURL easy handle of the management API (kept for keep-alive) */
  bool mgmt_down;         /* the last listing failed (warned once) */
  json_t *queue_suspects; /* {name: true}: orphan queues of the previous sweep */
  bool indexed;           /* model_index_rebuild has run (or found the index built) */
  int64_t repair_due_ms;  /* monotonic time of the next forced index repair */
} health_t;

/* Per-tick state (tick thread). */
typedef struct {
  health_t *h;
  int64_t now_ms;
  health_procs_t procs;
  json_t *containers; /* platform containers on the engine; NULL: engine unreachable */
  bool complete;      /* every worker this host checks was read */
  json_t *known;      /* {wid: true} of every worker (model_worker_ids_known); read when first needed */
  bool known_read;    /* known was asked for (NULL then: Redis failed) */
  json_t *reaps;      /* [{db_id, wid, why, status}]: workers to remove after the pass */
  json_t *answers;    /* {wid: {rc, reply}} of the status round; NULL: none asked */
} health_tick_t;

/* tick.c */
void health_tick_run(health_t *h);
/* Every worker id of the cluster (model_worker_ids_known), read on first
 * use in a complete tick; NULL when unknown. */
const json_t *health_known(health_tick_t *t);
void health_track_free(health_t *h);
bool health_serves_queue(const health_t *h, const char *queue);

/* status.c */
/* Sends `status` to every worker record in `all` (tick.c's read) that
 * health_status_asked, all at once, and waits up to
 * HEALTH_STATUS_TIMEOUT_MS: fills t->answers with {wid: {rc, reply}} where
 * rc is chan_call_t's (reply: the decoded answer, or null). */
void health_status_round(health_tick_t *t, const json_t *all);
/* What the round saw of one worker: 1 answered (*reply borrowed, may be
 * NULL), 0 asked and silent (timed out, or no control queue), -1 not asked
 * or unknown (the broker failed). */
int health_status_answer(const health_tick_t *t, const char *wid, const json_t **reply);
/* Writes what the round saw on the worker record: last_health_check_time
 * and health_status when it answered, health_status NOT ANSWERING and
 * health_misses when it did not. */
void health_status_record(health_tick_t *t, const char *db_id, const char *wid, int answered,
                          const json_t *reply, unsigned misses);

/* queues.c */
/* Reads the management settings (and the AMQP URI for the credentials and
 * vhost) into h. 0 or ACTOR_ECONFIG/ACTOR_ENOMEM. */
int health_queues_config(health_t *h, const actor_config_t *cfg, const char *amqp_uri);
/* One sweep of the broker's orphan queues, when this agent holds the
 * cluster-wide lock; the tick must be complete (health_known). */
void health_orphan_queues(health_tick_t *t);
void health_queues_free(health_t *h);

/* reap.c */
typedef enum {
  HEALTH_REAP_DEAD,        /* the process died */
  HEALTH_REAP_STUCK,       /* killed after being stuck shutting down */
  HEALTH_REAP_EXPIRED,     /* never came up */
  HEALTH_REAP_UNRESPONSIVE /* killed after leaving status requests unanswered */
} health_reap_why_t;

/* The executions RUNNING on any of the workers to reap, as {wid: [eid...]}
 * (new reference), in one query: on FerretDB every filter other than a
 * lone _id scans the collection, so one scan per tick, not one per worker.
 * 0 or the store's error. */
int health_running_executions(health_tick_t *t, json_t **out);
/* Removes a worker: its containers, the executions it was running
 * (`running`, from health_running_executions, plus those its containers
 * name; RUNNING -> ERROR with a reason), their socket and FIFO, its control
 * queues, and its record last (so a failed step is retried next tick).
 * pid > 0: its process, SIGKILLed once the executions are settled
 * (HEALTH_REAP_UNRESPONSIVE). 0 when done. */
int health_reap(health_tick_t *t, const char *db_id, const char *wid, health_reap_why_t why,
                const json_t *running, int pid);
/* Requests one worker for the actor when its mailbox holds messages and no
 * worker that is not leaving remains. */
void health_replace(health_tick_t *t, const char *db_id);
/* Asks an idle worker to stop (READY -> SHUTDOWN_REQUESTED, "stop"); why
 * becomes its status_message and is logged. */
void health_stop_idle(health_tick_t *t, const char *db_id, const char *wid, const char *why);
/* Containers of this host that no worker record claims, and socket/FIFO
 * files whose execution has no container. */
void health_orphan_containers(health_tick_t *t);
void health_orphan_files(health_tick_t *t);

#endif
