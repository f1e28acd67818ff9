/* chan_client_t: blocking AMQP calls for threads that may block (libuv's
 * thread pool: API handlers, worker jobs). A mutex-protected pool hands each
 * call a connection of its own; connections are opened lazily, at most
 * pool_size at once, and a connection that saw an error is dropped instead
 * of being returned. Pooled connections may have gone stale (broker
 * restart, idle cut), which shows only on use, so every operation that
 * fails for connection reasons before anything non-repeatable was sent is
 * retried once on a fresh connection.
 *
 * Publishes are mandatory and confirmed; with one publish outstanding per
 * connection, an ack or nack with a tag at or above ours answers it and a
 * basic.return before it means the queue vanished after we declared it
 * (the declare cache then forgets it and the retry re-declares). Queue
 * declares are cached per connection; deleting a queue bumps a pool-wide
 * epoch that clears every cache. Request/reply over the pool is in
 * chan_rpc.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "chan_int.h"

#define CONNECT_TIMEOUT_MS 3000
#define DEFAULT_POOL 4

int64_t chan__client_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the pool ---- */

static void cache_clear(chan__cconn_t *cc) {
  for (int i = 0; i < cc->ndeclared; i++)
    free(cc->declared[i]);
  cc->ndeclared = 0;
}

static int cache_has(const chan__cconn_t *cc, const char *queue) {
  for (int i = 0; i < cc->ndeclared; i++)
    if (strcmp(cc->declared[i], queue) == 0)
      return 1;
  return 0;
}

static void cache_add(chan__cconn_t *cc, const char *queue) {
  if (cc->ndeclared == CHAN__DECLARE_CACHE)
    cache_clear(cc);
  char *s = strdup(queue);
  if (s)
    cc->declared[cc->ndeclared++] = s;
}

void chan__client_cache_forget(chan__cconn_t *cc, const char *queue) {
  for (int i = 0; i < cc->ndeclared; i++)
    if (strcmp(cc->declared[i], queue) == 0) {
      free(cc->declared[i]);
      cc->declared[i] = cc->declared[--cc->ndeclared];
      return;
    }
}

