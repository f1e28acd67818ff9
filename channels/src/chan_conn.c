/* chan_conn_t: one AMQP connection driven by a libuv loop.
 *
 * Design note. Connecting (TCP, login, channel setup, declares, consumes)
 * is done with rabbitmq-c's blocking calls, each bounded by a 2 s timeout,
 * from a timer callback; after that a uv_poll on the socket drives all
 * input. rabbitmq-c is not event-driven, so on every readable event the
 * socket is drained with amqp_simple_wait_frame_noblock and a zero timeout
 * until it says TIMEOUT: that call first returns frames rabbitmq-c queued
 * while it waited for an RPC reply, then frames already in its buffer, then
 * reads the socket. Any RPC made outside the drain (a declare or consume
 * asked for from another callback) may leave such frames behind with
 * nothing readable on the socket, so every entry point that talks to the
 * broker "kicks" a zero-delay timer that drains again.
 *
 * Nothing that destroys the rabbitmq-c state runs while a drain or a user
 * callback is on the stack (`busy`): errors only set `failed` and kick; the
 * kick timer tears down and schedules a reconnect (chan_backoff_ms), and a
 * chan_conn_close from inside a callback is finished the same way. After a
 * teardown every publish still waiting for its confirm gets ACTOR_ECONN,
 * the delivery generation moves on (stale acks are refused), and the next
 * connection re-declares the queues and re-starts the consumers. Publishes
 * made while disconnected wait in an outbox. What travels on the main
 * channel once connected (publishes and their confirms, deliveries) is
 * handled in chan_frames.c; this file owns the connection's life, the admin
 * channel and the public calls.
 *
 * Heartbeats: rabbitmq-c sends ours when it is called after the send deadline, which a 5 s timer
 * makes sure of; silence from the broker for twice the heartbeat interval counts as a dead
 * connection. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "chan_int.h"

#define HEARTBEAT_S 20
#define TICK_MS 5000
#define CONNECT_TIMEOUT_MS 2000

static void on_kick(uv_timer_t *t);
static void on_retry(uv_timer_t *t);
static void drain(chan_conn_t *c);

/* ---- small helpers ---- */

