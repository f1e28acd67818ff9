/* chan_client_call and chan_client_call_many: request/reply over the
 * blocking pool (chan_client.c). Replies come through RabbitMQ's direct
 * reply-to on the connection's main channel: consume amq.rabbitmq.reply-to
 * with no-ack, publish with reply_to set, match the correlation id. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "chan_int.h"

#define REPLY_TO "amq.rabbitmq.reply-to"

typedef struct {
  const char *queue;
  const void *body;
  size_t len;
  int timeout_ms;
  char *reply;
  size_t reply_len;
} call_arg_t;

/* Starts consuming the direct reply-to pseudo queue (no ack) on the main
 * channel; the consumer tag goes to ctag. A failure breaks the connection. */
static int consume_reply_to(chan__cconn_t *cc, char *ctag, size_t ctag_size) {
  char err[CHAN__ERR_MAX];
  amqp_basic_consume_ok_t *ok =
      amqp_basic_consume(cc->st, CHAN__CH_MAIN, amqp_cstring_bytes(REPLY_TO), amqp_empty_bytes, 0,
                         1, 0, amqp_empty_table);
  if (ok)
    snprintf(ctag, ctag_size, "%.*s", (int)ok->consumer_tag.len,
             (const char *)ok->consumer_tag.bytes);
  int rc =
      chan__amqp_check(cc->st, CHAN__CH_MAIN, amqp_get_rpc_reply(cc->st), NULL, err, sizeof(err));
  amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_MAIN);
  if (rc) {
    LOG_DEBUG(CHAN__LOG, "client: consume %s: %s", REPLY_TO, err);
    cc->broken = 1;
    return rc == ACTOR_ETIMEDOUT ? ACTOR_ECONN : rc;
  }
  return 0;
}

/* Ends the reply-to consumer of a connection still usable. */
static void cancel_reply_to(chan__cconn_t *cc, const char *ctag) {
  char err[CHAN__ERR_MAX];
  if (cc->broken)
    return;
  amqp_basic_cancel(cc->st, CHAN__CH_MAIN, amqp_cstring_bytes(ctag));
  if (chan__amqp_check(cc->st, CHAN__CH_MAIN, amqp_get_rpc_reply(cc->st), NULL, err, sizeof(err)))
    cc->broken = 1;
  amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_MAIN);
}

/* A correlation id unique to this client: "<idbase>.<serial><suffix>". */
static void next_corr(chan_client_t *cl, const char *suffix, char *out, size_t size) {
  pthread_mutex_lock(&cl->mu);
  uint64_t serial = ++cl->serial;
  pthread_mutex_unlock(&cl->mu);
  snprintf(out, size, "%s.%llu%s", cl->idbase, (unsigned long long)serial, suffix);
}

/* The properties of a request whose reply comes to us as correlation id corr. */
static chan_props_t request_props(const char *corr, int timeout_ms) {
  return (chan_props_t){.content_type = "application/json",
                        .reply_to = REPLY_TO,
                        .correlation_id = corr,
                        .expiration_ms = timeout_ms};
}

static int op_call(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  call_arg_t *a = arg;
  char ctag[256], corr[64];
  int64_t deadline = chan__client_now_ms() + a->timeout_ms;
  *retry = 1; /* until the request is out */
  int rc = chan__client_ensure_declared(cc, a->queue, NULL);
  if (rc)
    return rc;
  if ((rc = consume_reply_to(cc, ctag, sizeof(ctag))) != 0)
    return rc;

  next_corr(cl, "", corr, sizeof(corr));
  chan_props_t props = request_props(corr, a->timeout_ms);
  uint64_t seq;
  rc = chan__client_send_publish(cc, a->queue, a->body, a->len, &props, &seq);
  if (rc)
    return rc;
  *retry = 0;
  for (;;) {
    chan__cev_t ev;
    rc = chan__client_next_event(cc, deadline, &ev);
    if (rc)
      break;
    if (ev.type == CHAN__EV_NACK && chan__client_covers(&ev, seq)) {
      rc = ACTOR_ECHANNEL;
      break;
    }
    if (ev.type != CHAN__EV_MSG)
      continue;
    chan__asm_t *m = &cc->asm_;
    const char *mc = chan__msg_asm_str(m, m->correlation_id);
    if (m->kind == CHAN__KIND_RETURN) {
      chan__client_cache_forget(cc, a->queue);
      *retry = 1; /* it went nowhere: sending it again is safe */
      rc = ACTOR_ENOTFOUND;
    } else if (m->kind == CHAN__KIND_DELIVER && mc && strcmp(mc, corr) == 0) {
      /* Hand the body over instead of copying it. */
      a->reply = m->body;
      a->reply_len = (size_t)m->got;
      m->body = NULL;
      rc = 0;
    } else {
      chan__msg_asm_reset(m); /* a late reply to an earlier call */
      continue;
    }
    chan__msg_asm_reset(m);
    break;
  }
  cancel_reply_to(cc, ctag);
  if (rc == ACTOR_ECONN && !cc->broken)
    cc->broken = 1;
  return rc;
}

