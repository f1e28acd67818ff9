/* The repairs a tick makes: removing a worker and everything it leaves
 * behind, requesting a replacement, stopping an idle worker, and removing
 * orphan containers and files.
 *
 * Removing a worker goes outside-in and deletes its record last, so a step
 * that fails (engine, Mongo) leaves the record for the next tick to try
 * again. Its executions are found twice over -- by the abaco.execution
 * label of its containers and by a Mongo query for RUNNING executions with
 * its worker_id (the container may never have been created) -- and each is
 * set to ERROR only if it is still RUNNING *on this worker*: a redelivered
 * message that another worker has since taken (RUNNING again, with that
 * worker's id) or finished is left alone. That guard is model_exec_transition's
 * with the worker id added, so it is written here with findAndModify.
 *
 * A worker that is alive but stuck (no answer to status requests) is
 * SIGKILLed only after its executions are ERROR: its unacked message goes
 * back to the mailbox when it dies, and a replacement must find the
 * execution settled, not start it again.
 *
 * Queues: the control queues of every worker removed here (worker_<wid>,
 * spawner_worker_<wid>) are deleted at once; queues.c finds the orphans
 * left by anything else. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actor/cleanup.h"
#include "actor/errors.h"
#include "actor/execstats.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "channels/proto/command.h"
#include "health.h"

#define PUBLISH_TIMEOUT_MS 5000
/* The api's lease on "add the first worker to this actor" (services/api
 * workers.c), taken here too so the two do not both add one. */
#define ENSURE_LEASE_MS 3000

/* What health removes after a worker: only this host's containers. */
static actor_cleanup_t cleanup_of(const health_t *h) {
  return (actor_cleanup_t){.module = "health",
                           .host_id = h->host_id,
                           .socket_dir = h->socket_dir,
                           .fifo_dir = h->fifo_dir,
                           .retry = ": next tick"};
}

static void remove_exec_files(const health_t *h, const char *eid) {
  actor_cleanup_t c = cleanup_of(h);
  actor_cleanup_exec_files(&c, eid);
}

/* RUNNING on worker wid -> ERROR with a reason. 0 also when it is no
 * longer RUNNING there. The guarded write scans the collection on FerretDB
 * (its filter is more than a lone _id), so a read by _id first skips it for
 * executions that have settled or moved on. */
