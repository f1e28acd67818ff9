/* worker: `worker -c abaco.conf -- <actor db_id> <worker id>`, started by
 * the spawner. Comes up (worker READY, actor READY; its revision is the
 * one on its record), consumes its mailbox and control queue, and on
 * `stop` or SIGTERM finishes the execution in hand, removes its record and
 * exits (`stop-no-delete`: leaves the record, as SHUTTING_DOWN). */
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "channels/proto/clients.h"
#include "channels/proto/mailbox.h"
#include "worker.h"

/* The AMQP frame size a worker asks for (chan_frame_max_set). */
#define WORKER_FRAME_MAX 16384

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
  json_t *rec = NULL;
  start_rc = model_worker_get(w->redis, w->db_id, w->wid, &rec);
  if (start_rc != 0) {
    LOG_ERROR("worker", "worker %s of actor %s: no record: %s", w->wid, w->db_id,
              actor_strerror(start_rc));
    json_decref(actor);
    return;
  }
  snprintf(w->tenant, sizeof(w->tenant), "%s", actor_json_str(actor, "tenant", ""));
  w->stateful = !actor_json_bool(actor, "stateless", true);
  /* Checked by the spawner at its start, for every tenant: cannot fail here. */
  start_rc = actor_execconf_read(w->svc->cfg, w->tenant, &w->exec);
  if (start_rc != 0) {
    json_decref(rec);
    json_decref(actor);
    return;
  }
  /* A record without a revision belongs to the actor as it is now. */
  long long current = actor_json_int(actor, "revision", 1);
  w->revision = actor_json_int(rec, "revision", current);
  json_decref(rec);
  if (w->revision < current) {
    /* Requested before an update and started after it: not needed. */
    LOG_INFO("worker",
             "worker %s (revision %lld) of actor %s: the actor is at revision %lld: "
             "not starting",
             w->wid, w->revision, w->db_id, current);
    w->stopping = true;
    json_decref(actor);
    return;
  }
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
    json_decref(actor);
    return;
  }
  static const char *const NEW_ACTOR[] = {ACTOR_SUBMITTED, NULL};
  int rc = model_actor_transition(w->redis, w->db_id, NEW_ACTOR, ACTOR_READY, NULL);
  if (rc == 0) {
    /* Only the worker that made the transition announces it. */
    chan_event_t ev = {.type = CHAN_EVENT_ACTOR_READY, .actor = actor, .status = ACTOR_READY};
    worker_event(w, &ev);
  } else if (rc != ACTOR_ESTATE) {
    LOG_WARN("worker", "actor %s: could not mark READY: %s", w->db_id, actor_strerror(rc));
  }
  json_decref(actor);
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
  /* Declared as the api declares it: of a stateful actor's workers one at
   * a time consumes. */
  chan_queue_opts_t mailbox_opts;
  chan_mailbox_opts(w->stateful, &mailbox_opts);
  int rc = chan_declare_opts(w->conn, w->mailbox, &mailbox_opts);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: declaring mailbox %s: %s (consuming declares it again)", w->wid,
             w->mailbox, actor_strerror(rc));
  rc = chan_consume(w->conn, w->control, 10, on_control, w);
  if (rc == 0)
    rc = chan_consume(w->conn, w->mailbox, 1, worker_on_message, w);
  if (rc != 0) { /* a worker that takes no messages: gone, health replaces it */
    LOG_ERROR("worker", "worker %s: cannot consume its queues: %s: stopping", w->wid,
              actor_strerror(rc));
    w->stopping = true;
    worker_shutdown(w);
    return;
  }
  LOG_INFO("worker", "worker %s of actor %s ready", w->wid, w->db_id);
  /* Idle from here on, maybe for long: give back what start-up freed. */
  malloc_trim(0);
}

/* ---- control ---- */

/* `status` with a reply_to (the health agent asks so) is answered there,
 * with its correlation id: {worker_id, status: READY|BUSY, execution_id
 * (when busy), time}. That this loop turns around at all is the answer
 * that matters: a worker that is alive but stuck never replies. The reply
 * is not confirmed (a caller that gave up is gone: the broker drops it). */
