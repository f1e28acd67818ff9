/* Handling one command: {actor_id (db_id), worker_id, image, revision,
 * tenant, stop_existing}.
 *
 *   loop:  copy the message, queue `prepare` on the thread pool
 *   pool:  check actor and worker still exist; REQUESTED -> SPAWNER SETUP;
 *          make sure the image exists (else actor and worker ERROR)
 *   loop:  start the worker process (process backend)
 *   pool:  (docker backend: create and start its container,) record its
 *          pid, cid and location on the worker
 *   loop:  ack the command
 * The command is acked only once its effect is stored. An actor put in
 * ERROR (missing image) is announced with an ACTOR_ERROR event
 * (channels/proto/event.h), built on the pool and published from the loop
 * without waiting: the ack never waits for it. A platform fault
 * (store or engine unreachable) requeues it after a pause instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "channels/proto/clients.h"
#include "channels/proto/command.h"
#include "channels/proto/event.h"
#include "spawner.h"

#define RETRY_DELAY_MS 1000

enum { CMD_SPAWN, CMD_DROP, CMD_RETRY };

typedef struct {
  spawner_t *sp;
  uv_work_t work;
  uv_timer_t retry;
  chan_tag_t tag;
  char db_id[256];
  char wid[64];
  int pid;
  char cid[192];      /* the worker record's cid */
  char location[160]; /* and location */
  int outcome;
  int redelivered;
  char *event; /* an event to publish when the command ends (JSON text), or NULL */
  char *token; /* the worker's access token (clients.c), or NULL */
  int64_t token_exp;
} command_t;

static void command_free(command_t *c) {
  spawner_t *sp = c->sp;
  free(c->event);
  chan_clients_token_free(c->token);
  free(c);
  if (--sp->inflight == 0 && sp->stopping && sp->on_idle)
    sp->on_idle(sp);
}

static void on_retry_closed(uv_handle_t *h) {
  command_free(h->data);
}

/* ack, nack and cancel results are dropped (ACTOR_IGNORE) throughout: they fail
 * only for a delivery of an earlier connection or after close, and the broker
 * has requeued such a delivery already (chan.h). */
static void on_retry(uv_timer_t *t) {
  command_t *c = t->data;
  ACTOR_IGNORE(chan_nack(c->sp->conn, c->tag, 1));
  uv_close((uv_handle_t *)&c->retry, on_retry_closed);
}

static void on_event_published(chan_conn_t *conn, int status, void *ud) {
  (void)conn;
  char *db_id = ud;
  if (status != 0)
    LOG_WARN("spawner", "actor %s: could not publish its ACTOR_ERROR event: %s", db_id,
             actor_strerror(status));
  free(db_id);
}

static void publish_event(command_t *c) {
  char *db_id = strdup(c->db_id);
  int rc = db_id ? chan_publish(c->sp->conn, CHAN_EVENTS, c->event, strlen(c->event), NULL,
                                on_event_published, db_id)
                 : ACTOR_ENOMEM;
  if (rc != 0) {
    LOG_WARN("spawner", "actor %s: could not publish its ACTOR_ERROR event: %s", c->db_id,
             actor_strerror(rc));
    free(db_id);
  }
}

/* Ends a command: ack, or requeue after a pause (platform fault). */
static void finish(command_t *c) {
  if (c->event)
    publish_event(c);
  if (c->outcome == CMD_RETRY) {
    uv_timer_init(&c->sp->svc->loop, &c->retry);
    c->retry.data = c;
    uv_timer_start(&c->retry, on_retry, RETRY_DELAY_MS, 0);
    return;
  }
  ACTOR_IGNORE(chan_ack(c->sp->conn, c->tag));
  command_free(c);
}

static bool is_platform_fault(int rc) {
  return rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT;
}

static void fail_worker(spawner_t *sp, command_t *c, const char *why) {
  json_t *f = json_pack("{s:s}", "status_message", why);
  /* Best effort: a record left as it was is judged by health (spawn_timeout). */
  ACTOR_IGNORE(model_worker_transition(sp->redis, c->db_id, c->wid, NULL, WORKER_ERROR, f));
  json_decref(f);
}

static void record_pid(uv_work_t *w);

/* Whether a live worker process for this command exists on this host. */
static bool worker_process_lives(spawner_t *sp, command_t *c) {
  json_t *w = NULL;
  if (model_worker_get(sp->redis, c->db_id, c->wid, &w) != 0)
    return false;
  bool running = false;
  json_t *pid = json_object_get(w, "pid");
  const char *host = actor_json_str(w, "host_id", "");
  if (json_is_integer(pid) && strcmp(host, sp->host_id) == 0) {
    char path[64], cmdline[4096];
    snprintf(path, sizeof(path), "/proc/%lld/cmdline", (long long)json_integer_value(pid));
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
      fclose(f);
      /* cmdline is NUL-separated: look for the worker id as one argument */
      for (size_t i = 0; i < n && !running; i += strlen(cmdline + i) + 1) {
        cmdline[n] = '\0';
        running = strcmp(cmdline + i, c->wid) == 0;
      }
    }
  }
  json_decref(w);
  return running;
}