static void cconn_free(chan__cconn_t *cc, int graceful) {
  if (cc == NULL)
    return;
  if (cc->st) {
    if (graceful && !cc->broken)
      amqp_connection_close(cc->st, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(cc->st);
  }
  cache_clear(cc);
  chan__msg_asm_free(&cc->asm_);
  free(cc);
}

static int acquire(chan_client_t *cl, chan__cconn_t **out) {
  *out = NULL;
  pthread_mutex_lock(&cl->mu);
  while (cl->idle == NULL && cl->nopen >= cl->max)
    pthread_cond_wait(&cl->cv, &cl->mu);
  chan__cconn_t *cc = cl->idle;
  if (cc)
    cl->idle = cc->next;
  else
    cl->nopen++;
  uint64_t epoch = cl->epoch;
  pthread_mutex_unlock(&cl->mu);

  if (cc == NULL) {
    char err[CHAN__ERR_MAX];
    cc = calloc(1, sizeof(*cc));
    int rc = cc ? chan__amqp_open(&cl->uri, "abaco-client", 0, CONNECT_TIMEOUT_MS, &cc->st, err,
                                  sizeof(err))
                : ACTOR_ENOMEM;
    if (rc) {
      if (cc)
        LOG_DEBUG(CHAN__LOG, "client: %s", err);
      free(cc);
      pthread_mutex_lock(&cl->mu);
      cl->nopen--;
      pthread_cond_signal(&cl->cv);
      pthread_mutex_unlock(&cl->mu);
      return rc == ACTOR_ENOMEM ? rc : ACTOR_ECONN;
    }
    chan__msg_asm_init(&cc->asm_);
    cc->epoch = epoch;
  }
  cc->next = NULL;
  if (cc->epoch != epoch) {
    cache_clear(cc);
    cc->epoch = epoch;
  }
  *out = cc;
  return 0;
}

/* A broken connection usually means the broker went away, and then the
 * idle ones are stale too: drop them all, so that a retry really gets a
 * fresh connection. */
static void release(chan_client_t *cl, chan__cconn_t *cc) {
  chan__cconn_t *stale = NULL;
  chan__msg_asm_reset(&cc->asm_);
  pthread_mutex_lock(&cl->mu);
  if (cc->broken) {
    cl->nopen--;
    stale = cl->idle;
    cl->idle = NULL;
    for (chan__cconn_t *s = stale; s; s = s->next)
      cl->nopen--;
    pthread_cond_broadcast(&cl->cv);
  } else {
    cc->next = cl->idle;
    cl->idle = cc;
    pthread_cond_signal(&cl->cv);
  }
  pthread_mutex_unlock(&cl->mu);
  if (cc->broken)
    cconn_free(cc, 0);
  while (stale) {
    chan__cconn_t *s = stale;
    stale = s->next;
    s->broken = 1; /* no goodbye on a connection that is likely dead */
    cconn_free(s, 0);
  }
}

/* Runs op on a pooled connection; once more on a fresh one if it asks. */
int chan__client_run(chan_client_t *cl, chan__client_op_fn op, void *arg) {
  int rc = ACTOR_ECONN;
  for (int attempt = 0; attempt < 2; attempt++) {
    chan__cconn_t *cc;
    rc = acquire(cl, &cc);
    if (rc)
      return rc;
    int retry = 0;
    rc = op(cl, cc, arg, &retry);
    if (rc == ACTOR_ECONN)
      cc->broken = 1;
    release(cl, cc);
    if (rc == 0 || !retry)
      break;
  }
  return rc;
}

/* ---- helpers on one connection ---- */

/* Classifies an admin-channel RPC; a refusal re-opens the channel. */
static int admin_result(chan__cconn_t *cc, int *code, char *err, size_t errlen) {
  int rc = chan__amqp_check(cc->st, CHAN__CH_ADMIN, amqp_get_rpc_reply(cc->st), code, err, errlen);
  amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_ADMIN);
  if (rc == ACTOR_ECHANNEL && chan__amqp_reopen(cc->st, CHAN__CH_ADMIN, err, errlen) != 0)
    rc = ACTOR_ECONN;
  if (rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT)
    cc->broken = 1;
  return rc;
}

/* The end of a purge, delete or get on the admin channel: a queue the broker
 * does not know gives `missing`, a timeout counts as a lost connection, and
 * only a lost connection is worth a retry. */
int chan__client_admin_done(chan__cconn_t *cc, int missing, int *retry) {
  char err[CHAN__ERR_MAX];
  int code = 0;
  int rc = admin_result(cc, &code, err, sizeof(err));
  if (rc == ACTOR_ECHANNEL && code == AMQP_NOT_FOUND)
    rc = missing;
  rc = rc == ACTOR_ETIMEDOUT ? ACTOR_ECONN : rc;
  *retry = rc == ACTOR_ECONN;
  return rc;
}

int chan__client_admin_ready(chan__cconn_t *cc) {
  char err[CHAN__ERR_MAX];
  if (!cc->admin_closed)
    return 0;
  if (chan__amqp_reopen(cc->st, CHAN__CH_ADMIN, err, sizeof(err)) != 0) {
    cc->broken = 1;
    return ACTOR_ECONN;
  }
  cc->admin_closed = 0;
  return 0;
}

/* Declares queue for real: 0, ACTOR_EEXIST (exists with other
 * arguments), ACTOR_ECONN (cc is broken) or ACTOR_ECHANNEL. */
