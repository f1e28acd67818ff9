/* Running one execution.
 *
 *   loop: copy the delivery, queue `execute` on the thread pool
 *   pool: SUBMITTED -> RUNNING, worker READY -> BUSY, create and start the
 *         container, wait for it (killing it after max_run_time), store its
 *         logs, final state and accounting, COMPLETE, remove the container,
 *         worker -> READY
 *   loop: ack -- or, on a platform fault (store or engine unreachable),
 *         requeue the message after a pause so it runs later, never lost.
 * A message for an execution that already finished (a redelivery after a
 * crash between store and ack) is acked without running it again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actor/errors.h"
#include "actor/execenv.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "worker.h"

#define RETRY_DELAY_MS 2000

enum { OUT_ACK, OUT_RETRY };

typedef struct {
  worker_t *w;
  uv_work_t work;
  uv_timer_t retry;
  chan_tag_t tag;
  char *body;
  size_t len;
  bool binary;
  char *meta_text; /* binary messages: metadata from the header */
  int outcome;
} job_t;

static void job_free(job_t *j) {
  free(j->body);
  free(j->meta_text);
  free(j);
}

static bool platform_fault(int rc) {
  return rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT;
}

long long worker_parse_bytes(const char *s) {
  if (s == NULL || *s == '\0')
    return -1;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || v < 0)
    return -1;
  long long mult = 1;
  switch (*end) {
  case '\0':
    break;
  case 'k': case 'K': mult = 1024LL; break;
  case 'm': case 'M': mult = 1024LL * 1024; break;
  case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
  default: return -1;
  }
  if (*end && end[1] != '\0' && strcasecmp(end + 1, "b") != 0)
    return -1;
  return (long long)(v * (double)mult);
}

static json_t *container_spec(worker_t *w, const json_t *actor, json_t *env, const char *eid) {
  json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "abaco.platform", "1", "abaco.actor",
                             w->db_id, "abaco.worker", w->wid, "abaco.execution", eid,
                             "abaco.host", w->host_id);
  json_t *host = json_pack("{s:b}", "Privileged", 0);
  const char *mem = actor_json_str(actor, "mem_limit", NULL);
  long long bytes = worker_parse_bytes(mem ? mem : w->mem_limit);
  if (bytes > 0)
    json_object_set_new(host, "Memory", json_integer(bytes));
  long long cpus = actor_json_int(actor, "max_cpus", w->max_cpus);
  if (cpus > 0)
    json_object_set_new(host, "NanoCpus", json_integer(cpus));
  json_t *spec = json_pack("{s:s, s:o, s:o, s:o}", "Image", actor_json_str(actor, "image", ""),
                           "Env", env, "Labels", labels, "HostConfig", host);
  if (spec && !actor_json_bool(actor, "use_container_uid", false) && w->actor_uid &&
      *w->actor_uid) {
    char user[128];
    snprintf(user, sizeof(user), "%s%s%s", w->actor_uid, w->actor_gid && *w->actor_gid ? ":" : "",
             w->actor_gid ? w->actor_gid : "");
    json_object_set_new(spec, "User", json_string(user));
  }
  return spec;
}

static void set_cid(worker_t *w, const char *cid) {
  uv_mutex_lock(&w->lock);
  snprintf(w->cid, sizeof(w->cid), "%s", cid ? cid : "");
  uv_mutex_unlock(&w->lock);
}

/* Marks the execution ERROR with a reason (a fault of the actor's, not of
 * the platform). */
static void exec_error(worker_t *w, const char *eid, const char *why) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f = json_pack("{s:s, s:s, s:s}", "status", EXEC_ERROR, "status_message", why,
                        "finish_time", now);
  model_exec_update(w->mongo, eid, f);
  json_decref(f);
  LOG_ERROR("worker", "actor %s execution %s: %s", w->db_id, eid, why);
}