static int exec_error(health_t *h, const char *eid, const char *wid, const char *why) {
  json_t *doc = NULL;
  json_t *by_id = json_pack("{s:s}", "_id", eid);
  int rc = by_id ? store_mongo_find_one(h->mongo, MODEL_COLL_EXECUTIONS, by_id, NULL, &doc)
                 : ACTOR_ENOMEM;
  json_decref(by_id);
  bool running_here = rc == 0 && strcmp(actor_json_str(doc, "status", ""), EXEC_RUNNING) == 0 &&
                      strcmp(actor_json_str(doc, "worker_id", ""), wid) == 0;
  json_decref(doc);
  if (rc == ACTOR_ENOTFOUND || (rc == 0 && !running_here))
    return 0;
  if (rc == 0) {
    char now[ACTOR_TIME_MAX];
    actor_time_format(actor_time_now_ms(), now);
    json_t *filter =
        json_pack("{s:s, s:s, s:s}", "_id", eid, "status", EXEC_RUNNING, "worker_id", wid);
    json_t *update = json_pack("{s:{s:s, s:s, s:s}}", "$set", "status", EXEC_ERROR,
                               "status_message", why, "finish_time", now);
    rc = (filter && update) ? store_mongo_find_and_modify(h->mongo, MODEL_COLL_EXECUTIONS, filter,
                                                          update, 0, 0, NULL)
                            : ACTOR_ENOMEM;
    json_decref(filter);
    json_decref(update);
  }
  if (rc == 0) {
    LOG_WARN("health", "execution %s: ERROR: %s", eid, why);
    int mrc = actor_execstats_status(h->redis, EXEC_ERROR);
    if (mrc != 0)
      LOG_DEBUG("health", "metrics: could not count execution %s ERROR: %s", eid,
                actor_strerror(mrc));
  } else if (rc != ACTOR_ENOTFOUND)
    LOG_WARN("health", "execution %s: cannot mark it ERROR (%s): next tick", eid,
             actor_strerror(rc));
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

int health_running_executions(health_tick_t *t, json_t **out) {
  *out = NULL;
  json_t *wids = json_array();
  size_t i;
  json_t *r;
  json_array_foreach(t->reaps, i, r) json_array_append(wids, json_object_get(r, "wid"));
  json_t *filter = json_pack("{s:s, s:{s:o}}", "status", EXEC_RUNNING, "worker_id", "$in", wids);
  json_t *opts = json_pack("{s:{s:i, s:i}}", "projection", "_id", 1, "worker_id", 1);
  json_t *found = NULL;
  int rc = (filter && opts)
               ? store_mongo_find(t->h->mongo, MODEL_COLL_EXECUTIONS, filter, opts, &found)
               : ACTOR_ENOMEM;
  json_decref(filter);
  json_decref(opts);
  if (rc != 0) {
    LOG_WARN("health", "cannot look up the executions of %zu dead workers (%s): next tick",
             json_array_size(t->reaps), actor_strerror(rc));
    return rc;
  }
  json_t *by_wid = json_object();
  json_t *e;
  json_array_foreach(found, i, e) {
    const char *eid = actor_json_str(e, "_id", NULL);
    const char *wid = actor_json_str(e, "worker_id", NULL);
    if (by_wid == NULL || eid == NULL || wid == NULL)
      continue;
    json_t *list = json_object_get(by_wid, wid);
    if (list == NULL) {
      list = json_array();
      json_object_set_new(by_wid, wid, list);
    }
    json_array_append_new(list, json_string(eid));
  }
  json_decref(found);
  if (by_wid == NULL)
    return ACTOR_ENOMEM;
  *out = by_wid;
  return 0;
}

static void delete_control_queues(health_t *h, const char *wid) {
  char q[CHAN_NAME_MAX];
  chan_name_worker(wid, q);
  int rc = chan_client_delete_queue(h->chan, q);
  chan_name_spawner_worker(wid, q);
  if (rc == 0)
    rc = chan_client_delete_queue(h->chan, q);
  if (rc != 0)
    LOG_INFO("health", "worker %s: its control queues stay (%s)", wid, actor_strerror(rc));
}

int health_reap(health_tick_t *t, const char *db_id, const char *wid, health_reap_why_t why,
                const json_t *running, int pid) {
  health_t *h = t->h;
  char reason[512];
  switch (why) {
  case HEALTH_REAP_DEAD:
    snprintf(reason, sizeof(reason),
             "Worker %s died while running this execution (host %s; found by the health agent).",
             wid, h->host_id);
    break;
  case HEALTH_REAP_STUCK:
    snprintf(reason, sizeof(reason),
             "Worker %s was killed by the health agent after being stuck shutting down for more "
             "than %lld s (host %s).",
             wid, (long long)(h->limits.shutdown_timeout_ms / 1000), h->host_id);
    break;
  case HEALTH_REAP_UNRESPONSIVE:
    snprintf(reason, sizeof(reason),
             "Worker %s stopped answering status requests (%u in a row) and was killed by the "
             "health agent (host %s).",
             wid, h->limits.status_misses, h->host_id);
    break;
  default:
    snprintf(reason, sizeof(reason), "Worker %s never started (host %s).", wid, h->host_id);
    break;
  }
  json_t *eids = json_array();
  if (eids == NULL)
    return ACTOR_ENOMEM;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(running, wid), i, e) json_array_append(eids, e);
  actor_cleanup_t c = cleanup_of(h);
  int rc = actor_cleanup_containers(h->docker, &c, wid, eids);
  json_array_foreach(eids, i, e) {
    if (rc != 0)
      break;
    rc = exec_error(h, json_string_value(e), wid, reason);
  }
  /* Still that worker's process (not a pid reused since the tick began)? */
  if (rc == 0 && pid > 0 && health_procs_find(&t->procs, wid, pid) == pid &&
      kill(pid, SIGKILL) == 0)
    LOG_WARN("health", "worker %s of actor %s: killed (pid %d)", wid, db_id, pid);
  if (rc == 0) {
    json_array_foreach(eids, i, e) remove_exec_files(h, json_string_value(e));
    delete_control_queues(h, wid);
    rc = model_worker_delete(h->redis, db_id, wid);
    if (rc == ACTOR_ENOTFOUND)
      rc = 0;
    if (rc == 0)
      LOG_WARN("health", "worker %s of actor %s removed (%s)", wid, db_id,
               why == HEALTH_REAP_DEAD           ? "its process died"
               : why == HEALTH_REAP_STUCK        ? "stuck shutting down"
               : why == HEALTH_REAP_UNRESPONSIVE ? "alive but not answering"
                                                 : "it never started");
    else
      LOG_WARN("health", "worker %s: cannot delete its record (%s): next tick", wid,
               actor_strerror(rc));
  }
  json_decref(eids);
  return rc;
}

