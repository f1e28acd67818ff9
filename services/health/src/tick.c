/* One health tick (thread pool; ticks never overlap, so the tracking table
 * needs no lock):
 *
 *   1. which worker processes are alive (/proc), which platform containers
 *      exist (one engine call), the worker records of this host and the
 *      unplaced ones (Redis, through the host index: read_workers)
 *   2. orphan containers of this host
 *   3. the status round: `status` to every live READY/BUSY worker of this
 *      host at once (status.c)
 *   4. the verdict on each worker of this host (judge.c) and its repair;
 *      the workers to remove are gathered and removed after the pass, with
 *      one query for the executions they were running
 *   5. orphan results sockets and FIFOs
 *   6. orphan queues, cluster-wide, by one agent at a time (queues.c)
 *
 * A server that does not answer costs only what depends on it: without
 * /proc or Redis the tick does nothing; without the engine, workers are
 * still checked but nothing that removes containers is done (a dead worker
 * waits for the next tick); Mongo and broker failures make the one repair
 * that needs them wait. The tracking table remembers, per worker, when it
 * entered its status, for how many ticks its process has been missing and
 * how many status requests in a row it left unanswered; entries not seen
 * by a complete pass are dropped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "health.h"

bool health_serves_queue(const health_t *h, const char *queue) {
  for (char **q = h->queues; q && *q; q++)
    if (strcmp(*q, queue) == 0)
      return true;
  return false;
}

/* ---- tracking ---- */

static health_track_t *track_get(health_t *h, const char *wid, const char *status, int64_t now) {
  for (size_t i = 0; i < h->ntrack; i++) {
    health_track_t *tr = &h->track[i];
    if (strcmp(tr->wid, wid) != 0)
      continue;
    if (strcmp(tr->status, status) != 0) {
      /* A new status starts afresh: a worker that was REQUESTED (no process
       * yet) and is READY now gets its own two ticks before it is dead. */
      snprintf(tr->status, sizeof(tr->status), "%s", status);
      tr->since_ms = now;
      tr->term_ms = 0;
      tr->dead_ticks = 0;
      tr->status_misses = 0;
    }
    return tr;
  }
  health_track_t *v = actor_grow(h->track, &h->captrack, h->ntrack + 1, sizeof(*v), 32);
  if (v == NULL)
    return NULL;
  h->track = v;
  health_track_t *tr = &h->track[h->ntrack++];
  memset(tr, 0, sizeof(*tr));
  snprintf(tr->wid, sizeof(tr->wid), "%s", wid);
  snprintf(tr->status, sizeof(tr->status), "%s", status);
  tr->since_ms = now;
  return tr;
}

static void track_sweep(health_t *h) {
  size_t j = 0;
  for (size_t i = 0; i < h->ntrack; i++)
    if (h->track[i].seen_tick == h->tick)
      h->track[j++] = h->track[i];
  h->ntrack = j;
}

void health_track_free(health_t *h) {
  free(h->track);
  h->track = NULL;
  h->ntrack = h->captrack = 0;
}

/* ---- step 1 ---- */

static void list_containers(health_tick_t *t) {
  char *err = NULL;
  int rc = dkr_container_list(t->h->docker, "{\"label\":[\"abaco.platform=1\"]}", 1, &t->containers,
                              &err);
  if (rc != 0) {
    LOG_WARN("health", "docker engine unavailable (%s): no container repairs this tick",
             err ? err : actor_strerror(rc));
    t->containers = NULL;
  }
  free(err);
}

/* The worker records this host checks -- those of its host's index set
 * and the unplaced ones (no host yet: REQUESTED), model.h "indexes kept on
 * writes" -- grouped by actor: [[db_id, [worker, ...]], ...], read in one
 * pipelined round trip; NULL when Redis cannot be read. Workers of other
 * hosts are not read at all: a tick costs what this host runs, not what
 * the cluster stores. An index entry whose record is gone is dropped. */