static int64_t state_ms(const json_t *state, const char *field) {
  int64_t ms = -1;
  const char *s = actor_json_str(state, field, NULL);
  if (s == NULL || actor_time_parse(s, &ms) != 0)
    return -1;
  return ms;
}

/* Runs the container; returns 0 or a platform-fault code. */
static int run_container(worker_t *w, const json_t *actor, const json_t *meta,
                         const json_t *message, const char *eid) {
  int rc;
  char *err = NULL, *cid = NULL, *logs = NULL;
  json_t *env = NULL, *spec = NULL, *inspect = NULL;
  actor_execenv_in_t in = {.actor = actor, .meta = meta, .message = message,
                           .worker_id = w->wid};
  rc = actor_execenv_build(&in, &env);
  if (rc != 0)
    goto cleanup;
  spec = container_spec(w, actor, env, eid);
  if (spec == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  int64_t t0 = actor_time_mono_ms();
  rc = dkr_container_create(w->docker, NULL, spec, &cid, &err);
  int64_t t1 = actor_time_mono_ms();
  if (rc != 0) {
    if (platform_fault(rc))
      goto cleanup;
    char why[1024];
    snprintf(why, sizeof(why), "Error on host %s: could not create the container: %s",
             w->host_id, err ? err : actor_strerror(rc));
    exec_error(w, eid, why);
    rc = 0;
    goto cleanup;
  }
  set_cid(w, cid);
  json_t *wf = json_pack("{s:s}", "cid", cid);
  model_worker_update(w->redis, w->db_id, w->wid, wf);
  json_decref(wf);

  rc = dkr_container_start(w->docker, cid, &err);
  if (rc != 0) {
    if (platform_fault(rc))
      goto cleanup;
    char why[1024];
    snprintf(why, sizeof(why), "Error on host %s: could not start the container: %s",
             w->host_id, err ? err : actor_strerror(rc));
    exec_error(w, eid, why);
    rc = 0;
    goto cleanup;
  }

  int64_t t2 = actor_time_mono_ms();
  int64_t exit_code = -1;
  rc = dkr_container_wait(w->docker, cid, w->max_run_time * 1000, &exit_code, &err);
  if (rc == ACTOR_ETIMEDOUT) {
    LOG_INFO("worker", "execution %s ran past max_run_time (%lds): killing it", eid,
             w->max_run_time);
    free(err);
    err = NULL;
    dkr_container_kill(w->docker, cid, "SIGKILL", NULL);
    rc = dkr_container_wait(w->docker, cid, 30000, &exit_code, &err);
  }
  if (rc != 0)
    goto cleanup;

  int64_t t3 = actor_time_mono_ms();
  size_t len = 0;
  int truncated = 0;
  rc = dkr_container_logs(w->docker, cid, (size_t)w->max_log_length, &logs, &len, &truncated,
                          &err);
  if (rc != 0)
    goto cleanup;
  if (truncated) {
    static const char MARK[] = "\nLOG LIMIT EXCEEDED\n";
    char *grown = realloc(logs, len + sizeof(MARK));
    if (grown) {
      memcpy(grown + len, MARK, sizeof(MARK));
      logs = grown;
      len += sizeof(MARK) - 1;
    }
  }
  rc = dkr_container_inspect(w->docker, cid, &inspect, &err);
  if (rc != 0)
    goto cleanup;
  const json_t *state = json_object_get(inspect, "State");
  int64_t started = state_ms(state, "StartedAt"), finished = state_ms(state, "FinishedAt");
  json_int_t runtime = (started > 0 && finished >= started) ? (finished - started) / 1000 : 0;

  const char *tenant = actor_json_str(actor, "tenant", "");
  long long log_ex = actor_json_int(actor, "log_ex", w->log_ex);
  rc = model_logs_set(w->mongo, w->db_id, tenant, eid, logs, len,
                      actor_time_now_ms() + log_ex * 1000);
  if (rc != 0)
    goto cleanup;
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:O, s:I, s:I}", "status", EXEC_COMPLETE,
                        "finish_time", now, "exit_code", (json_int_t)exit_code, "runtime",
                        runtime, "final_state", state ? state : json_null(), "cpu",
                        (json_int_t)0, "io", (json_int_t)0);
  rc = f ? model_exec_update(w->mongo, eid, f) : ACTOR_ENOMEM;
  json_decref(f);
  int64_t t4 = actor_time_mono_ms();
  LOG_DEBUG("worker", "execution %s: create %lldms start %lldms wait %lldms finish %lldms", eid,
            (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2), (long long)(t4 - t3));
  if (rc == 0)
    LOG_INFO("worker", "actor %s execution %s complete: exit code %lld, %llds", w->db_id, eid,
             (long long)exit_code, (long long)runtime);

