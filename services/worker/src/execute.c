/* One mailbox message, from delivery to ack.
 *
 *   loop: copy the delivery, queue `execute` on the thread pool
 *   pool: read the actor; refuse to run the message when the actor has a
 *         newer revision than this worker (requeue it, shut down) or is in
 *         ERROR (requeue it after a pause); SUBMITTED -> RUNNING, worker
 *         READY -> BUSY; run the container (run.c); worker -> READY
 *   loop: ack -- or requeue the message after a pause
 *
 * Failure rules. A platform fault (store, broker or engine unreachable)
 * never puts the actor in ERROR and never loses the message: the execution
 * goes back to SUBMITTED and the message is requeued after a back-off
 * pause (0.5 s doubling to 10 s, reset by a message that settles). A
 * container that cannot be created or started for a reason of the
 * actor's (the engine answered with an error) is retried the same way;
 * the WORKER_MAX_START_FAILURES-th consecutive such failure on this worker
 * puts the actor in ERROR ("Error on host <host>: <reason>"), marks the
 * execution ERROR with that reason and acks the message.
 * A message for an execution that already finished (a redelivery after a
 * crash between store and ack) is acked without running it again.
 *
 * A stateful actor runs one execution at a time. Its mailbox is single-
 * active-consumer, so this worker gets messages only while it is the one
 * consumer that does; but the worker that had them before may still be
 * running one: it died holding a message (which comes here redelivered)
 * and its container lives until the spawner or the health agent removes
 * it and its record, or the mailbox was just re-made (the api's
 * mailbox.c) under a worker busy with a message of the old one. So an
 * execution of a stateful actor first waits until no other worker of the
 * actor is BUSY (or asked to stop while busy, SHUTDOWN_REQUESTED) -- at
 * most [workers] max_run_time + 60 s, or 10 minutes without a
 * max_run_time: a record that stays BUSY longer belongs to a worker that
 * cannot be running any more (its host is gone). */
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
#include "worker.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define SIBLING_WAIT_DEFAULT_MS (600 * 1000)
#define SIBLING_POLL_MS 250

enum {
  OUT_ACK,     /* settled: ack */
  OUT_RETRY,   /* requeue after a back-off pause */
  OUT_OBSOLETE /* the actor has a newer revision: requeue now and shut down */
};

struct worker_job_s {
  worker_t *w;
  uv_work_t work;
  uv_timer_t retry;
  chan_tag_t tag;
  char *body;
  size_t len;
  bool binary;
  char *meta_text; /* binary messages: metadata from the header */
  int outcome;
};
typedef struct worker_job_s job_t;

static void job_free(job_t *j) {
  free(j->body);
  free(j->meta_text);
  free(j);
}

static bool platform_fault(int rc) {
  return rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT;
}

void worker_exec_error(worker_t *w, const char *eid, const char *why) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f =
      json_pack("{s:s, s:s, s:s}", "status", EXEC_ERROR, "status_message", why, "finish_time", now);
  int rc = f ? model_exec_update(w->mongo, eid, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == 0)
    worker_count_execution(w, EXEC_ERROR, -1);
  LOG_ERROR("worker", "actor %s execution %s: %s%s%s", w->db_id, eid, why,
            rc ? "; and it could not be recorded: " : "", rc ? actor_strerror(rc) : "");
}

/* Back to SUBMITTED so the execution shows it waits for another try. */
static void exec_resubmit(worker_t *w, const char *eid) {
  static const char *const RUNNING[] = {EXEC_RUNNING, NULL};
  json_t *back = json_pack("{s:s, s:n}", "status", EXEC_SUBMITTED, "start_time");
  if (back)
    model_exec_transition(w->mongo, eid, RUNNING, back);
  json_decref(back);
}

/* A container that would not start, for the actor's own reason. */
static int start_failed(worker_t *w, const json_t *actor, const char *eid, const char *reason) {
  w->start_failures++;
  if (w->start_failures < WORKER_MAX_START_FAILURES) {
    LOG_WARN("worker", "actor %s execution %s: %s (failure %u of %d): will retry", w->db_id, eid,
             reason, w->start_failures, WORKER_MAX_START_FAILURES);
    exec_resubmit(w, eid);
    return OUT_RETRY;
  }
  w->start_failures = 0;
  char why[1400];
  snprintf(why, sizeof(why), "Error on host %s: %s", w->host_id, reason);
  static const char *const LIVE[] = {ACTOR_SUBMITTED, ACTOR_READY, ACTOR_ERROR, NULL};
  int rc = model_actor_transition(w->redis, w->db_id, LIVE, ACTOR_ERROR, why);
  if (platform_fault(rc)) {
    exec_resubmit(w, eid);
    return OUT_RETRY; /* the rule applies on the next try */
  }
  LOG_ERROR("worker", "actor %s: %d consecutive failures to start a container: actor in ERROR",
            w->db_id, WORKER_MAX_START_FAILURES);
  worker_exec_error(w, eid, why);
  if (rc == 0) {
    chan_event_t ev = {.type = CHAN_EVENT_ACTOR_ERROR,
                       .actor = actor,
                       .execution_id = eid,
                       .status = ACTOR_ERROR,
                       .status_message = why};
    worker_event(w, &ev);
  }
  return OUT_ACK;
}

