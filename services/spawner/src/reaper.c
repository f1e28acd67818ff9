/* When a worker process dies by a signal (kill -9, a crash), nothing it
 * held may leak or stall: its containers are removed (with the results
 * socket and binary FIFO of their executions), its access token revoked,
 * its record deleted, and
 * a replacement worker is requested for the actor through the command
 * channel. The message it was running was never acked, so the broker
 * redelivers it and the replacement runs it (an execution may go from
 * RUNNING to RUNNING again; see the worker). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "channels/command.h"
#include "spawner.h"

typedef struct {
  spawner_t *sp;
  uv_work_t work;
  char db_id[256];
  char wid[64];
  char queue[CHAN_NAME_MAX]; /* command queue of the replacement; "" for none */
  char *command;             /* replacement command (JSON text) */
} reap_t;

/* Removes the files a worker shares with an execution's container. */
static void remove_execution_files(spawner_t *sp, const char *eid) {
  char path[4096];
  int n = snprintf(path, sizeof(path), "%s/%s.sock", sp->socket_dir, eid);
  if (sp->socket_dir[0] && n > 0 && (size_t)n < sizeof(path))
    unlink(path);
  n = snprintf(path, sizeof(path), "%s/%s", sp->fifo_dir, eid);
  if (sp->fifo_dir[0] && n > 0 && (size_t)n < sizeof(path))
    unlink(path);
}

static void remove_containers(spawner_t *sp, const char *wid) {
  char filters[256];
  snprintf(filters, sizeof(filters), "{\"label\":[\"abaco.worker=%s\"]}", wid);
  json_t *list = NULL;
  char *err = NULL;
  int rc = dkr_container_list(sp->docker, filters, 1, &list, &err);
  if (rc != 0) {
    LOG_WARN("spawner", "worker %s: cannot list its containers: %s", wid,
             err ? err : actor_strerror(rc));
    free(err);
    return;
  }
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *cid = actor_json_str(c, "Id", NULL);
    const char *eid = actor_json_str(json_object_get(c, "Labels"), "abaco.execution", NULL);
    if (cid == NULL)
      continue;
    char *rerr = NULL;
    rc = dkr_container_remove(sp->docker, cid, &rerr);
    if (rc == 0)
      LOG_INFO("spawner", "removed container %.12s of dead worker %s", cid, wid);
    else
      LOG_WARN("spawner", "cannot remove container %.12s of dead worker %s: %s", cid, wid,
               rerr ? rerr : actor_strerror(rc));
    free(rerr);
    if (eid)
      remove_execution_files(sp, eid);
  }
  json_decref(list);
}

/* Builds the command for a replacement worker, with its REQUESTED record. */
static void prepare_replacement(reap_t *r) {
  spawner_t *sp = r->sp;
  json_t *actor = NULL;
  if (model_actor_get(sp->redis, r->db_id, &actor) != 0)
    return; /* gone, or the store is down: health reconciles later */
  if (strcmp(actor_json_str(actor, "status", ""), ACTOR_SHUTTING_DOWN) != 0) {
    chan_command_t cmd;
    if (chan_command_prepare(sp->redis, actor, &cmd) == 0) {
      r->command = cmd.body; /* published from the loop (reap_done) */
      snprintf(r->queue, sizeof(r->queue), "%s", cmd.queue);
    }
  }
  json_decref(actor);
}

static void reap_work(uv_work_t *wk) {
  reap_t *r = wk->data;
  remove_containers(r->sp, r->wid);
  json_t *rec = NULL;
  if (model_worker_get(r->sp->redis, r->db_id, r->wid, &rec) == 0)
    spawner_token_revoke(r->sp, actor_json_str(rec, "tenant", NULL), r->wid);
  json_decref(rec);
  int rc = model_worker_delete(r->sp->redis, r->db_id, r->wid);
  if (rc != 0)
    LOG_WARN("spawner", "dead worker %s: cannot delete its record: %s", r->wid, actor_strerror(rc));
  prepare_replacement(r);
}

static void on_published(chan_conn_t *c, int status, void *ud) {
  (void)c;
  char *what = ud;
  if (status != 0)
    LOG_ERROR("spawner", "could not request a replacement worker (%s): %s", what,
              actor_strerror(status));
  free(what);
}

static void reap_done(uv_work_t *wk, int status) {
  reap_t *r = wk->data;
  if (status == 0 && r->command && !r->sp->stopping) {
    char *what = strdup(r->db_id);
    if (chan_publish(r->sp->conn, r->queue, r->command, strlen(r->command), NULL, on_published,
                     what) != 0) {
      LOG_ERROR("spawner", "actor %s: could not request a replacement worker", r->db_id);
      free(what);
    } else {
      LOG_INFO("spawner", "actor %s: requested a replacement for dead worker %s", r->db_id, r->wid);
    }
  }
  free(r->command);
  free(r);
}

void spawner_worker_died(spawner_t *sp, const char *db_id, const char *wid) {
  reap_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  r->sp = sp;
  r->work.data = r;
  snprintf(r->db_id, sizeof(r->db_id), "%s", db_id);
  snprintf(r->wid, sizeof(r->wid), "%s", wid);
  if (uv_queue_work(&sp->svc->loop, &r->work, reap_work, reap_done) != 0)
    free(r);
}