static double rnd(chan_conn_t *c) {
  uint64_t x = c->rng; /* xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  c->rng = x;
  return (double)(x >> 11) / 9007199254740992.0;
}

static void kick(chan_conn_t *c) {
  if (!c->finished)
    uv_timer_start(&c->kick_timer, on_kick, 0, 0);
}

void chan__conn_fail(chan_conn_t *c, const char *fmt, ...) {
  if (!c->open || c->failed)
    return;
  c->failed = 1;
  char why[CHAN__ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  LOG_WARN(CHAN__LOG, "%s: connection lost: %s", c->name, why);
  kick(c);
}

static int usable(const chan_conn_t *c) {
  return c->open && !c->failed && !c->closing;
}

static chan__queue_t *find_queue(chan_conn_t *c, const char *name) {
  for (chan__queue_t *q = c->queues; q; q = q->next)
    if (strcmp(q->name, name) == 0)
      return q;
  return NULL;
}

static void remove_queue(chan_conn_t *c, const char *name) {
  for (chan__queue_t **pp = &c->queues; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, name) == 0) {
      chan__queue_t *q = *pp;
      *pp = q->next;
      free(q);
      return;
    }
}

static chan__consumer_t *find_consumer_queue(chan_conn_t *c, const char *queue) {
  for (chan__consumer_t *k = c->consumers; k; k = k->next)
    if (strcmp(k->queue, queue) == 0)
      return k;
  return NULL;
}

static void remove_consumer(chan_conn_t *c, chan__consumer_t *k) {
  for (chan__consumer_t **pp = &c->consumers; *pp; pp = &(*pp)->next)
    if (*pp == k) {
      *pp = k->next;
      free(k);
      return;
    }
}

/* ---- the outbox ---- */

static void flush_outbox(chan_conn_t *c) {
  while (c->outbox && usable(c)) {
    chan__pub_t *p = c->outbox;
    c->outbox = p->next;
    if (c->outbox == NULL)
      c->outbox_tail = &c->outbox;
    c->noutbox--;
    chan__frames_send(c, p);
  }
}

/* ---- broker-side setup ---- */

static int admin_declare(chan_conn_t *c, const char *queue, const chan_queue_opts_t *o) {
  char err[CHAN__ERR_MAX] = "";
  if (c->admin_closed) {
    int rc = chan__amqp_reopen(c->st, CHAN__CH_ADMIN, err, sizeof(err));
    if (rc) {
      chan__conn_fail(c, "re-opening the admin channel: %s", err);
      return rc;
    }
    c->admin_closed = 0;
  }
  int rc = chan__amqp_declare(c->st, queue, 0, o, NULL, err, sizeof(err));
  if (rc == ACTOR_EEXIST)
    LOG_INFO(CHAN__LOG, "%s: queue %s exists with other arguments; using it", c->name, queue);
  else if (rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT)
    chan__conn_fail(c, "declare %s: %s", queue, err);
  else if (rc)
    LOG_ERROR(CHAN__LOG, "%s: declare %s refused: %s", c->name, queue, err);
  return rc == ACTOR_EEXIST ? 0 : rc;
}

/* basic.qos + basic.consume on the main channel; a refusal there closes
 * the main channel, so any error ends this connection.
 *
 * x-cancel-on-ha-failover: when a consumer's queue goes away, RabbitMQ
 * consumes again from a queue of the same name if one exists by the time
 * the consumer's channel hears of it (meant for a mirror taking over, but
 * a queue deleted and declared again at once, as the api re-makes a
 * mailbox, looks the same). The consumer then silently takes messages of
 * the new queue while the channel's unacked deliveries, which it files by
 * queue name, point at the new queue too: an ack of a delivery of the old
 * queue settles a message of the new one, never run. With the argument
 * the broker always cancels the consumer (basic.cancel), and the
 * connection starts over (chan_frames.c). */
static int start_consumer(chan_conn_t *c, chan__consumer_t *k) {
  amqp_table_entry_t arg = {.key = amqp_cstring_bytes("x-cancel-on-ha-failover"),
                            .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}};
  amqp_table_t args = {1, &arg};
  char err[CHAN__ERR_MAX];
  if (strncmp(k->queue, "amq.", 4) != 0) {
    chan__queue_t *q = find_queue(c, k->queue);
    int rc = admin_declare(c, k->queue, q ? &q->opts : NULL);
    if (rc)
      return rc;
  }
  amqp_basic_qos(c->st, CHAN__CH_MAIN, 0, k->prefetch, 0);
  int rc =
      chan__amqp_check(c->st, CHAN__CH_MAIN, amqp_get_rpc_reply(c->st), NULL, err, sizeof(err));
  if (rc == 0) {
    amqp_basic_consume(c->st, CHAN__CH_MAIN, amqp_cstring_bytes(k->queue),
                       amqp_cstring_bytes(k->tag), 0, 0, 0, args);
    rc = chan__amqp_check(c->st, CHAN__CH_MAIN, amqp_get_rpc_reply(c->st), NULL, err, sizeof(err));
  }
  if (rc) {
    chan__conn_fail(c, "consume %s: %s", k->queue, err);
    return rc;
  }
  k->active = 1;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  chan__poll_t *p = h->data;
  chan_conn_t *c = p->c;
  if (status < 0) {
    chan__conn_fail(c, "poll: %s", uv_strerror(status));
    return;
  }
  c->last_rx = uv_now(c->loop);
  drain(c);
}

static void on_poll_closed(uv_handle_t *h) {
  free(h->data);
}

static void close_poll(chan_conn_t *c) {
  if (c->poll == NULL)
    return;
  uv_poll_stop(&c->poll->handle);
  uv_close((uv_handle_t *)&c->poll->handle, on_poll_closed);
  c->poll = NULL;
}