static int declare(chan__cconn_t *cc, const char *queue, const chan_queue_opts_t *o) {
  char err[CHAN__ERR_MAX];
  int rc = chan__client_admin_ready(cc);
  if (rc)
    return rc;
  rc = chan__amqp_declare(cc->st, queue, 0, o, NULL, err, sizeof(err));
  if (rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT) {
    cc->broken = 1;
    return ACTOR_ECONN;
  }
  if (rc == ACTOR_EEXIST) {
    LOG_DEBUG(CHAN__LOG, "client: queue %s exists with other arguments", queue);
  } else if (rc) {
    LOG_DEBUG(CHAN__LOG, "client: declare %s refused: %s", queue, err);
    return ACTOR_ECHANNEL;
  }
  cache_add(cc, queue);
  return rc;
}

int chan__client_ensure_declared(chan__cconn_t *cc, const char *queue, const chan_queue_opts_t *o) {
  if (cache_has(cc, queue))
    return 0;
  int rc = declare(cc, queue, o);
  return rc == ACTOR_EEXIST ? 0 : rc;
}

/* Waits for the next main-channel event until deadline (ms, monotonic).
 * CHAN__EV_MSG leaves a complete message in cc->asm_ (reset it when done). */
int chan__client_next_event(chan__cconn_t *cc, int64_t deadline, chan__cev_t *ev) {
  char why[CHAN__ERR_MAX];
  for (;;) {
    int64_t left = deadline - chan__client_now_ms();
    if (left < 0)
      left = 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
    amqp_frame_t f;
    int r = amqp_simple_wait_frame_noblock(cc->st, &f, &tv);
    if (r == AMQP_STATUS_TIMEOUT)
      return ACTOR_ETIMEDOUT;
    if (r != AMQP_STATUS_OK) {
      LOG_DEBUG(CHAN__LOG, "client: %s", amqp_error_string2(r));
      cc->broken = 1;
      return ACTOR_ECONN;
    }
    int rc = 1; /* keep reading */
    const amqp_method_t *m = &f.payload.method;
    int is_method = f.frame_type == AMQP_FRAME_METHOD;
    if (f.channel == 0) {
      if (is_method && m->id == AMQP_CONNECTION_CLOSE_METHOD) {
        chan__amqp_close_reason(m, NULL, why, sizeof(why));
        LOG_DEBUG(CHAN__LOG, "client: closed by the broker: %s", why);
        chan__amqp_close_ok(cc->st, 0, 1);
        cc->broken = 1;
        rc = ACTOR_ECONN;
      }
    } else if (f.channel == CHAN__CH_ADMIN) {
      if (is_method && m->id == AMQP_CHANNEL_CLOSE_METHOD) {
        chan__amqp_close_ok(cc->st, CHAN__CH_ADMIN, 0);
        cc->admin_closed = 1;
      }
    } else if (f.channel == CHAN__CH_MAIN) {
      int a = chan__msg_asm_feed(&cc->asm_, &f);
      if (a < 0) {
        cc->broken = 1;
        rc = ACTOR_ECONN;
      } else if (a == CHAN__ASM_COMPLETE) {
        ev->type = CHAN__EV_MSG;
        rc = 0;
      } else if (a == CHAN__ASM_NOTMINE && is_method) {
        if (m->id == AMQP_BASIC_ACK_METHOD) {
          const amqp_basic_ack_t *k = m->decoded;
          *ev = (chan__cev_t){CHAN__EV_ACK, k->delivery_tag, k->multiple};
          rc = 0;
        } else if (m->id == AMQP_BASIC_NACK_METHOD) {
          const amqp_basic_nack_t *k = m->decoded;
          *ev = (chan__cev_t){CHAN__EV_NACK, k->delivery_tag, k->multiple};
          rc = 0;
        } else if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
          chan__amqp_close_reason(m, NULL, why, sizeof(why));
          LOG_DEBUG(CHAN__LOG, "client: channel closed by the broker: %s", why);
          chan__amqp_close_ok(cc->st, CHAN__CH_MAIN, 0);
          cc->broken = 1;
          rc = ACTOR_ECHANNEL;
        }
      }
    }
    amqp_maybe_release_buffers_on_channel(cc->st, f.channel);
    if (rc <= 0)
      return rc;
  }
}