/* ---- replacement ---- */

static int request_worker(health_t *h, const char *db_id, const json_t *actor) {
  chan_command_t cmd;
  int rc = chan_command_prepare(h->redis, actor, &cmd);
  if (rc != 0)
    return rc;
  rc = chan_client_publish(h->chan, cmd.queue, cmd.body, strlen(cmd.body), NULL,
                           PUBLISH_TIMEOUT_MS);
  chan_command_done(h->redis, actor, &cmd, rc == 0);
  if (rc == 0)
    LOG_INFO("health", "actor %s: requested worker %s to replace a dead one", db_id,
             cmd.worker_id);
  return rc;
}

void health_replace(health_tick_t *t, const char *db_id) {
  health_t *h = t->h;
  json_t *actor = NULL, *workers = NULL;
  if (model_actor_get(h->redis, db_id, &actor) != 0)
    return;
  if (strcmp(actor_json_str(actor, "status", ""), ACTOR_SHUTTING_DOWN) == 0 ||
      model_worker_list(h->redis, db_id, &workers) != 0)
    goto cleanup;
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) {
    if (!health_status_leaving(actor_json_str(w, "status", "")))
      goto cleanup; /* it still has a worker */
  }
  char mailbox[CHAN_NAME_MAX];
  chan_name_mailbox(db_id, mailbox);
  long waiting = 0;
  if (chan_client_queue_len(h->chan, mailbox, &waiting) != 0 || waiting == 0)
    goto cleanup;
  bool mine = false;
  if (model_ensure_worker_claim(h->redis, db_id, ENSURE_LEASE_MS, &mine) != 0 || !mine)
    goto cleanup;
  int rc = request_worker(h, db_id, actor);
  if (rc != 0)
    LOG_WARN("health",
             "actor %s: %ld messages wait and it has no worker; requesting one "
             "failed (%s): the next message requests one",
             db_id, waiting, actor_strerror(rc));

cleanup:
  json_decref(workers);
  json_decref(actor);
}

/* ---- idle workers ---- */

void health_stop_idle(health_tick_t *t, const char *db_id, const char *wid, const char *why) {
  health_t *h = t->h;
  static const char *const IDLE[] = {WORKER_READY, NULL};
  json_t *f = json_pack("{s:s}", "status_message", why);
  int rc = f ? model_worker_transition(h->redis, db_id, wid, IDLE, WORKER_SHUTDOWN_REQUESTED, f)
             : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND)
    return; /* it took a message meanwhile, or left */
  if (rc != 0) {
    LOG_WARN("health", "worker %s: cannot mark it SHUTDOWN_REQUESTED: %s", wid, actor_strerror(rc));
    return;
  }
  char q[CHAN_NAME_MAX];
  chan_name_worker(wid, q);
  static const char STOP[] = "\"stop\"";
  rc = chan_client_publish(h->chan, q, STOP, sizeof(STOP) - 1, NULL, PUBLISH_TIMEOUT_MS);
  if (rc != 0)
    LOG_WARN("health",
             "worker %s of actor %s: %s, but \"stop\" could not be sent (%s); "
             "it gets SIGTERM after [health] shutdown_timeout",
             wid, db_id, why, actor_strerror(rc));
  else
    LOG_INFO("health", "worker %s of actor %s: %s: asked it to stop", wid, db_id, why);
}

/* ---- orphans ---- */

static bool exited(const json_t *c) {
  const char *state = actor_json_str(c, "State", "");
  return strcmp(state, "exited") == 0 || strcmp(state, "dead") == 0;
}