int chan_client_call(chan_client_t *cl, const char *queue, const void *body, size_t len,
                     int timeout_ms, char **reply, size_t *reply_len) {
  if (reply)
    *reply = NULL;
  if (reply_len)
    *reply_len = 0;
  if (chan__client_check_send(cl, queue, body, len, timeout_ms) || reply == NULL)
    return ACTOR_EINVAL;
  call_arg_t a = {queue, body ? body : "", len, timeout_ms, NULL, 0};
  int rc = chan__client_run(cl, op_call, &a);
  if (rc == 0) {
    *reply = a.reply;
    if (reply_len)
      *reply_len = a.reply_len;
  } else {
    free(a.reply);
  }
  return rc == ACTOR_ENOTFOUND ? ACTOR_ECHANNEL : rc;
}

/* Many calls on one connection: every request goes out first (mandatory,
 * not declared), then replies and returns are matched to their call by the
 * index at the end of the correlation id "<idbase>.<serial>.<index>". */
typedef struct {
  chan_call_t *calls;
  size_t n;
  const void *body;
  size_t len;
  int timeout_ms;
} many_arg_t;

/* The index of the call a correlation id names, or n when it is not one of
 * this batch's (a late reply to an earlier call). */
static size_t many_index(const char *corr, const char *prefix, size_t n) {
  size_t plen = strlen(prefix);
  if (corr == NULL || strncmp(corr, prefix, plen) != 0)
    return n;
  char *end = NULL;
  unsigned long long i = strtoull(corr + plen, &end, 10);
  return end && end != corr + plen && *end == '\0' && i < n ? (size_t)i : n;
}

/* One run of op_call_many: call i's request is the publish with tag
 * first_seq + i; `replies` and `confirms` count what is still awaited. */
typedef struct {
  many_arg_t *a;
  char prefix[64];
  uint64_t first_seq;
  size_t sent, replies, confirms;
  unsigned char *confirmed; /* per call: its confirm came */
} many_run_t;

/* Publishes the requests in order until one fails; the calls that went out
 * wait (ACTOR_ETIMEDOUT until answered), the others get ACTOR_ECONN. */
static void many_send(chan__cconn_t *cc, many_run_t *r) {
  many_arg_t *a = r->a;
  char corr[96];
  r->first_seq = cc->seq + 1;
  for (r->sent = 0; r->sent < a->n; r->sent++) {
    snprintf(corr, sizeof(corr), "%s%zu", r->prefix, r->sent);
    chan_props_t props = request_props(corr, a->timeout_ms);
    uint64_t seq;
    if (chan__client_send_publish(cc, a->calls[r->sent].queue, a->body, a->len, &props, &seq) != 0)
      break;
    a->calls[r->sent].rc = ACTOR_ETIMEDOUT;
  }
  for (size_t i = r->sent; i < a->n; i++)
    a->calls[i].rc = ACTOR_ECONN;
  r->replies = r->confirms = r->sent;
}

/* A confirm (ack or nack, maybe `multiple`) settles the publishes it
 * covers; a nacked request will get no reply. */
static void many_confirm(many_run_t *r, const chan__cev_t *ev) {
  for (size_t i = 0; i < r->sent; i++) {
    if (r->confirmed[i] || !chan__client_covers(ev, r->first_seq + i))
      continue;
    r->confirmed[i] = 1;
    r->confirms--;
    if (ev->type == CHAN__EV_NACK && r->a->calls[i].rc == ACTOR_ETIMEDOUT) {
      r->a->calls[i].rc = ACTOR_ECHANNEL;
      r->replies--;
    }
  }
}