static json_t *read_workers(health_tick_t *t) {
  store_redis_t *r = t->h->redis;
  json_t *members = NULL, *recs = NULL, *all = NULL, *pos = NULL;
  if (model_workers_of_host(r, t->h->host_id, &members) != 0) {
    LOG_WARN("health", "Redis unavailable: skipping this tick");
    return NULL;
  }
  size_t n = json_array_size(members);
  char(*keys)[MODEL_KEY_MAX] = calloc(n + 1, sizeof(*keys));
  char(*dbs)[MODEL_KEY_MAX] = calloc(n + 1, sizeof(*dbs));
  const char **kp = calloc(n + 1, sizeof(*kp));
  bool *ok = calloc(n + 1, sizeof(*ok));
  int rc = (keys && dbs && kp && ok) ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char wid[MODEL_KEY_MAX];
    ok[i] = model_worker_member_split(json_string_value(json_array_get(members, i)), dbs[i],
                                      wid) == 0;
    if (ok[i])
      model_key_worker(dbs[i], wid, keys[i]);
    kp[i] = keys[i]; /* "" for a malformed member: reads as absent */
  }
  if (rc == 0 && n > 0)
    rc = store_record_get_many(r, kp, n, &recs);
  if (rc == 0) {
    all = json_array();
    pos = json_object();
    rc = (all && pos) ? 0 : ACTOR_ENOMEM;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *w = json_array_get(recs, i);
    if (!ok[i])
      continue;
    if (!json_is_object(w)) { /* deleted meanwhile, or its index entry outlived it */
      char wid[MODEL_KEY_MAX];
      if (model_worker_member_split(json_string_value(json_array_get(members, i)), dbs[i],
                                    wid) == 0)
        model_index_worker(r, dbs[i], wid);
      continue;
    }
    json_t *at = json_object_get(pos, dbs[i]);
    if (at == NULL) {
      json_object_set_new(pos, dbs[i], json_integer((json_int_t)json_array_size(all)));
      json_array_append_new(all, json_pack("[s,[]]", dbs[i]));
      at = json_object_get(pos, dbs[i]);
    }
    json_array_append(json_array_get(json_array_get(all, (size_t)json_integer_value(at)), 1), w);
  }
  if (rc != 0)
    LOG_WARN("health", "cannot read the workers of this host: %s", actor_strerror(rc));
  json_decref(members);
  json_decref(recs);
  json_decref(pos);
  free(keys);
  free(dbs);
  free(kp);
  free(ok);
  if (rc != 0) {
    json_decref(all);
    return NULL;
  }
  t->complete = true;
  return all;
}

/* Index updates follow record writes and may fail (model.h): every
 * [health] index_repair_interval one agent of the cluster (whichever takes
 * the lease first; the rebuild is idempotent anyway) rebuilds the indexes
 * from the records, so a worker missing from its host's set is checked
 * again within that time. Costs a read of every actor's workers, once per
 * interval for the whole cluster, not per tick. */
#define REPAIR_LEASE "abaco:health:index_repair"
static void repair_index(health_t *h) {
  int64_t now = actor_time_mono_ms();
  if (h->index_repair_ms <= 0 || now < h->repair_due_ms)
    return;
  h->repair_due_ms = now + h->index_repair_ms;
  char owner[160], host[64] = "";
  if (gethostname(host, sizeof(host) - 1) != 0)
    snprintf(host, sizeof(host), "?");
  snprintf(owner, sizeof(owner), "%s/%s/%ld/repair", h->host_id, host, (long)getpid());
  bool mine = false;
  /* held for the whole interval and never released: one repair per interval */
  if (store_lease_take(h->redis, REPAIR_LEASE, owner, h->index_repair_ms, &mine) != 0 || !mine)
    return;
  long long n = 0;
  int rc = model_index_rebuild(h->redis, true, &n);
  if (rc != 0)
    LOG_WARN("health", "index repair failed (%s): tried again in %lld s", actor_strerror(rc),
             (long long)(h->index_repair_ms / 1000));
  else
    LOG_DEBUG("health", "index repair: %lld actor and worker record(s) in %lld ms", n,
              (long long)(actor_time_mono_ms() - now));
}

const json_t *health_known(health_tick_t *t) {
  if (!t->complete)
    return NULL;
  if (!t->known_read) {
    t->known_read = true;
    if (model_worker_ids_known(t->h->redis, &t->known) != 0) {
      LOG_WARN("health", "cannot read the worker index: orphans are left for the next tick");
      t->known = NULL;
    }
  }
  return t->known;
}

/* ---- step 4 ---- */

/* Whether one of the worker's execution containers is running (true when
 * unknown); the worker's own container (docker backend: abaco.role=worker,
 * no abaco.execution) is not one. */
