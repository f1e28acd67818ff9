/* The life of one command delivery, shared by launch.c and actions.c:
 *
 *   loop:  parse the body (a bad one is logged and acked: no retry can
 *          fix it), queue the job's work on the pool
 *   pool:  read the record, call AWS, store the outcome
 *   loop:  publish its event, start its poller, then ack; or, after a
 *          platform fault, nack with requeue after LAUNCHER_RETRY_DELAY_MS
 *
 * So a command is acked only once its effect is stored, and a command
 * that meets a fault is never lost nor spun on. */
#include <stdlib.h>
#include <string.h>

#include "actor/log.h"
#include "launcher.h"

static void job_free(launcher_job_t *j) {
  launcher_t *l = j->l;
  free(j->event);
  free(j);
  l->inflight--;
  launcher_check_idle(l);
}

static void on_retry_closed(uv_handle_t *h) {
  job_free(h->data);
}

/* ack and nack results are dropped (ACTOR_IGNORE): they fail only for a
 * delivery of an earlier connection or after close, and the broker has
 * requeued such a delivery already (chan.h). */
static void on_retry(uv_timer_t *t) {
  launcher_job_t *j = t->data;
  ACTOR_IGNORE(chan_nack(j->l->conn, j->tag, 1));
  uv_close((uv_handle_t *)&j->retry, on_retry_closed);
}

static void after_work(uv_work_t *w, int status) {
  launcher_job_t *j = w->data;
  launcher_t *l = j->l;
  launcher_event_publish(l, j->event);
  j->event = NULL;
  if (status != 0)
    j->outcome = LAUNCHER_RETRY;
  if (j->poll && !l->stopping)
    launcher_poll_start(l, j->cmd.tenant, j->cmd.instance_id, j->stack);
  if (j->outcome == LAUNCHER_RETRY) {
    if (l->stopping) { /* unacked: the broker requeues it when we close */
      job_free(j);
      return;
    }
    uv_timer_init(l->loop, &j->retry);
    j->retry.data = j;
    uv_timer_start(&j->retry, on_retry, LAUNCHER_RETRY_DELAY_MS, 0);
    return;
  }
  ACTOR_IGNORE(chan_ack(l->conn, j->tag));
  job_free(j);
}

void launcher_job_run(launcher_t *l, const chan_msg_t *msg, bool need_action, uv_work_cb work) {
  if (l->stopping) {
    ACTOR_IGNORE(chan_nack(l->conn, msg->tag, 1)); /* see on_retry */
    return;
  }
  launcher_cmd_t cmd;
  char err[256];
  if (launcher_cmd_parse(msg->body, msg->len, need_action, &cmd, err, sizeof(err)) != 0) {
    LOG_ERROR("launcher", "dropping a bad message of queue %s: %s", msg->queue, err);
    ACTOR_IGNORE(chan_ack(l->conn, msg->tag));
    return;
  }
  launcher_job_t *j = calloc(1, sizeof(*j));
  if (j == NULL) {
    ACTOR_IGNORE(chan_nack(l->conn, msg->tag, 1));
    return;
  }
  j->l = l;
  j->tag = msg->tag;
  j->cmd = cmd;
  j->work.data = j;
  l->inflight++;
  if (uv_queue_work(l->loop, &j->work, work, after_work) != 0) {
    j->outcome = LAUNCHER_RETRY;
    uv_timer_init(l->loop, &j->retry);
    j->retry.data = j;
    uv_timer_start(&j->retry, on_retry, LAUNCHER_RETRY_DELAY_MS, 0);
  }
}

void launcher_check_idle(launcher_t *l) {
  if (l->stopping && l->on_idle && launcher_idle(l)) {
    void (*fn)(launcher_t *) = l->on_idle;
    l->on_idle = NULL;
    fn(l);
  }
}