static void status_reply(worker_t *w, chan_conn_t *c, const chan_msg_t *msg) {
  const char *state = w->busy ? WORKER_BUSY : WORKER_READY;
  LOG_DEBUG("worker", "worker %s: status: %s", w->wid, state);
  if (msg->reply_to == NULL || msg->reply_to[0] == '\0')
    return;
  char now[ACTOR_TIME_MAX], eid[sizeof(w->eid)];
  actor_time_format(actor_time_now_ms(), now);
  uv_mutex_lock(&w->lock);
  snprintf(eid, sizeof(eid), "%s", w->eid);
  uv_mutex_unlock(&w->lock);
  json_t *answer = json_pack("{s:s, s:s, s:s}", "worker_id", w->wid, "status", state, "time", now);
  if (answer && w->busy && eid[0])
    json_object_set_new(answer, "execution_id", json_string(eid));
  char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
  json_decref(answer);
  chan_props_t props = {.correlation_id = msg->correlation_id};
  int rc =
      text ? chan_publish(c, msg->reply_to, text, strlen(text), &props, NULL, NULL) : ACTOR_ENOMEM;
  free(text);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: cannot answer status: %s", w->wid, actor_strerror(rc));
}

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
    if (strcmp(what, "stop-no-delete") == 0)
      w->keep_record = true;
    worker_retry_now(w);
  } else if (strcmp(what, "force_quit") == 0) {
    /* {"command": "force_quit", "execution_id": ...} names the execution. */
    worker_force_quit(w, actor_json_str(cmd, "execution_id", NULL));
  } else if (strcmp(what, "status") == 0) {
    status_reply(w, c, msg);
  } else {
    LOG_WARN("worker", "worker %s: unknown control message '%s'", w->wid, what);
  }
  json_decref(cmd);
  /* A failed ack: a delivery of an earlier connection, requeued already. */
  ACTOR_IGNORE(chan_ack(c, msg->tag));
  if (w->stopping && !w->busy)
    worker_shutdown(w);
}

/* ---- stop ---- */

static void remove_work(uv_work_t *req) {
  worker_t *w = req->data;
  int rc;
  if (w->keep_record) {
    rc = model_worker_transition(w->redis, w->db_id, w->wid, NULL, WORKER_SHUTTING_DOWN, NULL);
  } else {
    rc = model_worker_delete(w->redis, w->db_id, w->wid);
  }
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN("worker", "worker %s: could not %s its record: %s", w->wid,
             w->keep_record ? "update" : "remove", actor_strerror(rc));
  worker_token_revoke(w);
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
    /* Fails only without a consumer (or after close): nothing to stop. */
    ACTOR_IGNORE(chan_cancel(w->conn, w->mailbox));
    ACTOR_IGNORE(chan_cancel(w->conn, w->control));
  }
  lifecycle.data = w;
  if (uv_queue_work(&w->svc->loop, &lifecycle, remove_work, after_remove) != 0)
    chan_conn_close(w->conn, on_conn_closed, w);
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  wk.stopping = true;
  worker_retry_now(&wk);
  if (!wk.busy)
    worker_shutdown(&wk);
}

/* ---- wiring ---- */

/* A [workers] directory made absolute against the working directory (the
 * engine needs absolute bind-mount sources); malloc'd. */
static char *abs_dir(const actor_config_t *cfg, const char *key, const char *def) {
  const char *dir = actor_config_get(cfg, "workers", key, def);
  char cwd[PATH_MAX];
  char *out = NULL;
  if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
    return strdup(dir);
  if (asprintf(&out, "%s/%s", cwd, dir) < 0)
    return NULL;
  return out;
}