/* On redelivery: 1 when the worker runs already on this host (a process
 * recorded in its record; with the docker backend also a container the
 * dead spawner did not get to record: recorded now), 0 when not (the
 * docker backend's ended containers of it removed), <0 when unknown. */
static int worker_is_running(spawner_t *sp, command_t *c) {
  if (worker_process_lives(sp, c))
    return 1;
  if (!sp->docker_backend)
    return 0;
  int rc = spawner_container_find(sp, c->wid, c->cid, sizeof(c->cid), &c->pid);
  if (rc == 1) {
    snprintf(c->location, sizeof(c->location), "%s", sp->docker_dd);
    LOG_WARN("spawner", "worker %s of actor %s: found its running container %.12s (pid %d), "
                        "not recorded: recording it", c->wid, c->db_id, c->cid, c->pid);
    record_pid(&c->work);
  }
  return rc;
}

static void prepare(uv_work_t *w) {
  command_t *c = w->data;
  spawner_t *sp = c->sp;
  json_t *actor = NULL;
  int rc = model_actor_get(sp->redis, c->db_id, &actor);
  if (rc != 0) {
    c->outcome = is_platform_fault(rc) ? CMD_RETRY : CMD_DROP;
    if (rc == ACTOR_ENOTFOUND)
      LOG_INFO("spawner", "actor %s is gone: dropping the command for worker %s", c->db_id, c->wid);
    return;
  }
  /* A redelivered command means a spawner died while handling it: the
   * worker may be half set up, or already running. */
  static const char *const FROM[] = {WORKER_REQUESTED, NULL};
  static const char *const FROM_REDELIVERED[] = {WORKER_REQUESTED, WORKER_SPAWNER_SETUP, NULL};
  rc = c->redelivered ? worker_is_running(sp, c) : 0;
  if (rc != 0) {
    if (rc == 1)
      LOG_INFO("spawner", "worker %s of actor %s is already running: command done", c->wid,
               c->db_id);
    else
      LOG_WARN("spawner", "worker %s of actor %s: cannot tell whether it runs already (%s); "
                          "will retry", c->wid, c->db_id, actor_strerror(rc));
    c->outcome = rc == 1 ? CMD_DROP : CMD_RETRY;
    json_decref(actor);
    return;
  }
  json_t *f = json_pack("{s:s, s:s}", "host_id", sp->host_id, "host_ip", sp->host_ip);
  rc = model_worker_transition(sp->redis, c->db_id, c->wid,
                               c->redelivered ? FROM_REDELIVERED : FROM, WORKER_SPAWNER_SETUP, f);
  json_decref(f);
  if (rc != 0) {
    c->outcome = is_platform_fault(rc) ? CMD_RETRY : CMD_DROP;
    if (!is_platform_fault(rc))
      LOG_INFO("spawner", "worker %s of actor %s is no longer requested (%s): dropping", c->wid,
               c->db_id, actor_strerror(rc));
    json_decref(actor);
    return;
  }

  const char *image = actor_json_str(actor, "image", "");
  char *err = NULL;
  json_t *info = NULL;
  rc = dkr_image_inspect(sp->docker, image, &info, &err);
  json_decref(info);
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_EDOCKER) {
    char why[1024];
    snprintf(why, sizeof(why), "Error on host %s: could not find image %s: %s", sp->host_id, image,
             err ? err : actor_strerror(rc));
    LOG_ERROR("spawner", "actor %s: %s", c->db_id, why);
    if (model_actor_set_status(sp->redis, c->db_id, ACTOR_ERROR, why) == 0) {
      chan_event_t ev = {.type = CHAN_EVENT_ACTOR_ERROR,
                         .actor = actor,
                         .status = ACTOR_ERROR,
                         .status_message = why};
      json_t *body = chan_event_body(&ev);
      c->event = body ? json_dumps(body, JSON_COMPACT) : NULL;
      json_decref(body);
    }
    fail_worker(sp, c, why);
    c->outcome = CMD_DROP;
  } else if (rc != 0) {
    LOG_WARN("spawner", "actor %s: engine unavailable (%s); will retry", c->db_id,
             actor_strerror(rc));
    c->outcome = CMD_RETRY;
  } else if (spawner_token_new(sp, actor, c->db_id, c->wid, &c->token, &c->token_exp) != 0) {
    /* clientg did not answer, or refused (the platform's configuration,
     * not the actor's fault; logged): the command waits. */
    c->outcome = CMD_RETRY;
  } else {
    c->outcome = CMD_SPAWN;
  }
  if (c->outcome == CMD_RETRY) {
    static const char *const BACK_FROM[] = {WORKER_SPAWNER_SETUP, NULL};
    /* The command is retried either way; the record only shows it. */
    ACTOR_IGNORE(
        model_worker_transition(sp->redis, c->db_id, c->wid, BACK_FROM, WORKER_REQUESTED, NULL));
  }
  free(err);
  json_decref(actor);
}