static void schedule_retry(chan_conn_t *c) {
  unsigned ms = chan_backoff_ms(c->attempt, rnd(c));
  if (c->attempt < 1000)
    c->attempt++;
  uv_timer_start(&c->retry_timer, on_retry, ms, 0);
}

/* Stops watching the socket and destroys the rabbitmq-c state. */
static void drop_connection(chan_conn_t *c) {
  close_poll(c);
  if (c->st) {
    amqp_destroy_connection(c->st);
    c->st = NULL;
  }
  c->open = 0;
  uv_timer_stop(&c->tick_timer);
}

/* Drops the rabbitmq-c state; pending confirms get ACTOR_ECONN. */
static void teardown(chan_conn_t *c) {
  drop_connection(c);
  c->failed = 0;
  c->admin_closed = 0;
  chan__msg_asm_reset(&c->asm_);
  chan__frames_clear_returns(c);
  for (chan__consumer_t *k = c->consumers; k; k = k->next)
    k->active = 0;
  chan__frames_finish(c, &c->pending, &c->pending_tail, ACTOR_ECONN);
}

static void on_tick(uv_timer_t *t) {
  chan_conn_t *c = t->data;
  if (!usable(c))
    return;
  if (uv_now(c->loop) - c->last_rx > 2u * HEARTBEAT_S * 1000u) {
    chan__conn_fail(c, "nothing from the broker for %d s", 2 * HEARTBEAT_S);
    return;
  }
  drain(c); /* lets rabbitmq-c send our heartbeat when it is due */
}

static int connect_once(chan_conn_t *c) {
  char err[CHAN__ERR_MAX];
  int rc =
      chan__amqp_open(&c->uri, c->name, HEARTBEAT_S, CONNECT_TIMEOUT_MS, &c->st, err, sizeof(err));
  if (rc) {
    if (c->attempt == 0)
      LOG_WARN(CHAN__LOG, "%s: cannot connect: %s (retrying)", c->name, err);
    else
      LOG_DEBUG(CHAN__LOG, "%s: cannot connect (attempt %u): %s", c->name, c->attempt + 1, err);
    return rc;
  }
  c->open = 1;
  c->failed = 0;
  c->generation++;
  c->next_seq = 0;
  c->busy++; /* no user code runs here, but keep teardown out of the way */
  for (chan__queue_t *q = c->queues, *next; q && !c->failed; q = next) {
    next = q->next;
    if (admin_declare(c, q->name, &q->opts) != 0 && !c->failed)
      remove_queue(c, q->name); /* refused: logged, forget it */
  }
  for (chan__consumer_t *k = c->consumers; k && !c->failed; k = k->next)
    start_consumer(c, k);
  c->busy--;
  if (c->failed) {
    teardown(c);
    return ACTOR_ECONN;
  }
  c->poll = malloc(sizeof(*c->poll));
  int fd = amqp_get_sockfd(c->st);
  if (c->poll == NULL || uv_poll_init(c->loop, &c->poll->handle, fd) != 0) {
    free(c->poll);
    c->poll = NULL;
    LOG_ERROR(CHAN__LOG, "%s: cannot watch socket %d", c->name, fd);
    teardown(c);
    return ACTOR_ECONN;
  }
  c->poll->c = c;
  c->poll->handle.data = c->poll;
  uv_poll_start(&c->poll->handle, UV_READABLE, on_poll);
  c->last_rx = uv_now(c->loop);
  uv_timer_start(&c->tick_timer, on_tick, TICK_MS, TICK_MS);
  LOG_INFO(CHAN__LOG, "%s: connected to %s:%d%s", c->name, c->uri.info.host, c->uri.info.port,
           c->attempt ? " (reconnected)" : "");
  c->attempt = 0;
  flush_outbox(c);
  kick(c);
  return 0;
}

static void on_retry(uv_timer_t *t) {
  chan_conn_t *c = t->data;
  if (c->closing || c->open)
    return;
  if (connect_once(c) != 0 && !c->closing)
    schedule_retry(c);
}