/* 1: no worker record claims the container, 0: one does, <0: unknown. */
static int unclaimed(health_tick_t *t, const char *actor, const char *wid) {
  if (wid == NULL || wid[0] == '\0')
    return 1;
  if (actor && actor[0]) {
    json_t *w = NULL;
    int rc = model_worker_get(t->h->redis, actor, wid, &w);
    json_decref(w);
    return rc == 0 ? 0 : rc == ACTOR_ENOTFOUND ? 1 : rc;
  }
  const json_t *known = health_known(t);
  if (known == NULL)
    return ACTOR_ESTATE;
  return json_object_get(known, wid) ? 0 : 1;
}

void health_orphan_containers(health_tick_t *t) {
  health_t *h = t->h;
  size_t i;
  json_t *c;
  json_array_foreach(t->containers, i, c) {
    const json_t *labels = json_object_get(c, "Labels");
    const char *cid = actor_json_str(c, "Id", NULL);
    const char *host = actor_json_str(labels, "abaco.host", NULL);
    const char *wid = actor_json_str(labels, "abaco.worker", NULL);
    const char *actor = actor_json_str(labels, "abaco.actor", NULL);
    const char *eid = actor_json_str(labels, "abaco.execution", NULL);
    if (cid == NULL || host == NULL || strcmp(host, h->host_id) != 0)
      continue; /* another host's */
    /* A worker's own container (docker backend) is its spawner's: the
     * spawner's watch copies its output and removes it once it ends, and
     * reaps its worker; removing it here would race that (output lost,
     * a worker killed by a signal never reaped). While the spawner is
     * down an ended one stays: the record is judged by its pid as usual,
     * and the host's spawner settles the container when it runs again. */
    if (strcmp(actor_json_str(labels, "abaco.role", ""), "worker") == 0)
      continue;
    if (h->leave_containers && exited(c))
      continue;
    if (wid && health_procs_find(&t->procs, wid, 0) != 0)
      continue; /* its worker process lives */
    if (unclaimed(t, actor, wid) != 1)
      continue;
    char *err = NULL;
    int rc = dkr_container_remove(h->docker, cid, &err);
    if (rc != 0) {
      LOG_WARN("health", "cannot remove orphan container %.12s: %s", cid,
               err ? err : actor_strerror(rc));
      free(err);
      continue;
    }
    LOG_WARN("health", "removed orphan container %.12s (worker %s%s%s)", cid, wid ? wid : "none",
             eid ? ", execution " : "", eid ? eid : "");
    if (eid && wid) {
      char why[256];
      snprintf(why, sizeof(why),
               "Worker %s no longer exists; its container was removed by the health agent "
               "(host %s).",
               wid, h->host_id);
      exec_error(h, eid, wid, why);
    }
    if (eid)
      remove_exec_files(h, eid);
  }
}

/* Executions that have a container on this engine (any state), as a set. */
static json_t *container_executions(const health_tick_t *t) {
  json_t *set = json_object();
  size_t i;
  json_t *c;
  json_array_foreach(t->containers, i, c) {
    const char *eid = actor_json_str(json_object_get(c, "Labels"), "abaco.execution", NULL);
    if (set && eid)
      json_object_set_new(set, eid, json_true());
  }
  return set;
}

static void sweep_dir(health_tick_t *t, const char *dir, const char *suffix, mode_t type,
                      const json_t *live) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    if (errno != ENOENT)
      LOG_WARN("health", "cannot read %s: %s", dir, strerror(errno));
    return;
  }
  size_t slen = strlen(suffix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    size_t n = strlen(name);
    if (name[0] == '.' || n <= slen || n - slen >= 128 || strcmp(name + n - slen, suffix) != 0)
      continue;
    struct stat st;
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || (st.st_mode & S_IFMT) != type)
      continue;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (t->now_ms - mtime < HEALTH_FILE_GRACE_MS)
      continue;
    char eid[128];
    memcpy(eid, name, n - slen);
    eid[n - slen] = '\0';
    if (json_object_get(live, eid))
      continue;
    if (unlinkat(dirfd(d), name, 0) == 0)
      LOG_INFO("health", "removed %s/%s: its execution has no container", dir, name);
  }
  closedir(d);
}

void health_orphan_files(health_tick_t *t) {
  json_t *live = container_executions(t);
  if (live == NULL)
    return;
  if (t->h->socket_dir[0])
    sweep_dir(t, t->h->socket_dir, ".sock", S_IFSOCK, live);
  if (t->h->fifo_dir[0])
    sweep_dir(t, t->h->fifo_dir, "", S_IFIFO, live);
  json_decref(live);
}