static bool running_container(const health_tick_t *t, const char *wid) {
  if (t->containers == NULL)
    return true;
  size_t i;
  json_t *c;
  json_array_foreach(t->containers, i, c) {
    const json_t *labels = json_object_get(c, "Labels");
    const char *cw = actor_json_str(labels, "abaco.worker", "");
    if (json_object_get(labels, "abaco.execution") == NULL)
      continue;
    const char *state = actor_json_str(c, "State", "");
    if (strcmp(cw, wid) == 0 && strcmp(state, "exited") != 0 && strcmp(state, "dead") != 0)
      return true;
  }
  return false;
}

static void record_check(health_tick_t *t, const char *db_id, const char *wid) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(t->now_ms, now);
  json_t *f = json_pack("{s:s}", "last_health_check_time", now);
  int rc = f ? model_worker_update(t->h->redis, db_id, wid, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN("health", "worker %s: cannot record the health check: %s", wid, actor_strerror(rc));
}

/* health_status_answer's 1 (answered), 0 (silent), -1 (unknown), or: */
#define NOT_ASKED 2

/* The check of a live worker as the record shows it: by its status answer
 * when it was asked (nothing when the broker failed), else by its process. */
static void note_check(health_tick_t *t, const char *db_id, const char *wid, int answered,
                       const json_t *reply, unsigned misses) {
  if (answered == NOT_ASKED)
    record_check(t, db_id, wid);
  else if (answered >= 0)
    health_status_record(t, db_id, wid, answered, reply, misses);
}

/* One worker as this tick sees it. */
typedef struct {
  const char *db_id, *wid, *status;
  health_track_t *tr;
  int pid;             /* its process, 0 when none */
  int answered;        /* health_status_answer's, or NOT_ASKED */
  const json_t *reply; /* its status answer (borrowed) */
  bool serves;         /* a REQUESTED worker of a queue this host serves */
} seen_t;

/* Whether this host tracks the worker: its own, or a REQUESTED one (no
 * host yet) of a queue it serves. */
static bool is_ours(health_tick_t *t, const json_t *w, seen_t *s, const char **queue,
                    json_t **actor) {
  health_t *h = t->h;
  const char *host = actor_json_str(w, "host_id", NULL);
  if (s->wid == NULL || (host && strcmp(host, h->host_id) != 0))
    return false; /* another host's: not even tracked */
  if (host != NULL)
    return true;
  if (strcmp(s->status, WORKER_REQUESTED) != 0)
    return false;
  if (*actor == NULL && model_actor_get(h->redis, s->db_id, actor) != 0)
    return false;
  if (*queue == NULL)
    *queue = actor_json_str(*actor, "queue", "default");
  s->serves = health_serves_queue(h, *queue);
  return s->serves;
}

/* Its process, and its answer to status when it is asked. */
static void observe(health_tick_t *t, const json_t *w, seen_t *s) {
  health_t *h = t->h;
  health_track_t *tr = s->tr;
  s->pid = health_procs_find(&t->procs, s->wid, actor_json_int(w, "pid", 0));
  tr->seen_tick = h->tick;
  tr->dead_ticks = s->pid ? 0 : tr->dead_ticks + 1;
  /* Not asked: its status is not one that answers; its process counts. */
  s->answered = NOT_ASKED;
  if (health_status_asked(w, h->host_id, s->pid != 0)) {
    s->answered = health_status_answer(t, s->wid, &s->reply);
    if (s->answered == 1)
      tr->status_misses = 0;
    else if (s->answered == 0)
      tr->status_misses++;
  }
  if (s->answered == 0)
    LOG_INFO("health", "worker %s of actor %s (%s, pid %d): no answer to status (%u in a row)",
             s->wid, s->db_id, s->status, s->pid, tr->status_misses);
}

/* Dead, stuck, expired or unresponsive: queued for health_reap (reap_all),
 * once its containers can be listed. */