/* The worker's cid is what Abaco's clients read as the worker's container
 * id; a worker of the process backend has no container, so its cid names
 * its process: "process:<pid>@<host_id>", fixed for the worker's life, and
 * its location is "process:<pid>". A worker of the docker backend has its
 * container's id and, as in Abaco, the engine's address ([docker] dd). */
static void record_pid(uv_work_t *w) {
  command_t *c = w->data;
  json_t *f = json_pack("{s:i, s:s, s:s}", "pid", c->pid, "location", c->location, "cid", c->cid);
  int rc = model_worker_update(c->sp->redis, c->db_id, c->wid, f);
  json_decref(f);
  /* The worker may already have finished and removed itself: fine. */
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN("spawner", "worker %s: could not record pid %d: %s", c->wid, c->pid,
             actor_strerror(rc));
}

static void after_record(uv_work_t *w, int status) {
  (void)status;
  finish(w->data);
}

/* docker backend: the container, then the record. */
static void start_container(uv_work_t *w) {
  command_t *c = w->data;
  spawner_t *sp = c->sp;
  int rc = spawner_container_start(sp, c->db_id, c->wid, c->token, c->token_exp, c->cid,
                                   sizeof(c->cid), &c->pid);
  chan_clients_token_free(c->token); /* the container has its copy */
  c->token = NULL;
  if (rc != 0) {
    c->outcome = CMD_RETRY; /* logged; the record stays SPAWNER SETUP for the redelivery */
    return;
  }
  snprintf(c->location, sizeof(c->location), "%s", sp->docker_dd);
  LOG_INFO("spawner", "started worker %s of actor %s (container %.12s, pid %d)", c->wid, c->db_id,
           c->cid, c->pid);
  record_pid(w);
}

static void after_prepare(uv_work_t *w, int status) {
  command_t *c = w->data;
  spawner_t *sp = c->sp;
  if (status != 0 || c->outcome != CMD_SPAWN) {
    finish(c);
    return;
  }
  if (sp->docker_backend) {
    if (uv_queue_work(&sp->svc->loop, &c->work, start_container, after_record) != 0) {
      c->outcome = CMD_RETRY;
      finish(c);
    }
    return;
  }
  int rc = spawner_start_worker(sp, c->db_id, c->wid, c->token, c->token_exp, &c->pid);
  chan_clients_token_free(c->token); /* the worker has its copy */
  c->token = NULL;
  if (rc != 0) {
    c->outcome = CMD_RETRY;
    finish(c);
    return;
  }
  LOG_INFO("spawner", "started worker %s of actor %s (pid %d)", c->wid, c->db_id, c->pid);
  snprintf(c->location, sizeof(c->location), "process:%d", c->pid);
  snprintf(c->cid, sizeof(c->cid), "process:%d@%s", c->pid, sp->host_id);
  if (uv_queue_work(&sp->svc->loop, &c->work, record_pid, after_record) != 0)
    finish(c);
}

void spawner_on_command(chan_conn_t *conn, const chan_msg_t *msg, void *ud) {
  spawner_t *sp = ud;
  chan_command_req_t req;
  int rc = chan_command_parse(msg->body, msg->len, &req);
  if (rc != 0) {
    if (rc == ACTOR_EINVAL)
      LOG_ERROR("spawner", "dropping a command without actor_id or worker_id on %s", msg->queue);
    else
      LOG_ERROR("spawner", "dropping an unreadable command on %s (%zu bytes)", msg->queue,
                msg->len);
    ACTOR_IGNORE(chan_ack(conn, msg->tag));
    return;
  }
  command_t *c = sp->stopping ? NULL : calloc(1, sizeof(*c));
  if (c == NULL) {
    ACTOR_IGNORE(chan_nack(conn, msg->tag, 1));
    return;
  }
  c->sp = sp;
  sp->inflight++;
  c->tag = msg->tag;
  c->redelivered = msg->redelivered;
  c->work.data = c;
  snprintf(c->db_id, sizeof(c->db_id), "%s", req.db_id);
  snprintf(c->wid, sizeof(c->wid), "%s", req.worker_id);
  if (uv_queue_work(&sp->svc->loop, &c->work, prepare, after_prepare) != 0) {
    ACTOR_IGNORE(chan_nack(conn, msg->tag, 1));
    command_free(c);
  }
}