/* ---- input ---- */

static void handle_frame(chan_conn_t *c, const amqp_frame_t *f) {
  char why[CHAN__ERR_MAX];
  if (f->channel == 0) {
    if (f->frame_type == AMQP_FRAME_METHOD &&
        f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      chan__amqp_close_reason(&f->payload.method, NULL, why, sizeof(why));
      chan__amqp_close_ok(c->st, 0, 1);
      chan__conn_fail(c, "closed by the broker: %s", why);
    } else if (f->frame_type == AMQP_FRAME_METHOD &&
               f->payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD) {
      LOG_WARN(CHAN__LOG, "%s: the broker blocks publishing (resource alarm)", c->name);
    }
    return;
  }
  if (f->channel == CHAN__CH_ADMIN) {
    if (f->frame_type == AMQP_FRAME_METHOD && f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
      chan__amqp_close_reason(&f->payload.method, NULL, why, sizeof(why));
      chan__amqp_close_ok(c->st, CHAN__CH_ADMIN, 0);
      c->admin_closed = 1;
      LOG_WARN(CHAN__LOG, "%s: admin channel closed: %s", c->name, why);
    }
    return;
  }
  if (f->channel == CHAN__CH_MAIN)
    chan__frames_handle(c, f);
}

static void drain(chan_conn_t *c) {
  if (!usable(c) || c->draining)
    return;
  struct timeval zero = {0, 0};
  amqp_connection_state_t st = c->st;
  c->draining = 1;
  c->busy++;
  while (usable(c)) {
    amqp_frame_t f;
    int r = amqp_simple_wait_frame_noblock(st, &f, &zero);
    if (r == AMQP_STATUS_TIMEOUT)
      break;
    if (r != AMQP_STATUS_OK) {
      chan__conn_fail(c, "%s", amqp_error_string2(r));
      break;
    }
    handle_frame(c, &f);
    amqp_maybe_release_buffers_on_channel(st, f.channel);
  }
  c->busy--;
  c->draining = 0;
}

/* ---- close ---- */

static void on_handle_closed(uv_handle_t *h) {
  chan_conn_t *c = h->data;
  if (--c->nhandles > 0)
    return;
  if (c->close_cb)
    c->close_cb(c, c->close_ud);
  chan__msg_asm_free(&c->asm_);
  chan__amqp_uri_free(&c->uri);
  free(c);
}

static void finish_close(chan_conn_t *c) {
  if (c->finished)
    return;
  c->finished = 1;
  if (c->st && c->open && !c->failed) {
    amqp_connection_close(c->st, AMQP_REPLY_SUCCESS);
    LOG_INFO(CHAN__LOG, "%s: closed", c->name);
  }
  drop_connection(c);
  uv_timer_stop(&c->retry_timer);
  uv_timer_stop(&c->kick_timer);
  chan__frames_finish(c, &c->pending, &c->pending_tail, ACTOR_ECLOSED);
  c->noutbox = 0;
  chan__frames_finish(c, &c->outbox, &c->outbox_tail, ACTOR_ECLOSED);
  chan__frames_clear_returns(c);
  while (c->queues)
    remove_queue(c, c->queues->name);
  while (c->consumers)
    remove_consumer(c, c->consumers);
  uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tick_timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->kick_timer, on_handle_closed);
}

static void on_kick(uv_timer_t *t) {
  chan_conn_t *c = t->data;
  if (c->closing) {
    finish_close(c);
    return;
  }
  if (c->failed) {
    teardown(c);
    if (c->closing) {
      finish_close(c);
      return;
    }
    schedule_retry(c);
    return;
  }
  flush_outbox(c);
  drain(c);
}

/* ---- public API ---- */

