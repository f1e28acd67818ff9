/* worker: `worker -c abaco.conf -- <actor db_id> <worker id>`, started by
 * the spawner. Comes up (worker READY, actor READY), consumes its mailbox
 * and control queue, and on `stop` or SIGTERM finishes the execution in
 * hand, removes its record and exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "worker.h"

static worker_t wk;
static uv_work_t lifecycle;
static int start_rc;

/* ---- start ---- */

static void start_work(uv_work_t *req) {
  worker_t *w = req->data;
  json_t *actor = NULL;
  start_rc = model_actor_get(w->redis, w->db_id, &actor);
  if (start_rc != 0) {
    LOG_ERROR("worker", "worker %s: actor %s: %s", w->wid, w->db_id, actor_strerror(start_rc));
    return;
  }
  json_decref(actor);
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  static const char *const COMING_UP[] = {WORKER_REQUESTED, WORKER_SPAWNER_SETUP,
                                          WORKER_CREATING_CONTAINER, WORKER_UPDATING_STORE, NULL};
  json_t *f = json_pack("{s:s, s:s}", "start_time", now, "host_id", w->host_id);
  start_rc = model_worker_transition(w->redis, w->db_id, w->wid, COMING_UP, WORKER_READY, f);
  json_decref(f);
  if (start_rc != 0) {
    LOG_ERROR("worker", "worker %s of actor %s cannot become READY: %s", w->wid, w->db_id,
              actor_strerror(start_rc));
    return;
  }
  static const char *const NEW_ACTOR[] = {ACTOR_SUBMITTED, NULL};
  int rc = model_actor_transition(w->redis, w->db_id, NEW_ACTOR, ACTOR_READY, NULL);
  if (rc != 0 && rc != ACTOR_ESTATE)
    LOG_WARN("worker", "actor %s: could not mark READY: %s", w->db_id, actor_strerror(rc));
}

static void on_control(chan_conn_t *c, const chan_msg_t *msg, void *ud);

static void after_start(uv_work_t *req, int status) {
  worker_t *w = req->data;
  if (status != 0 || start_rc != 0 || w->stopping) {
    w->stopping = true;
    worker_shutdown(w);
    return;
  }
  w->started = true;
  chan_consume(w->conn, w->control, 10, on_control, w);
  chan_consume(w->conn, w->mailbox, 1, worker_on_message, w);
  LOG_INFO("worker", "worker %s of actor %s ready", w->wid, w->db_id);
}

/* ---- control ---- */

static void on_control(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  worker_t *w = ud;
  json_t *cmd = NULL;
  const char *what = NULL;
  if (chan_json_decode(msg->body, msg->len, 4096, &cmd) == 0)
    what = json_is_string(cmd) ? json_string_value(cmd) : actor_json_str(cmd, "command", NULL);
  if (what == NULL) {
    LOG_WARN("worker", "worker %s: ignoring an unreadable control message", w->wid);
  } else if (strcmp(what, "stop") == 0 || strcmp(what, "stop-no-delete") == 0) {
    LOG_INFO("worker", "worker %s: %s requested", w->wid, what);
    w->stopping = true;
  } else if (strcmp(what, "force_quit") == 0) {
    worker_force_quit(w);
  } else if (strcmp(what, "status") != 0) {
    LOG_WARN("worker", "worker %s: unknown control message '%s'", w->wid, what);
  }
  json_decref(cmd);
  chan_ack(c, msg->tag);
  if (w->stopping && !w->busy)
    worker_shutdown(w);
}

/* ---- stop ---- */

static void remove_work(uv_work_t *req) {
  worker_t *w = req->data;
  int rc = model_worker_delete(w->redis, w->db_id, w->wid);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: could not remove its record: %s", w->wid, actor_strerror(rc));
}

static void on_conn_closed(chan_conn_t *c, void *ud) {
  (void)c;
  worker_t *w = ud;
  actor_service_close_signals(w->svc);
}

static void after_remove(uv_work_t *req, int status) {
  (void)status;
  worker_t *w = req->data;
  chan_conn_close(w->conn, on_conn_closed, w);
}

void worker_shutdown(worker_t *w) {
  static bool once;
  if (once || w->busy)
    return;
  once = true;
  if (w->started) {
    chan_cancel(w->conn, w->mailbox);
    chan_cancel(w->conn, w->control);
  }
  lifecycle.data = w;
  if (uv_queue_work(&w->svc->loop, &lifecycle, remove_work, after_remove) != 0)
    chan_conn_close(w->conn, on_conn_closed, w);
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  wk.stopping = true;
  if (!wk.busy)
    worker_shutdown(&wk);
}

/* ---- wiring ---- */

static int read_config(const actor_config_t *cfg, worker_t *w) {
  if (actor_config_get_int(cfg, "workers", "max_run_time", 0, &w->max_run_time) ||
      actor_config_get_int(cfg, "web", "max_log_length", 1000000, &w->max_log_length) ||
      actor_config_get_int(cfg, "web", "log_ex", 86400, &w->log_ex) ||
      actor_config_get_int(cfg, "workers", "max_cpus", 0, &w->max_cpus) ||
      actor_config_get_bool(cfg, "workers", "leave_containers", false, &w->leave_containers))
    return ACTOR_ECONFIG;
  w->mem_limit = actor_config_get(cfg, "workers", "mem_limit", "");
  if (*w->mem_limit && worker_parse_bytes(w->mem_limit) < 0) {
    LOG_ERROR("worker", "[workers] mem_limit: '%s' is not a size like 512m or 2g", w->mem_limit);
    return ACTOR_ECONFIG;
  }
  w->actor_uid = actor_config_get(cfg, "workers", "actor_uid", "");
  w->actor_gid = actor_config_get(cfg, "workers", "actor_gid", "");
  w->host_id = actor_config_get(cfg, "spawner", "host_id", "0");
  return 0;
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "worker", argc, argv) != 0)
    return 1;
  int status = 1;
  wk.svc = &svc;
  uv_mutex_init(&wk.lock);
  if (svc.argc != 2) {
    LOG_ERROR("worker", "usage: worker -c abaco.conf -- <actor db_id> <worker id>");
    goto cleanup;
  }
  snprintf(wk.db_id, sizeof(wk.db_id), "%s", svc.argv[0]);
  snprintf(wk.wid, sizeof(wk.wid), "%s", svc.argv[1]);
  chan_name_mailbox(wk.db_id, wk.mailbox);
  chan_name_worker(wk.wid, wk.control);
  if (read_config(svc.cfg, &wk) != 0)
    goto cleanup;
  const char *uri =
      actor_config_get(svc.cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (store_redis_new(svc.cfg, 2, &wk.redis) != 0 || store_mongo_new(svc.cfg, &wk.mongo) != 0 ||
      dkr_new(actor_config_get(svc.cfg, "docker", "dd", "unix:///var/run/docker.sock"),
              &wk.docker) != 0 ||
      chan_conn_new(&svc.loop, uri, "worker", &wk.conn) != 0) {
    LOG_ERROR("worker", "worker %s: cannot set up stores, engine client or channel", wk.wid);
    goto cleanup;
  }
  lifecycle.data = &wk;
  if (uv_queue_work(&svc.loop, &lifecycle, start_work, after_start) != 0)
    goto cleanup;
  actor_service_run(&svc, on_stop);
  status = start_rc == 0 ? 0 : 1;

cleanup:
  dkr_free(wk.docker);
  store_mongo_free(wk.mongo);
  store_redis_free(wk.redis);
  uv_mutex_destroy(&wk.lock);
  actor_service_done(&svc);
  return status;
}