static int read_config(const actor_config_t *cfg, worker_t *w) {
  /* The global values now (the tenant's once the actor is read). */
  if (actor_execconf_read(cfg, NULL, &w->exec) ||
      actor_config_get_int(cfg, "web", "max_log_length", 1000000, &w->max_log_length) ||
      actor_config_get_bool(cfg, "workers", "leave_containers", false, &w->leave_containers))
    return ACTOR_ECONFIG;
  w->clientg_queue = actor_config_get(cfg, "clientg", "queue", CHAN_CLIENTS);
  w->clientg_secret = actor_config_get(cfg, "clientg", "secret", "");
  /* Without a key, secret configs are left out of _actor_configs (logged).
   * The key is derived at the first execution (exec_prepare.c): the cipher
   * is in worker-ext.so, which an idle worker does not load. */
  w->config_key_text = actor_config_get(cfg, "web", "encryption_key", "");
  w->host_id = actor_config_get(cfg, "spawner", "host_id", "0");
  w->network = actor_config_get(cfg, "spawner", "docker_network", "");
  const char *runtime = actor_config_get(cfg, "workers", "runtime", "docker");
  if (strcmp(runtime, "oci") == 0) {
    w->runtime = WORKER_RUNTIME_OCI;
    int rc = worker_oci_config(cfg, &w->oci);
    if (rc != 0)
      return rc;
  } else if (strcmp(runtime, "docker") != 0) {
    LOG_ERROR("config", "[workers] runtime: bad value '%s': expected docker or oci", runtime);
    return ACTOR_ECONFIG;
  }
  w->socket_dir = abs_dir(cfg, "socket_host_path_dir", "var/run/sockets");
  w->fifo_dir = abs_dir(cfg, "fifo_host_path_dir", "var/run/fifos");
  if (w->socket_dir == NULL || w->fifo_dir == NULL)
    return ACTOR_ENOMEM;
  return 0;
}

int main(int argc, char **argv) {
  actor_service_t svc;
  /* Many workers idle on a host: one malloc arena instead of one per
   * thread that ever allocated keeps each one's memory small. */
  mallopt(M_ARENA_MAX, 1);
  /* Its messages are small and hundreds of siblings idle beside it: 16 KiB
   * frames instead of 128 KiB (rabbitmq-c's per-connection buffers). */
  if (chan_frame_max_set(WORKER_FRAME_MAX) != 0)
    return 1;
  /* At most an execution and a force_quit's kill run at once on libuv's
   * pool: two threads, not the default four (unless set in the
   * environment). */
  if (setenv("UV_THREADPOOL_SIZE", "2", 0) != 0)
    return 1;
  if (actor_service_init(&svc, "worker", argc, argv) != 0)
    return 1;
  int status = 1;
  wk.svc = &svc;
  wk.load_exec = worker_ext_load;
  wk.thread_done = worker_ext_thread_done;
  uv_mutex_init(&wk.lock);
  if (svc.argc != 2) {
    LOG_ERROR("worker", "usage: worker -c abaco.conf -- <actor db_id> <worker id>");
    goto cleanup;
  }
  snprintf(wk.db_id, sizeof(wk.db_id), "%s", svc.argv[0]);
  snprintf(wk.wid, sizeof(wk.wid), "%s", svc.argv[1]);
  chan_name_mailbox(wk.db_id, wk.mailbox);
  chan_name_worker(wk.wid, wk.control);
  worker_token_adopt(&wk);
  if (read_config(svc.cfg, &wk) != 0)
    goto cleanup;
  const char *uri =
      actor_config_get(svc.cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  /* Neither connects nor loads the engine client or the store driver: both
   * are made at their first use (services/worker/ext/ext_stubs.c). */
  if (dkr_new_from_config(svc.cfg, &wk.docker) != 0)
    goto cleanup;
  if (store_redis_new(svc.cfg, 2, &wk.redis) != 0 || store_mongo_new(svc.cfg, &wk.mongo) != 0 ||
      chan_client_new(uri, 1, &wk.results) != 0 ||
      chan_conn_new(&svc.loop, uri, "worker", &wk.conn) != 0) {
    LOG_ERROR("worker", "worker %s: cannot set up stores or channel", wk.wid);
    goto cleanup;
  }
  lifecycle.data = &wk;
  if (uv_queue_work(&svc.loop, &lifecycle, start_work, after_start) != 0)
    goto cleanup;
  actor_service_run(&svc, on_stop);
  status = start_rc == 0 ? 0 : 1;

cleanup:
  chan_clients_token_free(wk.token); /* not revoked: a start-up failure */
  actor_secret_key_wipe(&wk.config_key);
  chan_client_free(wk.results);
  free(wk.socket_dir);
  free(wk.fifo_dir);
  worker_oci_free(&wk.oci);
  dkr_free(wk.docker);
  store_mongo_free(wk.mongo);
  store_redis_free(wk.redis);
  uv_mutex_destroy(&wk.lock);
  actor_service_done(&svc);
  return status;
}