int chan__client_covers(const chan__cev_t *ev, uint64_t seq) {
  return ev->tag == seq || (ev->multiple && ev->tag > seq);
}

/* Writes one mandatory publish on the main channel; *seq gets its tag. */
int chan__client_send_raw(chan__cconn_t *cc, const char *queue, amqp_bytes_t body,
                          const amqp_basic_properties_t *props, uint64_t *seq) {
  int r = amqp_basic_publish(cc->st, CHAN__CH_MAIN, amqp_empty_bytes, amqp_cstring_bytes(queue),
                             chan__amqp_mandatory(queue), 0, props, body);
  if (r != AMQP_STATUS_OK) {
    cc->broken = 1;
    return ACTOR_ECONN;
  }
  *seq = ++cc->seq;
  return 0;
}

int chan__client_send_publish(chan__cconn_t *cc, const char *queue, const void *body, size_t len,
                              const chan_props_t *props, uint64_t *seq) {
  chan__props_t pr;
  chan__msg_props(props, &pr);
  amqp_bytes_t b = {len, (void *)body};
  return chan__client_send_raw(cc, queue, b, &pr.p, seq);
}

/* ---- operations ---- */

/* The arguments chan_client_publish and chan_client_call have in common. */
int chan__client_check_send(const chan_client_t *cl, const char *queue, const void *body,
                            size_t len, int timeout_ms) {
  if (cl == NULL || chan__name_check(queue) || (body == NULL && len > 0) || timeout_ms <= 0)
    return ACTOR_EINVAL;
  return 0;
}

int chan__client_await_confirm(chan__cconn_t *cc, const char *queue, uint64_t seq,
                               int64_t deadline) {
  int returned = 0;
  for (;;) {
    chan__cev_t ev;
    int rc = chan__client_next_event(cc, deadline, &ev);
    if (rc == ACTOR_ETIMEDOUT)
      cc->broken = 1; /* forget this connection's confirm state */
    if (rc)
      return rc;
    if (ev.type == CHAN__EV_MSG) {
      if (cc->asm_.kind == CHAN__KIND_RETURN)
        returned = 1;
      chan__msg_asm_reset(&cc->asm_);
    } else if (chan__client_covers(&ev, seq)) {
      if (ev.type == CHAN__EV_NACK)
        return ACTOR_ECHANNEL;
      if (returned) {
        chan__client_cache_forget(cc, queue);
        return ACTOR_ENOTFOUND;
      }
      return 0;
    }
  }
}

int chan__send_init(chan__send_t *p, const chan_client_t *cl, const char *queue,
                   const chan_queue_opts_t *qo, const void *body, size_t len,
                   const chan_props_t *props, int timeout_ms) {
  if (chan__client_check_send(cl, queue, body, len, timeout_ms))
    return ACTOR_EINVAL;
  *p = (chan__send_t){queue, qo, body ? body : "", len, props, timeout_ms};
  return 0;
}

static int op_publish(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  chan__send_t *a = arg;
  int64_t deadline = chan__client_now_ms() + a->timeout_ms;
  *retry = 1;
  int rc = chan__client_ensure_declared(cc, a->queue, a->qo);
  uint64_t seq;
  if (rc == 0)
    rc = chan__client_send_publish(cc, a->queue, a->body, a->len, a->props, &seq);
  if (rc == 0)
    rc = chan__client_await_confirm(cc, a->queue, seq, deadline);
  if (rc == ACTOR_ETIMEDOUT)
    *retry = 0; /* it may still arrive: do not send it twice */
  return rc;
}

int chan_client_publish_to(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo,
                           const void *body, size_t len, const chan_props_t *props,
                           int timeout_ms) {
  chan__send_t a;
  if (chan__send_init(&a, cl, queue, qo, body, len, props, timeout_ms))
    return ACTOR_EINVAL;
  int rc = chan__client_run(cl, op_publish, &a);
  return rc == ACTOR_ENOTFOUND ? ACTOR_ECHANNEL : rc;
}