/* A reply (delivered to reply-to) or a return (no such queue) answers the
 * call its correlation id names; anything else is a late reply to an
 * earlier call. Leaves the assembler reset. */
static void many_message(many_run_t *r, chan__asm_t *m) {
  size_t i = many_index(chan__msg_asm_str(m, m->correlation_id), r->prefix, r->sent);
  chan_call_t *call = i < r->sent ? &r->a->calls[i] : NULL;
  if (call && call->rc == ACTOR_ETIMEDOUT) {
    if (m->kind == CHAN__KIND_RETURN) {
      call->rc = ACTOR_ENOTFOUND;
      r->replies--;
    } else if (m->kind == CHAN__KIND_DELIVER) {
      call->rc = 0;
      call->reply = m->body; /* handed over, not copied */
      call->reply_len = (size_t)m->got;
      m->body = NULL;
      r->replies--;
    }
  }
  chan__msg_asm_reset(m);
}

/* Waits for every reply and every confirm until the deadline: a return or
 * a confirm left on the connection would be taken by its next user for its
 * own. Returns what the calls still unanswered get: 0 (they keep
 * ACTOR_ETIMEDOUT) or a connection error. */
static int many_collect(chan__cconn_t *cc, many_run_t *r, int64_t deadline) {
  int fail = r->sent < r->a->n ? ACTOR_ECONN : 0;
  while (!cc->broken && (r->replies > 0 || r->confirms > 0)) {
    chan__cev_t ev;
    int rc = chan__client_next_event(cc, deadline, &ev);
    if (rc) {
      if (rc != ACTOR_ETIMEDOUT)
        fail = rc;
      break;
    }
    if (ev.type == CHAN__EV_ACK || ev.type == CHAN__EV_NACK)
      many_confirm(r, &ev);
    else
      many_message(r, &cc->asm_);
  }
  if (r->confirms > 0)
    cc->broken = 1; /* forget this connection's confirm state */
  return fail;
}

static int op_call_many(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  many_run_t r = {.a = arg};
  char ctag[256] = "";
  int64_t deadline = chan__client_now_ms() + r.a->timeout_ms;
  *retry = 1; /* until a request is out */
  r.confirmed = calloc(r.a->n, 1);
  if (r.confirmed == NULL)
    return ACTOR_ENOMEM;
  int rc = consume_reply_to(cc, ctag, sizeof(ctag));
  if (rc) {
    free(r.confirmed);
    return rc;
  }
  next_corr(cl, ".", r.prefix, sizeof(r.prefix));
  many_send(cc, &r);
  if (r.sent == 0) {
    free(r.confirmed);
    return ACTOR_ECONN; /* nothing went out: may be retried */
  }
  *retry = 0;
  int fail = many_collect(cc, &r, deadline);
  free(r.confirmed);
  for (size_t i = 0; fail && i < r.sent; i++)
    if (r.a->calls[i].rc == ACTOR_ETIMEDOUT)
      r.a->calls[i].rc = fail;
  cancel_reply_to(cc, ctag);
  return 0; /* the requests went out: each call says how it went */
}

int chan_client_call_many(chan_client_t *cl, chan_call_t *calls, size_t n, const void *body,
                          size_t len, int timeout_ms) {
  if (calls == NULL && n > 0)
    return ACTOR_EINVAL;
  for (size_t i = 0; i < n; i++) {
    calls[i].rc = ACTOR_EINVAL;
    calls[i].reply = NULL;
    calls[i].reply_len = 0;
  }
  if (cl == NULL || (body == NULL && len > 0) || timeout_ms <= 0)
    return ACTOR_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (chan__name_check(calls[i].queue))
      return ACTOR_EINVAL;
  if (n == 0)
    return 0;
  many_arg_t a = {calls, n, body ? body : "", len, timeout_ms};
  int rc = chan__client_run(cl, op_call_many, &a);
  for (size_t i = 0; rc != 0 && i < n; i++) {
    if (calls[i].rc == 0) {
      free(calls[i].reply);
      calls[i].reply = NULL;
      calls[i].reply_len = 0;
    }
    calls[i].rc = rc;
  }
  return rc;
}