cleanup:
  if (cid) {
    set_cid(w, NULL);
    if (!w->leave_containers) {
      char *rerr = NULL;
      int rrc = dkr_container_remove(w->docker, cid, &rerr);
      if (rrc != 0)
        LOG_WARN("worker", "could not remove container %s: %s", cid,
                 rerr ? rerr : actor_strerror(rrc));
      free(rerr);
    }
  }
  if (rc != 0 && err)
    LOG_WARN("worker", "execution %s: %s", eid, err);
  free(err);
  free(cid);
  free(logs);
  json_decref(inspect);
  json_decref(spec);
  return rc;
}

static void execute(uv_work_t *wk) {
  job_t *j = wk->data;
  worker_t *w = j->w;
  json_t *meta = NULL, *actor = NULL;
  const json_t *message = NULL;
  j->outcome = OUT_ACK;

  const char *meta_src = j->binary ? j->meta_text : j->body;
  size_t meta_len = j->binary ? (j->meta_text ? strlen(j->meta_text) : 0) : j->len;
  if (meta_src == NULL || chan_json_decode(meta_src, meta_len, 64 << 20, &meta) != 0 ||
      !json_is_object(meta)) {
    LOG_ERROR("worker", "actor %s: dropping an unreadable mailbox message (%zu bytes)",
              w->db_id, j->len);
    goto cleanup;
  }
  if (!j->binary)
    message = json_object_get(meta, "message");
  const char *eid = actor_json_str(meta, "_abaco_execution_id", NULL);
  if (eid == NULL) {
    LOG_ERROR("worker", "actor %s: dropping a message without _abaco_execution_id", w->db_id);
    goto cleanup;
  }

  int rc = model_actor_get(w->redis, w->db_id, &actor);
  if (rc != 0) {
    if (platform_fault(rc))
      j->outcome = OUT_RETRY;
    else
      exec_error(w, eid, "the actor no longer exists");
    goto cleanup;
  }

  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  static const char *const RUNNABLE[] = {EXEC_SUBMITTED, EXEC_RUNNING, NULL};
  json_t *f = json_pack("{s:s, s:s, s:s}", "status", EXEC_RUNNING, "start_time", now,
                        "worker_id", w->wid);
  rc = model_exec_transition(w->mongo, eid, RUNNABLE, f);
  json_decref(f);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    LOG_INFO("worker", "execution %s already finished or unknown: not running it again", eid);
    goto cleanup;
  }
  if (rc != 0) {
    j->outcome = OUT_RETRY;
    goto cleanup;
  }
  static const char *const IDLE[] = {WORKER_READY, NULL};
  model_worker_transition(w->redis, w->db_id, w->wid, IDLE, WORKER_BUSY, NULL);

  rc = run_container(w, actor, meta, message, eid);
  if (rc != 0) {
    LOG_WARN("worker", "execution %s: platform fault (%s): requeueing the message", eid,
             actor_strerror(rc));
    static const char *const RUNNING[] = {EXEC_RUNNING, NULL};
    json_t *back = json_pack("{s:s}", "status", EXEC_SUBMITTED);
    model_exec_transition(w->mongo, eid, RUNNING, back);
    json_decref(back);
    j->outcome = OUT_RETRY;
  }
  actor_time_format(actor_time_now_ms(), now);
  static const char *const BUSY[] = {WORKER_BUSY, NULL};
  json_t *wf = json_pack("{s:s, s:n}", "last_execution_time", now, "cid");
  model_worker_transition(w->redis, w->db_id, w->wid, BUSY, WORKER_READY, wf);
  json_decref(wf);