int chan_client_publish(chan_client_t *cl, const char *queue, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms) {
  return chan_client_publish_to(cl, queue, NULL, body, len, props, timeout_ms);
}

typedef struct {
  const char *queue;
  chan_queue_opts_t qo;
  long count;
  char *body;
  size_t len;
} admin_arg_t;

/* 0, or ACTOR_EEXIST when the queue exists with other arguments. */
static int op_declare(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  admin_arg_t *a = arg;
  chan__client_cache_forget(cc, a->queue); /* declare for real */
  int rc = declare(cc, a->queue, &a->qo);
  *retry = rc == ACTOR_ECONN;
  return rc;
}

static int op_queue_len(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  admin_arg_t *a = arg;
  char err[CHAN__ERR_MAX];
  uint32_t n = 0;
  int rc = chan__client_admin_ready(cc);
  if (rc == 0)
    rc = chan__amqp_declare(cc->st, a->queue, 1, 0, &n, err, sizeof(err));
  if (rc == ACTOR_ENOTFOUND)
    rc = 0;
  else if (rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT)
    rc = ACTOR_ECONN;
  a->count = rc == 0 ? (long)n : 0;
  *retry = rc == ACTOR_ECONN;
  return rc;
}

static int op_purge(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  admin_arg_t *a = arg;
  int rc = chan__client_admin_ready(cc);
  *retry = rc == ACTOR_ECONN;
  if (rc)
    return rc;
  amqp_queue_purge(cc->st, CHAN__CH_ADMIN, amqp_cstring_bytes(a->queue));
  return chan__client_admin_done(cc, 0, retry);
}

/* a->count: 1 for if-empty. */
static int op_delete(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  admin_arg_t *a = arg;
  int rc = chan__client_admin_ready(cc);
  *retry = rc == ACTOR_ECONN;
  if (rc)
    return rc;
  amqp_queue_delete(cc->st, CHAN__CH_ADMIN, amqp_cstring_bytes(a->queue), 0, a->count == 1);
  int code = 0;
  char err[CHAN__ERR_MAX];
  rc = admin_result(cc, &code, err, sizeof(err));
  if (rc == ACTOR_ECHANNEL && code == AMQP_NOT_FOUND)
    rc = 0;
  else if (rc == ACTOR_ECHANNEL && code == AMQP_PRECONDITION_FAILED)
    rc = ACTOR_ESTATE; /* if-empty: it holds messages */
  rc = rc == ACTOR_ETIMEDOUT ? ACTOR_ECONN : rc;
  *retry = rc == ACTOR_ECONN;
  if (rc == 0) {
    chan__client_cache_forget(cc, a->queue);
    pthread_mutex_lock(&cl->mu);
    cl->epoch++;
    cc->epoch = cl->epoch; /* this one's cache is already right */
    pthread_mutex_unlock(&cl->mu);
  }
  return rc;
}

static int op_get(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  admin_arg_t *a = arg;
  int rc = chan__client_admin_ready(cc);
  *retry = rc == ACTOR_ECONN;
  if (rc)
    return rc;
  amqp_rpc_reply_t r = amqp_basic_get(cc->st, CHAN__CH_ADMIN, amqp_cstring_bytes(a->queue), 1);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) {
      amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_ADMIN);
      return ACTOR_ENOTFOUND; /* get-empty */
    }
    *retry = 0; /* taken off the queue: a retry would lose it */
    amqp_message_t msg;
    r = amqp_read_message(cc->st, CHAN__CH_ADMIN, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      cc->broken = 1;
      return ACTOR_ECONN;
    }
    a->body = malloc(msg.body.len + 1);
    if (a->body) {
      memcpy(a->body, msg.body.bytes, msg.body.len);
      a->body[msg.body.len] = '\0';
      a->len = msg.body.len;
    }
    amqp_destroy_message(&msg);
    amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_ADMIN);
    return a->body ? 0 : ACTOR_ENOMEM;
  }
  return chan__client_admin_done(cc, ACTOR_ENOTFOUND, retry);
}

