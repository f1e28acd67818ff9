/* Stage 0, the loop thread's side of a mailbox message: take the delivery
 * (copy it for the thread pool, or hold or give it back), queue the
 * execution (execute.c), and when it is done ack the message or requeue it
 * after a back-off pause (0.5 s doubling to 10 s, reset by a message that
 * settles). A message to requeue whose mailbox was deleted under it (the
 * api re-made it) is published again: the broker dropped it with the old
 * queue.
 *
 * Failure rule: a delivery that cannot be copied (no memory for the job,
 * the body or a binary message's metadata) or queued is nacked and
 * requeued at once; it is never acked, and no execution record changes. A
 * binary message whose metadata could not be copied must not look like one
 * without metadata (that one is unreadable and dropped by exec_admit.c). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "actor/log.h"
#include "exec.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000

void *(*worker__job_alloc)(size_t size) = malloc;

void worker__job_free(worker_job_t *j) {
  if (j == NULL)
    return;
  free(j->body);
  free(j->meta_text);
  free(j);
}

static char *copy_bytes(const void *src, size_t len) {
  if (len == SIZE_MAX)
    return NULL;
  char *p = worker__job_alloc(len + 1);
  if (p == NULL)
    return NULL;
  memcpy(p, src, len);
  p[len] = '\0';
  return p;
}

worker_delivery_t worker__delivery_take(const worker_t *w, const chan_msg_t *msg,
                                        worker_job_t **job) {
  *job = NULL;
  if (w->stopping) /* leave it to another worker */
    return WORKER_DELIVERY_NACK;
  /* Only after a reconnect in the middle of an execution (prefetch 1
   * otherwise keeps deliveries away). Given back at once, it would come
   * straight back here when this worker is its queue's single active
   * consumer: it is held, unacked, until the execution ends. */
  if (w->busy)
    return WORKER_DELIVERY_HOLD;
  worker_job_t *j = worker__job_alloc(sizeof(*j));
  if (j == NULL)
    return WORKER_DELIVERY_NACK;
  memset(j, 0, sizeof(*j));
  j->tag = msg->tag;
  j->work.data = j;
  j->len = msg->len;
  j->binary = msg->content_type && strcmp(msg->content_type, "application/octet-stream") == 0;
  j->body = copy_bytes(msg->body, msg->len);
  bool copied = j->body != NULL;
  if (copied && j->binary) {
    const char *meta = chan_msg_header(msg, "abaco_meta");
    if (meta != NULL) {
      j->meta_text = copy_bytes(meta, strlen(meta));
      copied = j->meta_text != NULL;
    }
  }
  if (!copied) {
    LOG_WARN("worker", "worker %s: no memory for a delivery of %zu bytes: requeueing it", w->wid,
             msg->len);
    worker__job_free(j);
    return WORKER_DELIVERY_NACK;
  }
  *job = j;
  return WORKER_DELIVERY_RUN;
}

static unsigned backoff_ms(unsigned streak) {
  unsigned ms = BACKOFF_MIN_MS;
  for (unsigned i = 0; i < streak && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* ack, nack and cancel results are dropped (ACTOR_IGNORE) throughout: they fail
 * only for a delivery of an earlier connection or after close, and the broker
 * has requeued such a delivery already (chan.h). */
static void job_done(worker_job_t *j) {
  worker_t *w = j->w;
  worker__job_free(j);
  malloc_trim(0); /* give back what the execution used (a big binary message) */
  w->busy = false;
  if (w->held) { /* now it may come back, to this worker or another */
    w->held = false;
    ACTOR_IGNORE(chan_nack(w->conn, w->held_tag, 1));
  }
  if (w->stopping)
    worker_shutdown(w);
}

static void on_republished(chan_conn_t *c, int status, void *ud) {
  (void)c;
  worker_t *w = ud;
  if (status != 0)
    LOG_ERROR("worker", "worker %s: a message of actor %s could not be put back in its mailbox: %s",
              w->wid, w->db_id, actor_strerror(status));
}

/* Back to the mailbox. When the mailbox was deleted under the delivery
 * (the api re-made it, mailbox.c), the broker dropped the message with
 * the old queue (chan_nack says ACTOR_ENOTFOUND): it is published again,
 * into the new one. */
static void give_back(worker_t *w, const worker_job_t *j) {
  if (chan_nack(w->conn, j->tag, 1) != ACTOR_ENOTFOUND)
    return;
  chan_props_t props = {0};
  if (j->binary) {
    props.content_type = "application/octet-stream";
    if (j->meta_text) {
      props.headers[0] = (chan_header_t){"abaco_meta", j->meta_text};
      props.nheaders = 1;
    }
  }
  LOG_INFO("worker", "worker %s: its mailbox was re-made under the message in hand: "
           "publishing it again", w->wid);
  int rc = chan_publish(w->conn, w->mailbox, j->body, j->len, &props, on_republished, w);
  if (rc != 0)
    on_republished(w->conn, rc, w);
}

static void on_retry_closed(uv_handle_t *h) {
  job_done(h->data);
}

static void on_retry(uv_timer_t *t) {
  worker_job_t *j = t->data;
  j->w->retry_job = NULL;
  give_back(j->w, j);
  uv_close((uv_handle_t *)&j->retry, on_retry_closed);
}

void worker_retry_now(worker_t *w) {
  worker_job_t *j = w->retry_job;
  if (j) {
    uv_timer_stop(&j->retry);
    on_retry(&j->retry);
  }
}

/* execute.c's `execute` ran (or was cancelled): ack or requeue. */
static void after_execute(uv_work_t *wk, int status) {
  worker_job_t *j = wk->data;
  worker_t *w = j->w;
  if (status != 0)
    j->outcome = WORKER_OUT_RETRY; /* cancelled: never ran */
  switch (j->outcome) {
  case WORKER_OUT_ACK:
    w->fault_streak = 0;
    ACTOR_IGNORE(chan_ack(w->conn, j->tag));
    break;
  case WORKER_OUT_OBSOLETE:
    /* Stop consuming first, so the requeued message goes to another worker. */
    w->stopping = true;
    if (w->started)
      ACTOR_IGNORE(chan_cancel(w->conn, w->mailbox));
    give_back(w, j);
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
  if (j->outcome == WORKER_OUT_RETRY)
    give_back(w, j);
  job_done(j);
}

void worker_on_message(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  worker_t *w = ud;
  worker_job_t *j = NULL;
  switch (worker__delivery_take(w, msg, &j)) {
  case WORKER_DELIVERY_NACK:
    ACTOR_IGNORE(chan_nack(c, msg->tag, 1));
    return;
  case WORKER_DELIVERY_HOLD:
    if (w->held)
      ACTOR_IGNORE(chan_nack(c, w->held_tag, 1)); /* one of an earlier connection: a no-op */
    w->held = true;
    w->held_tag = msg->tag;
    return;
  case WORKER_DELIVERY_RUN:
    break;
  }
  j->w = w;
  w->busy = true;
  if (w->load_exec != NULL)
    w->load_exec(w); /* once; a failure is logged and fails the calls that need it */
  if (uv_queue_work(&w->svc->loop, &j->work, worker__execute, after_execute) != 0) {
    w->busy = false;
    ACTOR_IGNORE(chan_nack(c, msg->tag, 1));
    worker__job_free(j);
  }
}
