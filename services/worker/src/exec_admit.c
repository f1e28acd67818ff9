/* Stage 1, admission (thread pool): read the message's metadata and the
 * actor, decide whether the message may run now, and mark its execution
 * RUNNING.
 *
 * Failure rules, in the order they are checked:
 *   metadata unreadable, or without _abaco_execution_id: the message can
 *     never run; it is dropped (acked) and logged.
 *   actor unreadable: a platform fault requeues the message (after a
 *     pause); an actor that no longer exists marks the execution ERROR and
 *     acks the message.
 *   actor at a newer revision than this worker: requeued at once, and this
 *     worker shuts down (the new workers run it).
 *   actor in ERROR: requeued after a pause; the execution stays SUBMITTED.
 *   SUBMITTED/RUNNING -> RUNNING refused (the execution already finished or
 *     is unknown: a redelivery after a crash between store and ack): acked
 *     without running it again; any other failure requeues it.
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "exec.h"

#define SIBLING_WAIT_DEFAULT_MS (600 * 1000)
#define SIBLING_POLL_MS 250

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

/* The metadata and execution id; false when the message can never run. */
static bool read_message(const worker_t *w, const worker_job_t *j, worker_msg_t *m) {
  const char *src = j->binary ? j->meta_text : j->body;
  size_t len = j->binary ? (j->meta_text ? strlen(j->meta_text) : 0) : j->len;
  if (src == NULL || chan_json_decode(src, len, 64 << 20, &m->meta) != 0 ||
      !json_is_object(m->meta)) {
    LOG_ERROR("worker", "actor %s: dropping an unreadable mailbox message (%zu bytes)", w->db_id,
              j->len);
    return false;
  }
  if (!j->binary)
    m->message = json_object_get(m->meta, "message");
  m->eid = actor_json_str(m->meta, "_abaco_execution_id", NULL);
  if (m->eid == NULL) {
    LOG_ERROR("worker", "actor %s: dropping a message without _abaco_execution_id", w->db_id);
    return false;
  }
  return true;
}

/* The actor as it is now: may the message run? */
static int check_actor(worker_t *w, worker_msg_t *m) {
  int rc = model_actor_get(w->redis, w->db_id, &m->actor);
  if (rc != 0) {
    if (worker__platform_fault(rc))
      return WORKER_OUT_RETRY;
    worker_exec_error(w, m->eid, "the actor no longer exists");
    return WORKER_OUT_ACK;
  }
  long long revision = actor_json_int(m->actor, "revision", w->revision);
  if (revision > w->revision) {
    LOG_INFO("worker",
             "worker %s (revision %lld) of actor %s: the actor is at revision %lld: "
             "leaving execution %s to the new workers and stopping",
             w->wid, w->revision, w->db_id, revision, m->eid);
    return WORKER_OUT_OBSOLETE;
  }
  if (strcmp(actor_json_str(m->actor, "status", ""), ACTOR_ERROR) == 0) {
    LOG_INFO("worker", "actor %s is in ERROR: execution %s waits", w->db_id, m->eid);
    return WORKER_OUT_RETRY;
  }
  return WORKER_OUT_RUN;
}

/* SUBMITTED (or RUNNING, a redelivery) -> RUNNING. */
static int mark_running(worker_t *w, const char *eid) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  static const char *const RUNNABLE[] = {EXEC_SUBMITTED, EXEC_RUNNING, NULL};
  json_t *f =
      json_pack("{s:s, s:s, s:s}", "status", EXEC_RUNNING, "start_time", now, "worker_id", w->wid);
  int rc = f ? model_exec_transition(w->mongo, eid, RUNNABLE, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    LOG_INFO("worker", "execution %s already finished or unknown: not running it again", eid);
    return WORKER_OUT_ACK;
  }
  if (rc != 0)
    return WORKER_OUT_RETRY;
  worker_count_execution(w, EXEC_RUNNING, -1);
  return WORKER_OUT_RUN;
}

int worker__admit(worker_t *w, const worker_job_t *j, worker_msg_t *m) {
  memset(m, 0, sizeof(*m));
  if (!read_message(w, j, m))
    return WORKER_OUT_ACK;
  int out = check_actor(w, m);
  if (out != WORKER_OUT_RUN)
    return out;
  /* as it is now: it may have become stateful */
  if (!actor_json_bool(m->actor, "stateless", true))
    wait_for_siblings(w, m->eid);
  return mark_running(w, m->eid);
}

void worker__msg_free(worker_msg_t *m) {
  json_decref(m->actor);
  json_decref(m->meta);
  memset(m, 0, sizeof(*m));
}