int chan_conn_new(uv_loop_t *loop, const char *uri, const char *name, chan_conn_t **out) {
  if (out)
    *out = NULL;
  if (loop == NULL || uri == NULL || out == NULL)
    return ACTOR_EINVAL;
  chan_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return ACTOR_ENOMEM;
  int rc = chan__amqp_uri_parse(uri, &c->uri);
  if (rc) {
    free(c);
    return rc;
  }
  c->loop = loop;
  snprintf(c->name, sizeof(c->name), "%s", name && *name ? name : "chan");
  c->outbox_tail = &c->outbox;
  c->pending_tail = &c->pending;
  c->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)c) | 1;
  chan__msg_asm_init(&c->asm_);
  uv_timer_init(loop, &c->retry_timer);
  uv_timer_init(loop, &c->tick_timer);
  uv_timer_init(loop, &c->kick_timer);
  c->retry_timer.data = c->tick_timer.data = c->kick_timer.data = c;
  c->nhandles = 3;
  uv_timer_start(&c->retry_timer, on_retry, 0, 0);
  *out = c;
  return 0;
}

void chan_conn_close(chan_conn_t *c, chan_close_cb cb, void *ud) {
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_ud = ud;
  if (c->busy)
    kick(c);
  else
    finish_close(c);
}

int chan_conn_is_open(const chan_conn_t *c) {
  return c != NULL && usable(c);
}

int chan__conn_fd(const chan_conn_t *c) {
  return c && c->st && c->open ? amqp_get_sockfd(c->st) : -1;
}

uint64_t chan__conn_generation(const chan_conn_t *c) {
  return c ? c->generation : 0;
}

int chan_declare_opts(chan_conn_t *c, const char *queue, const chan_queue_opts_t *o) {
  chan_queue_opts_t none = {0};
  if (o == NULL)
    o = &none;
  if (c == NULL || chan__name_check(queue) || o->expires_ms < 0)
    return ACTOR_EINVAL;
  if (c->closing)
    return ACTOR_ECLOSED;
  chan__queue_t *q = find_queue(c, queue);
  if (q == NULL) {
    q = calloc(1, sizeof(*q));
    if (q == NULL)
      return ACTOR_ENOMEM;
    snprintf(q->name, sizeof(q->name), "%s", queue);
    q->next = c->queues;
    c->queues = q;
  }
  q->opts = *o;
  if (!usable(c))
    return 0;
  int rc = admin_declare(c, queue, o);
  kick(c);
  if (rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT)
    return 0; /* declared again on reconnect */
  if (rc) {
    remove_queue(c, queue);
    return ACTOR_ECHANNEL;
  }
  return 0;
}

int chan_declare_expiring(chan_conn_t *c, const char *queue, int64_t expires_ms) {
  chan_queue_opts_t o = {.expires_ms = expires_ms};
  return chan_declare_opts(c, queue, &o);
}

int chan_declare(chan_conn_t *c, const char *queue) {
  return chan_declare_opts(c, queue, NULL);
}

int chan_consume(chan_conn_t *c, const char *queue, uint16_t prefetch, chan_msg_cb cb, void *ud) {
  if (c == NULL || chan__name_check(queue) || cb == NULL)
    return ACTOR_EINVAL;
  if (c->closing)
    return ACTOR_ECLOSED;
  if (find_consumer_queue(c, queue))
    return ACTOR_EEXIST;
  chan__consumer_t *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return ACTOR_ENOMEM;
  snprintf(k->queue, sizeof(k->queue), "%s", queue);
  k->serial = ++c->tag_counter;
  snprintf(k->tag, sizeof(k->tag), "%.40s.%u", c->name, k->serial);
  k->prefetch = prefetch;
  k->cb = cb;
  k->ud = ud;
  chan__consumer_t **pp = &c->consumers; /* keep the order of the calls */
  while (*pp)
    pp = &(*pp)->next;
  *pp = k;
  if (!usable(c))
    return 0;
  int rc = start_consumer(c, k);
  kick(c);
  if (rc == ACTOR_ECHANNEL || rc == ACTOR_ENOTFOUND || rc == ACTOR_EEXIST) {
    remove_consumer(c, k);
    return ACTOR_ECHANNEL;
  }
  return 0; /* or started again after the reconnect */
}

