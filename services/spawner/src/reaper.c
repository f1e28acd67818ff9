/* When a worker process dies by a signal (kill -9, a crash), nothing it
 * held may leak or stall: its containers are removed (with the results
 * socket and binary FIFO of their executions), its access token revoked,
 * its record deleted, and
 * a replacement worker is requested for the actor through the command
 * channel. The message it was running was never acked, so the broker
 * redelivers it and the replacement runs it (an execution may go from
 * RUNNING to RUNNING again; see the worker).
 *
 * The request's record (the actor's id for the log) travels with the
 * publish and is freed by its confirm callback: nothing is allocated
 * between the decision to publish and the publish. */
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

/* Removes the worker's containers, then the files their executions shared
 * with it. */
static void remove_containers(spawner_t *sp, const char *wid) {
  actor_cleanup_t c = {.module = "spawner", .socket_dir = sp->socket_dir, .fifo_dir = sp->fifo_dir};
  json_t *eids = json_array();
  /* Each failure is logged by it; what is left health removes later. */
  ACTOR_IGNORE(actor_cleanup_containers(sp->docker, &c, wid, eids));
  size_t i;
  json_t *e;
  json_array_foreach(eids, i, e) actor_cleanup_exec_files(&c, json_string_value(e));
  json_decref(eids);
}

/* Builds the command for a replacement worker, with its REQUESTED record. */
static void prepare_replacement(spawner_reap_t *r) {
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
  spawner_reap_t *r = wk->data;
  remove_containers(r->sp, r->wid);
  json_t *rec = NULL;
  int rc = model_worker_get(r->sp->redis, r->db_id, r->wid, &rec);
  if (rc == 0)
    spawner_token_revoke(r->sp, actor_json_str(rec, "tenant", NULL), r->wid);
  json_decref(rec);
  if (rc == ACTOR_ENOTFOUND) {
    /* Someone removed it first: health, judging its pid (e.g. while this
     * spawner was down and its container waited to be settled), and
     * health requests a replacement when the actor needs one. */
    LOG_INFO("spawner", "dead worker %s: its record is gone already: no replacement", r->wid);
    return;
  }
  rc = model_worker_delete(r->sp->redis, r->db_id, r->wid);
  if (rc != 0)
    LOG_WARN("spawner", "dead worker %s: cannot delete its record: %s", r->wid, actor_strerror(rc));
  prepare_replacement(r);
}

static void on_published(chan_conn_t *c, int status, void *ud) {
  (void)c;
  spawner_reap_t *r = ud;
  if (status != 0)
    LOG_ERROR("spawner", "could not request a replacement worker (%s): %s", r->db_id,
              actor_strerror(status));
  free(r);
}

void spawner__reap_free(spawner_reap_t *r) {
  if (r == NULL)
    return;
  free(r->command);
  free(r);
}

void spawner__request_replacement(spawner_reap_t *r) {
  spawner_t *sp = r->sp;
  if (r->command == NULL || sp->stopping) {
    spawner__reap_free(r);
    return;
  }
  char *command = r->command; /* chan_publish copies it */
  r->command = NULL;
  if (chan_publish(sp->conn, r->queue, command, strlen(command), NULL, on_published, r) != 0) {
    LOG_ERROR("spawner", "actor %s: could not request a replacement worker", r->db_id);
    free(r);
  } else {
    LOG_INFO("spawner", "actor %s: requested a replacement for dead worker %s", r->db_id, r->wid);
  }
  free(command);
}

static void reap_done(uv_work_t *wk, int status) {
  spawner_reap_t *r = wk->data;
  if (status != 0) {
    spawner__reap_free(r);
    return;
  }
  spawner__request_replacement(r);
}

void spawner_worker_died(spawner_t *sp, const char *db_id, const char *wid) {
  spawner_reap_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  r->sp = sp;
  r->work.data = r;
  snprintf(r->db_id, sizeof(r->db_id), "%s", db_id);
  snprintf(r->wid, sizeof(r->wid), "%s", wid);
  if (uv_queue_work(&sp->svc->loop, &r->work, reap_work, reap_done) != 0)
    free(r);
}
