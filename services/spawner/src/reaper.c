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

#include "actor/cleanup.h"
#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "channels/proto/command.h"
#include "spawner.h"

typedef struct {
  spawner_t *sp;
  uv_work_t work;
  char db_id[256];
  char wid[64];
  char queue[CHAN_NAME_MAX]; /* command queue of the replacement; "" for none */
  char *command;             /* replacement command (JSON text) */
} reap_t;

/* Removes the worker's containers, then the files their executions shared
 * with it. */
static void remove_containers(spawner_t *sp, const char *wid) {
  actor_cleanup_t c = {.module = "spawner", .socket_dir = sp->socket_dir, .fifo_dir = sp->fifo_dir};
  json_t *eids = json_array();
  actor_cleanup_containers(sp->docker, &c, wid, eids);
  size_t i;
  json_t *e;
  json_array_foreach(eids, i, e) actor_cleanup_exec_files(&c, json_string_value(e));
  json_decref(eids);
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