/* Another worker of the actor that may be running an execution (its id
 * into busy, "" for none); a platform fault counts as one. */
static int busy_sibling(worker_t *w, char busy[64]) {
  json_t *all = NULL;
  busy[0] = '\0';
  int rc = model_worker_list(w->redis, w->db_id, &all);
  size_t i;
  json_t *rec;
  json_array_foreach(all, i, rec) {
    const char *wid = actor_json_str(rec, "id", ""), *st = actor_json_str(rec, "status", "");
    if (strcmp(wid, w->wid) != 0 &&
        (strcmp(st, WORKER_BUSY) == 0 || strcmp(st, WORKER_SHUTDOWN_REQUESTED) == 0)) {
      snprintf(busy, 64, "%s", wid);
      break;
    }
  }
  json_decref(all);
  return rc;
}

/* See the file's note: one execution of a stateful actor at a time. */
static void wait_for_siblings(worker_t *w, const char *eid) {
  int64_t limit = w->exec.max_run_time > 0 ? (w->exec.max_run_time + 60) * 1000LL : SIBLING_WAIT_DEFAULT_MS;
  int64_t start = actor_time_mono_ms();
  char busy[64];
  for (;;) {
    int rc = busy_sibling(w, busy);
    if (rc == 0 && busy[0] == '\0')
      break;
    if (actor_time_mono_ms() - start >= limit) {
      LOG_WARN("worker", "actor %s execution %s: worker %s still looks busy after %lld s; "
               "running it anyway", w->db_id, eid, busy[0] ? busy : "?", (long long)limit / 1000);
      return;
    }
    usleep(SIBLING_POLL_MS * 1000);
  }
  int64_t waited = actor_time_mono_ms() - start;
  if (waited >= SIBLING_POLL_MS)
    LOG_INFO("worker", "actor %s execution %s: waited %lld ms for another worker's execution",
             w->db_id, eid, (long long)waited);
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
    LOG_ERROR("worker", "actor %s: dropping an unreadable mailbox message (%zu bytes)", w->db_id,
              j->len);
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
      worker_exec_error(w, eid, "the actor no longer exists");
    goto cleanup;
  }
  long long revision = actor_json_int(actor, "revision", w->revision);
  if (revision > w->revision) {
    LOG_INFO("worker",
             "worker %s (revision %lld) of actor %s: the actor is at revision %lld: "
             "leaving execution %s to the new workers and stopping",
             w->wid, w->revision, w->db_id, revision, eid);
    j->outcome = OUT_OBSOLETE;
    goto cleanup;
  }
  if (strcmp(actor_json_str(actor, "status", ""), ACTOR_ERROR) == 0) {
    LOG_INFO("worker", "actor %s is in ERROR: execution %s waits", w->db_id, eid);
    j->outcome = OUT_RETRY;
    goto cleanup;
  }

  if (!actor_json_bool(actor, "stateless", true)) /* as it is now: it may have become stateful */
    wait_for_siblings(w, eid);
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  static const char *const RUNNABLE[] = {EXEC_SUBMITTED, EXEC_RUNNING, NULL};
  json_t *f =
      json_pack("{s:s, s:s, s:s}", "status", EXEC_RUNNING, "start_time", now, "worker_id", w->wid);
  rc = f ? model_exec_transition(w->mongo, eid, RUNNABLE, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    LOG_INFO("worker", "execution %s already finished or unknown: not running it again", eid);
    goto cleanup;
  }
  if (rc != 0) {
    j->outcome = OUT_RETRY;
    goto cleanup;
  }
  worker_count_execution(w, EXEC_RUNNING, -1);
  static const char *const IDLE[] = {WORKER_READY, NULL};
  rc = model_worker_transition(w->redis, w->db_id, w->wid, IDLE, WORKER_BUSY, NULL);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: READY -> BUSY: %s", w->wid, actor_strerror(rc));

  worker_run_in_t in = {.actor = actor,
                        .meta = meta,
                        .message = message,
                        .eid = eid,
                        .binary = j->binary ? j->body : NULL,
                        .binary_len = j->binary ? j->len : 0};
  bool failed_start = false;
  char why[1024] = "";
  rc = worker_run(w, &in, &failed_start, why, sizeof(why));
  if (rc != 0) {
    LOG_WARN("worker", "execution %s: platform fault (%s): requeueing the message", eid,
             actor_strerror(rc));
    exec_resubmit(w, eid);
    j->outcome = OUT_RETRY;
  } else if (failed_start) {
    j->outcome = start_failed(w, actor, eid, why);
  } else {
    w->start_failures = 0;
  }

  actor_time_format(actor_time_now_ms(), now);
  static const char *const BUSY[] = {WORKER_BUSY, NULL};
  json_t *wf = json_pack("{s:s}", "last_execution_time", now);
  rc = wf ? model_worker_transition(w->redis, w->db_id, w->wid, BUSY, WORKER_READY, wf)
          : ACTOR_ENOMEM;
  json_decref(wf);
  if (rc != 0)
    LOG_WARN("worker", "worker %s: BUSY -> READY: %s", w->wid, actor_strerror(rc));