cleanup:
  json_decref(actor);
  json_decref(meta);
}

static void on_retry_closed(uv_handle_t *h) {
  job_t *j = h->data;
  worker_t *w = j->w;
  job_free(j);
  w->busy = false;
  if (w->stopping)
    worker_shutdown(w);
}

static void on_retry(uv_timer_t *t) {
  job_t *j = t->data;
  chan_nack(j->w->conn, j->tag, 1);
  uv_close((uv_handle_t *)&j->retry, on_retry_closed);
}

static void after_execute(uv_work_t *wk, int status) {
  job_t *j = wk->data;
  worker_t *w = j->w;
  if (status == 0 && j->outcome == OUT_RETRY && !w->stopping) {
    uv_timer_init(&w->svc->loop, &j->retry);
    j->retry.data = j;
    uv_timer_start(&j->retry, on_retry, RETRY_DELAY_MS, 0);
    return;
  }
  if (status != 0 || j->outcome == OUT_RETRY)
    chan_nack(w->conn, j->tag, 1);
  else
    chan_ack(w->conn, j->tag);
  job_free(j);
  w->busy = false;
  if (w->stopping)
    worker_shutdown(w);
}

void worker_on_message(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  worker_t *w = ud;
  if (w->stopping || w->busy) {
    /* busy cannot happen with prefetch 1; stopping: leave it to another worker */
    chan_nack(c, msg->tag, 1);
    return;
  }
  job_t *j = calloc(1, sizeof(*j));
  if (j == NULL) {
    chan_nack(c, msg->tag, 1);
    return;
  }
  j->w = w;
  j->tag = msg->tag;
  j->work.data = j;
  j->len = msg->len;
  j->body = malloc(msg->len + 1);
  j->binary = msg->content_type && strcmp(msg->content_type, "application/octet-stream") == 0;
  if (j->binary) {
    const char *meta = chan_msg_header(msg, "abaco_meta");
    j->meta_text = meta ? strdup(meta) : NULL;
  }
  if (j->body == NULL) {
    job_free(j);
    chan_nack(c, msg->tag, 1);
    return;
  }
  memcpy(j->body, msg->body, msg->len);
  j->body[msg->len] = '\0';
  w->busy = true;
  if (uv_queue_work(&w->svc->loop, &j->work, execute, after_execute) != 0) {
    w->busy = false;
    chan_nack(c, msg->tag, 1);
    job_free(j);
  }
}

static void kill_work(uv_work_t *wk) {
  worker_t *w = wk->data;
  char cid[128];
  uv_mutex_lock(&w->lock);
  snprintf(cid, sizeof(cid), "%s", w->cid);
  uv_mutex_unlock(&w->lock);
  if (cid[0] == '\0')
    return;
  char *err = NULL;
  int rc = dkr_container_kill(w->docker, cid, "SIGKILL", &err);
  if (rc != 0)
    LOG_WARN("worker", "force quit of container %s failed: %s", cid, err ? err : actor_strerror(rc));
  else
    LOG_INFO("worker", "force quit container %s", cid);
  free(err);
}

static void after_kill(uv_work_t *wk, int status) {
  (void)status;
  free(wk);
}

void worker_force_quit(worker_t *w) {
  uv_work_t *wk = calloc(1, sizeof(*wk));
  if (wk == NULL)
    return;
  wk->data = w;
  if (uv_queue_work(&w->svc->loop, wk, kill_work, after_kill) != 0)
    free(wk);
}