static int admin_op(chan_client_t *cl, const char *queue, chan__client_op_fn op, admin_arg_t *a) {
  if (cl == NULL || chan__name_check(queue))
    return ACTOR_EINVAL;
  a->queue = queue;
  return chan__client_run(cl, op, a);
}

int chan_client_declare_opts(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo) {
  admin_arg_t a = {0};
  if (qo)
    a.qo = *qo;
  if (a.qo.expires_ms < 0)
    return ACTOR_EINVAL;
  return admin_op(cl, queue, op_declare, &a);
}

int chan_client_declare(chan_client_t *cl, const char *queue, int64_t expires_ms) {
  chan_queue_opts_t qo = {.expires_ms = expires_ms};
  int rc = chan_client_declare_opts(cl, queue, &qo);
  return rc == ACTOR_EEXIST ? 0 : rc;
}

int chan_client_queue_len(chan_client_t *cl, const char *queue, long *count) {
  admin_arg_t a = {0};
  if (count)
    *count = 0;
  if (count == NULL)
    return ACTOR_EINVAL;
  int rc = admin_op(cl, queue, op_queue_len, &a);
  *count = a.count;
  return rc;
}

int chan_client_purge(chan_client_t *cl, const char *queue) {
  admin_arg_t a = {0};
  return admin_op(cl, queue, op_purge, &a);
}

int chan_client_delete_queue(chan_client_t *cl, const char *queue) {
  admin_arg_t a = {0};
  return admin_op(cl, queue, op_delete, &a);
}

int chan_client_delete_queue_if_empty(chan_client_t *cl, const char *queue) {
  admin_arg_t a = {.count = 1};
  return admin_op(cl, queue, op_delete, &a);
}

int chan_client_get(chan_client_t *cl, const char *queue, char **body, size_t *len) {
  admin_arg_t a = {0};
  if (body)
    *body = NULL;
  if (len)
    *len = 0;
  if (body == NULL)
    return ACTOR_EINVAL;
  int rc = admin_op(cl, queue, op_get, &a);
  if (rc == 0) {
    *body = a.body;
    if (len)
      *len = a.len;
  }
  return rc;
}

/* ---- lifetime ---- */

int chan_client_new(const char *uri, size_t pool_size, chan_client_t **out) {
  if (out)
    *out = NULL;
  if (uri == NULL || out == NULL)
    return ACTOR_EINVAL;
  chan_client_t *cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return ACTOR_ENOMEM;
  int rc = chan__amqp_uri_parse(uri, &cl->uri);
  if (rc) {
    free(cl);
    return rc;
  }
  if (chan__group_init(cl) != 0) {
    chan__amqp_uri_free(&cl->uri);
    free(cl);
    return ACTOR_ENOMEM;
  }
  pthread_mutex_init(&cl->mu, NULL);
  pthread_cond_init(&cl->cv, NULL);
  cl->max = pool_size ? pool_size : DEFAULT_POOL;
  unsigned char rnd[8] = {0};
  if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
    uint64_t t = (uint64_t)chan__client_now_ms() ^ (uint64_t)(uintptr_t)cl;
    memcpy(rnd, &t, sizeof(rnd));
  }
  for (int i = 0; i < 8; i++)
    snprintf(cl->idbase + 2 * i, 3, "%02x", rnd[i]);
  *out = cl;
  return 0;
}

void chan_client_free(chan_client_t *cl) {
  if (cl == NULL)
    return;
  while (cl->idle) {
    chan__cconn_t *cc = cl->idle;
    cl->idle = cc->next;
    cconn_free(cc, 1);
  }
  pthread_cond_destroy(&cl->cv);
  pthread_mutex_destroy(&cl->mu);
  chan__group_free(cl);
  chan__amqp_uri_free(&cl->uri);
  free(cl);
}
