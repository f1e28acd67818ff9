/* The `clients` channel: each delivery is copied, handled on libuv's thread
 * pool (Redis and RSA signing block), answered on the loop with a publish to
 * its reply_to carrying its correlation_id, then acked. A request without
 * reply_to is handled (a delete still revokes) and acked; its reply has
 * nowhere to go. Requests are handled one at a time per prefetch slot. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "clientg.h"

#define SERVE_PREFETCH 8

typedef struct {
  clientg_t *g;
  uv_work_t work;
  chan_tag_t tag;
  char *body;
  size_t len;
  char *reply_to, *corr;
  char *reply;
} job_t;

static void job_free(job_t *j) {
  clientg_t *g = j->g;
  free(j->body);
  free(j->reply_to);
  free(j->corr);
  free(j->reply);
  free(j);
  if (--g->inflight == 0 && g->stopping && g->on_idle) {
    clientg_idle_fn fn = g->on_idle;
    g->on_idle = NULL;
    fn(g);
  }
}

static void work(uv_work_t *w) {
  job_t *j = w->data;
  json_t *r = clientg_handle(j->g, j->body, j->len, (int64_t)time(NULL));
  j->reply = r ? json_dumps(r, JSON_COMPACT) : NULL;
  json_decref(r);
  /* Pool threads outlive OpenSSL's exit-time cleanup, so the per-thread
   * state (error queue, DRBG) they hold would be lost at exit; requests
   * are rare enough to release it after each one. */
  OPENSSL_thread_stop();
}

/* ack, nack and cancel results are dropped (ACTOR_IGNORE) throughout: they fail
 * only for a delivery of an earlier connection or after close, and the broker
 * has requeued such a delivery already (chan.h). */
static void after_work(uv_work_t *w, int status) {
  job_t *j = w->data;
  clientg_t *g = j->g;
  static const char oom[] = "{\"status\":\"error\",\"message\":\"out of memory\"}";
  const char *reply = j->reply && status == 0 ? j->reply : oom;
  if (j->reply_to != NULL) {
    chan_props_t props = {.correlation_id = j->corr};
    int rc = chan_publish(g->conn, j->reply_to, reply, strlen(reply), &props, NULL, NULL);
    if (rc != 0)
      LOG_WARN(CLIENTG_LOG, "cannot send a reply: %s", actor_strerror(rc));
  } else {
    LOG_WARN(CLIENTG_LOG, "a request without reply_to was handled; its reply is dropped");
  }
  ACTOR_IGNORE(chan_ack(g->conn, j->tag));
  job_free(j);
}

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

static void on_request(chan_conn_t *c, const chan_msg_t *m, void *ud) {
  clientg_t *g = ud;
  job_t *j = calloc(1, sizeof(*j));
  if (j == NULL) {
    ACTOR_IGNORE(chan_nack(c, m->tag, 1));
    return;
  }
  j->g = g;
  j->tag = m->tag;
  j->len = m->len;
  j->body = malloc(m->len + 1);
  j->reply_to = dup_or_null(m->reply_to);
  j->corr = dup_or_null(m->correlation_id);
  g->inflight++;
  if (j->body == NULL || (m->reply_to && !j->reply_to) || (m->correlation_id && !j->corr)) {
    ACTOR_IGNORE(chan_nack(c, m->tag, 1));
    job_free(j);
    return;
  }
  memcpy(j->body, m->body, m->len);
  j->body[m->len] = '\0';
  j->work.data = j;
  if (uv_queue_work(&g->svc->loop, &j->work, work, after_work) != 0) {
    ACTOR_IGNORE(chan_nack(c, m->tag, 1));
    job_free(j);
  }
}

int clientg_serve_start(clientg_t *g) {
  int rc = chan_consume(g->conn, g->conf.queue, SERVE_PREFETCH, on_request, g);
  if (rc == 0)
    LOG_INFO(CLIENTG_LOG, "serving %s (platform key %s)", g->conf.queue, g->key.kid);
  return rc;
}

void clientg_serve_stop(clientg_t *g, clientg_idle_fn done) {
  g->stopping = true;
  ACTOR_IGNORE(chan_cancel(g->conn, g->conf.queue));
  if (g->inflight == 0)
    done(g);
  else
    g->on_idle = done;
}