static void remove_worker(health_tick_t *t, const seen_t *s, health_verdict_t v) {
  const health_t *h = t->h;
  const char *wid = s->wid, *db_id = s->db_id, *status = s->status;
  if (v == HEALTH_UNRESPONSIVE)
    note_check(t, db_id, wid, s->answered, s->reply, s->tr->status_misses);
  if (t->containers == NULL)
    return; /* its containers cannot be removed now: next tick */
  health_reap_why_t why = HEALTH_REAP_EXPIRED;
  if (v == HEALTH_UNRESPONSIVE) {
    /* Killed by health_reap once its executions are settled: killed
     * first, its unacked message would go to a replacement worker that
     * may start it again before the execution is marked ERROR. */
    LOG_WARN("health",
             "worker %s of actor %s (%s, pid %d): no answer to %u status requests in a row: "
             "removing it",
             wid, db_id, status, s->pid, s->tr->status_misses);
    why = HEALTH_REAP_UNRESPONSIVE;
  } else if (v == HEALTH_KILL) {
    LOG_WARN("health", "worker %s of actor %s: still alive after SIGTERM: killing it", wid, db_id);
    if (s->pid > 0)
      kill(s->pid, SIGKILL);
    why = HEALTH_REAP_STUCK;
  } else if (v == HEALTH_DEAD) {
    LOG_WARN("health", "worker %s of actor %s (%s): its process is gone", wid, db_id, status);
    why = HEALTH_REAP_DEAD;
  } else {
    LOG_WARN("health",
             "worker %s of actor %s: %s for more than %llds without a process: "
             "removing it",
             wid, db_id, status, (long long)(h->limits.spawn_timeout_ms / 1000));
  }
  json_array_append_new(t->reaps, json_pack("{s:s, s:s, s:i, s:s, s:i}", "db_id", db_id, "wid",
                                            wid, "why", why, "status", status, "pid",
                                            v == HEALTH_UNRESPONSIVE ? s->pid : 0));
}

/* What the verdict asks for. */
static void act(health_tick_t *t, const seen_t *s, health_verdict_t v) {
  const health_t *h = t->h;
  switch (v) {
  case HEALTH_FOREIGN:
  case HEALTH_LEAVE: break;
  case HEALTH_OK:
    note_check(t, s->db_id, s->wid, s->answered, s->reply, s->tr->status_misses);
    break;
  case HEALTH_SUSPECT:
    LOG_INFO("health", "worker %s of actor %s (%s): no process; checking again next tick", s->wid,
             s->db_id, s->status);
    break;
  case HEALTH_IDLE:
  case HEALTH_ORPHAN:
    note_check(t, s->db_id, s->wid, s->answered, s->reply, s->tr->status_misses);
    health_stop_idle(t, s->db_id, s->wid,
                     v == HEALTH_ORPHAN ? "the actor was deleted"
                                        : "idle for longer than [workers] worker_ttl");
    break;
  case HEALTH_TERMINATE:
    LOG_WARN("health", "worker %s of actor %s: %s for more than %llds: sending SIGTERM", s->wid,
             s->db_id, s->status, (long long)(h->limits.shutdown_timeout_ms / 1000));
    if (s->pid > 0)
      kill(s->pid, SIGTERM);
    s->tr->term_ms = t->now_ms;
    break;
  case HEALTH_KILL:
  case HEALTH_DEAD:
  case HEALTH_EXPIRED:
  case HEALTH_UNRESPONSIVE: remove_worker(t, s, v); break;
  }
}

/* One worker record: whose it is, what its process and status answer
 * show, the verdict (judge.c), and what it asks for. */
static void check_worker(health_tick_t *t, const char *db_id, bool actor_gone, const json_t *w,
                         const char **queue, json_t **actor) {
  health_t *h = t->h;
  seen_t s = {.db_id = db_id,
              .wid = actor_json_str(w, "id", NULL),
              .status = actor_json_str(w, "status", "")};
  if (!is_ours(t, w, &s, queue, actor))
    return;
  if ((s.tr = track_get(h, s.wid, s.status, t->now_ms)) == NULL)
    return;
  observe(t, w, &s);
  health_obs_t o = {.host_id = h->host_id,
                    .serves_queue = s.serves,
                    .alive = s.pid != 0,
                    .running_container = running_container(t, s.wid),
                    .now_ms = t->now_ms,
                    .since_ms = s.tr->since_ms,
                    .dead_ticks = s.tr->dead_ticks,
                    .term_ms = s.tr->term_ms,
                    .status_misses = s.tr->status_misses,
                    .actor_gone = actor_gone};
  health_verdict_t v = health_judge(w, &o, &h->limits);
  LOG_DEBUG("health", "worker %s of actor %s (%s, pid %d): %s", s.wid, db_id, s.status, s.pid,
            health_verdict_name(v));
  act(t, &s, v);
}