int chan_cancel(chan_conn_t *c, const char *queue) {
  if (c == NULL || queue == NULL)
    return ACTOR_EINVAL;
  if (c->closing)
    return ACTOR_ECLOSED;
  chan__consumer_t *k = find_consumer_queue(c, queue);
  if (k == NULL)
    return ACTOR_ENOTFOUND;
  if (k->active && usable(c)) {
    char err[CHAN__ERR_MAX];
    amqp_basic_cancel(c->st, CHAN__CH_MAIN, amqp_cstring_bytes(k->tag));
    if (chan__amqp_check(c->st, CHAN__CH_MAIN, amqp_get_rpc_reply(c->st), NULL, err, sizeof(err)))
      chan__conn_fail(c, "cancel %s: %s", queue, err);
    kick(c);
  }
  remove_consumer(c, k);
  return 0;
}

void chan__conn_dropped(chan_conn_t *c, const chan__consumer_t *k) {
  unsigned i = c->ndropped++ % CHAN__DROPPED_MAX;
  c->dropped[i].generation = c->generation;
  c->dropped[i].consumer = k->serial;
}

static int was_dropped(const chan_conn_t *c, chan_tag_t tag) {
  unsigned n = c->ndropped < CHAN__DROPPED_MAX ? c->ndropped : CHAN__DROPPED_MAX;
  for (unsigned i = 0; i < n; i++)
    if (c->dropped[i].generation == tag.generation && c->dropped[i].consumer == tag.consumer)
      return 1;
  return 0;
}

static int settle(chan_conn_t *c, chan_tag_t tag, int ack, int requeue) {
  if (c == NULL)
    return ACTOR_EINVAL;
  if (c->closing)
    return ACTOR_ECLOSED;
  if (was_dropped(c, tag)) { /* the connection is over, or about to be */
    LOG_DEBUG(CHAN__LOG, "%s: %s of a delivery whose queue was deleted: gone", c->name,
              ack ? "ack" : "nack");
    return ACTOR_ENOTFOUND;
  }
  if (!usable(c) || tag.generation != c->generation) {
    LOG_DEBUG(CHAN__LOG, "%s: %s of a delivery from an earlier connection ignored", c->name,
              ack ? "ack" : "nack");
    return ACTOR_ESTATE;
  }
  int r = ack ? amqp_basic_ack(c->st, CHAN__CH_MAIN, tag.delivery_tag, 0)
              : amqp_basic_nack(c->st, CHAN__CH_MAIN, tag.delivery_tag, 0, requeue ? 1 : 0);
  if (r != AMQP_STATUS_OK) {
    chan__conn_fail(c, "%s: %s", ack ? "ack" : "nack", amqp_error_string2(r));
    return ACTOR_ECONN;
  }
  return 0;
}

int chan_ack(chan_conn_t *c, chan_tag_t tag) {
  return settle(c, tag, 1, 0);
}

int chan_nack(chan_conn_t *c, chan_tag_t tag, int requeue) {
  return settle(c, tag, 0, requeue);
}

int chan_publish(chan_conn_t *c, const char *queue, const void *body, size_t len,
                 const chan_props_t *props, chan_done_cb cb, void *ud) {
  if (c == NULL || chan__name_check(queue) || (body == NULL && len > 0))
    return ACTOR_EINVAL;
  if (c->closing)
    return ACTOR_ECLOSED;
  if (!usable(c) && c->noutbox >= CHAN_OUTBOX_MAX)
    return ACTOR_ECONN;
  chan__pub_t *p = chan__frames_pub_new(queue, body, len, props, cb, ud);
  if (p == NULL)
    return ACTOR_ENOMEM;
  if (usable(c) && c->outbox == NULL) {
    chan__frames_send(c, p);
  } else {
    chan__frames_append(&c->outbox_tail, p);
    c->noutbox++;
    if (usable(c))
      kick(c);
  }
  return 0;
}