cleanup:
  json_decref(actor);
  json_decref(meta);
}

static unsigned backoff_ms(unsigned streak) {
  unsigned ms = BACKOFF_MIN_MS;
  for (unsigned i = 0; i < streak && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void job_done(job_t *j) {
  worker_t *w = j->w;
  job_free(j);
  malloc_trim(0); /* give back what the execution used (a big binary message) */
  w->busy = false;
  if (w->held) { /* now it may come back, to this worker or another */
    w->held = false;
    chan_nack(w->conn, w->held_tag, 1);
  }
  if (w->stopping)
    worker_shutdown(w);
}

static void on_retry_closed(uv_handle_t *h) {
  job_done(h->data);
}

static void on_retry(uv_timer_t *t) {
  job_t *j = t->data;
  j->w->retry_job = NULL;
  chan_nack(j->w->conn, j->tag, 1);
  uv_close((uv_handle_t *)&j->retry, on_retry_closed);
}

void worker_retry_now(worker_t *w) {
  job_t *j = w->retry_job;
  if (j) {
    uv_timer_stop(&j->retry);
    on_retry(&j->retry);
  }
}

static void after_execute(uv_work_t *wk, int status) {
  job_t *j = wk->data;
  worker_t *w = j->w;
  if (status != 0)
    j->outcome = OUT_RETRY; /* cancelled: never ran */
  switch (j->outcome) {
  case OUT_ACK:
    w->fault_streak = 0;
    chan_ack(w->conn, j->tag);
    break;
  case OUT_OBSOLETE:
    /* Stop consuming first, so the requeued message goes to another worker. */
    w->stopping = true;
    if (w->started)
      chan_cancel(w->conn, w->mailbox);
    chan_nack(w->conn, j->tag, 1);
    break;
  default: {
    unsigned pause = backoff_ms(w->fault_streak);
    if (w->fault_streak < 32)
      w->fault_streak++;
    if (w->stopping)
      break; /* nacked below */
    LOG_INFO("worker", "worker %s: message back to the mailbox in %u ms", w->wid, pause);
    uv_timer_init(&w->svc->loop, &j->retry);
    j->retry.data = j;
    w->retry_job = j;
    uv_timer_start(&j->retry, on_retry, pause, 0);
    return;
  }
  }
  if (j->outcome == OUT_RETRY)
    chan_nack(w->conn, j->tag, 1);
  job_done(j);
}

void worker_on_message(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  worker_t *w = ud;
  if (w->stopping) { /* leave it to another worker */
    chan_nack(c, msg->tag, 1);
    return;
  }
  if (w->busy) {
    /* Only after a reconnect in the middle of an execution (prefetch 1
     * otherwise keeps deliveries away). Given back at once, it would come
     * straight back here when this worker is its queue's single active
     * consumer: it is held, unacked, until the execution ends. */
    if (w->held)
      chan_nack(c, w->held_tag, 1); /* one of an earlier connection: a no-op */
    w->held = true;
    w->held_tag = msg->tag;
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

/* ---- force quit ---- */

typedef struct {
  uv_work_t work;
  worker_t *w;
  char eid[64];
} kill_t;

static void kill_work(uv_work_t *wk) {
  kill_t *k = wk->data;
  worker_t *w = k->w;
  char cid[128], eid[64];
  uv_mutex_lock(&w->lock);
  bool match = w->eid[0] != '\0' && (k->eid[0] == '\0' || strcmp(k->eid, w->eid) == 0);
  if (match)
    w->quit_pending = true; /* for a container not started yet */
  snprintf(cid, sizeof(cid), "%s", match ? w->cid : "");
  snprintf(eid, sizeof(eid), "%s", w->eid);
  uv_mutex_unlock(&w->lock);
  if (!match) {
    LOG_INFO("worker", "worker %s: force quit of %s: not running here", w->wid,
             k->eid[0] ? k->eid : "an execution");
    return;
  }
  if (cid[0] == '\0')
    return;
  char *err = NULL;
  int rc = dkr_container_kill(w->docker, cid, "SIGKILL", &err);
  if (rc != 0)
    LOG_WARN("worker", "force quit of execution %s (container %.12s) failed: %s", eid, cid,
             err ? err : actor_strerror(rc));
  else
    LOG_INFO("worker", "force quit execution %s (container %.12s)", eid, cid);
  free(err);
}

static void after_kill(uv_work_t *wk, int status) {
  (void)status;
  free(wk->data);
}

void worker_force_quit(worker_t *w, const char *eid) {
  kill_t *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return;
  k->w = w;
  k->work.data = k;
  snprintf(k->eid, sizeof(k->eid), "%s", eid ? eid : "");
  if (uv_queue_work(&w->svc->loop, &k->work, kill_work, after_kill) != 0)
    free(k);
}