/* The workers judged dead, stuck or expired in this pass. */
static void reap_all(health_tick_t *t) {
  json_t *running = NULL;
  if (json_array_size(t->reaps) == 0 || health_running_executions(t, &running) != 0)
    return;
  size_t i;
  json_t *r;
  json_array_foreach(t->reaps, i, r) {
    if (t->h->stopping)
      break;
    const char *db_id = actor_json_str(r, "db_id", "");
    health_reap_why_t why = (health_reap_why_t)actor_json_int(r, "why", HEALTH_REAP_DEAD);
    int pid = (int)actor_json_int(r, "pid", 0);
    if (health_reap(t, db_id, actor_json_str(r, "wid", ""), why, running, pid) == 0 &&
        (why == HEALTH_REAP_DEAD || why == HEALTH_REAP_UNRESPONSIVE) &&
        !health_status_leaving(actor_json_str(r, "status", "")))
      health_replace(t, db_id);
  }
  json_decref(running);
}

/* Which of the actors of all (read_workers' groups) have no record, in one
 * pipelined read: a worker requested by a message send that raced its
 * actor's deletion comes up after the deletion removed the actor's workers
 * (routes_actors.c), and nothing else would stop it. NULL when unknown
 * (Redis failed): then none counts as gone. */
static bool *actors_gone(health_tick_t *t, const json_t *all) {
  size_t n = json_array_size(all);
  if (n == 0)
    return NULL;
  bool *gone = calloc(n, sizeof(*gone));
  json_t *dbs = json_array(), *ids = NULL;
  int rc = (gone && dbs) ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (json_array_append(dbs, json_array_get(json_array_get(all, i), 0)) != 0)
      rc = ACTOR_ENOMEM;
  if (rc == 0)
    rc = model_actor_field_many(t->h->redis, dbs, "db_id", &ids);
  for (size_t i = 0; rc == 0 && i < n; i++)
    gone[i] = json_is_null(json_array_get(ids, i));
  json_decref(ids);
  json_decref(dbs);
  if (rc != 0) {
    LOG_DEBUG("health", "cannot tell which actors are gone: %s", actor_strerror(rc));
    free(gone);
    return NULL;
  }
  return gone;
}

static void check_workers(health_tick_t *t, const json_t *all) {
  bool *gone = actors_gone(t, all);
  size_t i;
  json_t *entry;
  json_array_foreach(all, i, entry) {
    const char *db_id = json_string_value(json_array_get(entry, 0));
    const json_t *workers = json_array_get(entry, 1);
    json_t *actor = NULL;
    const char *queue = NULL;
    size_t k;
    json_t *w;
    json_array_foreach(workers, k, w) {
      if (t->h->stopping)
        break;
      check_worker(t, db_id, gone && gone[i], w, &queue, &actor);
    }
    json_decref(actor);
  }
  free(gone);
}

void health_tick_run(health_t *h) {
  health_tick_t t;
  memset(&t, 0, sizeof(t));
  t.h = h;
  t.now_ms = actor_time_now_ms();
  h->tick++;
  int64_t t0 = actor_time_mono_ms();
  int rc = health_procs_scan(&t.procs);
  if (rc != 0) {
    LOG_ERROR("health", "cannot read /proc (%s): skipping this tick", actor_strerror(rc));
    goto cleanup;
  }
  list_containers(&t);
  if (!h->indexed) { /* the indexes read_workers relies on, once per process */
    long long n = 0;
    int64_t i0 = actor_time_mono_ms();
    if (model_index_rebuild(h->redis, false, &n) == 0) {
      h->indexed = true;
      if (n > 0)
        LOG_INFO("health", "indexed %lld actor and worker record(s) by status and host in %lld ms",
                 n, (long long)(actor_time_mono_ms() - i0));
    } else {
      LOG_WARN("health", "Redis unavailable (the worker index cannot be built): skipping this "
                         "tick");
      goto cleanup;
    }
  }
  repair_index(h);
  json_t *all = read_workers(&t);
  if (all == NULL)
    goto cleanup;
  if (t.containers)
    health_orphan_containers(&t);
  if (!h->stopping)
    health_status_round(&t, all);
  t.reaps = json_array();
  if (t.reaps)
    check_workers(&t, all);
  reap_all(&t);
  if (t.containers)
    health_orphan_files(&t);
  if (t.complete && !h->stopping)
    health_orphan_queues(&t);
  if (t.complete && !h->stopping)
    track_sweep(h);
  json_decref(all);
  LOG_DEBUG("health", "tick %lu: %zu tracked workers, %lld ms", h->tick, h->ntrack,
            (long long)(actor_time_mono_ms() - t0));

cleanup:
  json_decref(t.answers);
  json_decref(t.reaps);
  json_decref(t.containers);
  json_decref(t.known);
  health_procs_free(&t.procs);
}
