/* The main channel of a chan_conn_t while it is connected: publishes going
 * out and the broker's answers to them (basic.ack, basic.nack,
 * basic.return), deliveries handed to their consumers, and the cancels and
 * closes that end the channel. chan_conn.c reads the socket and passes every
 * frame of CHAN__CH_MAIN to chan__frames_handle; it owns the connection's
 * life, this file only the traffic on it.
 *
 * Design note. Publishes are mandatory (except direct replies, see
 * chan__amqp_mandatory): an unroutable one comes back as basic.return just
 * before its ack. A return names only the routing key, so it is matched to
 * the newest publish with that key among those the next ack covers. Returns
 * no ack has claimed yet are kept, the newest MAX_RETURNS of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "chan_int.h"

#define MAX_RETURNS 64

/* ---- publishes ---- */

static size_t slen(const char *s) {
  return s ? strlen(s) + 1 : 0;
}

static char *scopy(char **p, const char *s) {
  if (s == NULL)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = memcpy(*p, s, n);
  *p += n;
  return d;
}

chan__pub_t *chan__frames_pub_new(const char *queue, const void *body, size_t len,
                                  const chan_props_t *props, chan_done_cb cb, void *ud) {
  size_t need = sizeof(chan__pub_t) + strlen(queue) + 1 + len + 1;
  int nh = 0;
  if (props) {
    need += slen(props->content_type) + slen(props->reply_to) + slen(props->correlation_id);
    nh = props->nheaders < 0                  ? 0
         : props->nheaders > CHAN_MAX_HEADERS ? CHAN_MAX_HEADERS
                                              : props->nheaders;
    for (int i = 0; i < nh; i++)
      need += slen(props->headers[i].key) + slen(props->headers[i].value);
  }
  chan__pub_t *p = malloc(need);
  if (p == NULL)
    return NULL;
  memset(p, 0, sizeof(*p));
  p->cb = cb;
  p->ud = ud;
  char *w = (char *)(p + 1);
  p->queue = scopy(&w, queue);
  if (len)
    memcpy(w, body, len);
  w[len] = '\0';
  p->body = w;
  p->len = len;
  w += len + 1;
  if (props) {
    p->props.content_type = scopy(&w, props->content_type);
    p->props.reply_to = scopy(&w, props->reply_to);
    p->props.correlation_id = scopy(&w, props->correlation_id);
    p->props.expiration_ms = props->expiration_ms;
    for (int i = 0; i < nh; i++) {
      p->props.headers[i].key = scopy(&w, props->headers[i].key);
      p->props.headers[i].value = scopy(&w, props->headers[i].value);
    }
    p->props.nheaders = nh;
  }
  return p;
}

void chan__frames_append(chan__pub_t ***tail, chan__pub_t *p) {
  p->next = NULL;
  **tail = p;
  *tail = &p->next;
}

void chan__frames_send(chan_conn_t *c, chan__pub_t *p) {
  chan__props_t pr;
  chan__msg_props(&p->props, &pr);
  p->seq = ++c->next_seq;
  chan__frames_append(&c->pending_tail, p);
  amqp_bytes_t b = {p->len, (void *)p->body};
  int r = amqp_basic_publish(c->st, CHAN__CH_MAIN, amqp_empty_bytes, amqp_cstring_bytes(p->queue),
                             chan__amqp_mandatory(p->queue), 0, &pr.p, b);
  if (r != AMQP_STATUS_OK)
    chan__conn_fail(c, "publish to %s: %s", p->queue, amqp_error_string2(r));
}

static void finish_pubs(chan_conn_t *c, chan__pub_t *list, int status) {
  while (list) {
    chan__pub_t *p = list;
    list = p->next;
    if (p->cb) {
      int s = status ? status : p->returned ? ACTOR_ENOTFOUND : 0;
      c->busy++;
      p->cb(c, s, p->ud);
      c->busy--;
    }
    free(p);
  }
}

void chan__frames_finish(chan_conn_t *c, chan__pub_t **head, chan__pub_t ***tail, int status) {
  chan__pub_t *l = *head;
  *head = NULL;
  *tail = head;
  finish_pubs(c, l, status);
}

/* ---- confirms and returns ---- */

void chan__frames_clear_returns(chan_conn_t *c) {
  while (c->returns) {
    chan__return_t *r = c->returns;
    c->returns = r->next;
    free(r);
  }
  c->nreturns = 0;
}

/* basic.ack / basic.nack for `tag` (and everything before it if multiple). */
static void on_confirm(chan_conn_t *c, uint64_t tag, int multiple, int status) {
  chan__pub_t *done = NULL, **dtail = &done;
  chan__pub_t **pp = &c->pending;
  while (*pp) {
    chan__pub_t *p = *pp;
    if (p->seq == tag || (multiple && p->seq < tag)) {
      *pp = p->next;
      chan__frames_append(&dtail, p);
    } else {
      pp = &p->next;
    }
  }
  c->pending_tail = &c->pending;
  while (*c->pending_tail)
    c->pending_tail = &(*c->pending_tail)->next;
  /* Each earlier return belongs to the newest covered publish with its key. */
  for (chan__return_t **rp = &c->returns; *rp;) {
    chan__pub_t *match = NULL;
    for (chan__pub_t *p = done; p; p = p->next)
      if (!p->returned && strcmp(p->queue, (*rp)->rkey) == 0)
        match = p;
    if (match) {
      match->returned = 1;
      chan__return_t *r = *rp;
      *rp = r->next;
      free(r);
      c->nreturns--;
    } else {
      rp = &(*rp)->next;
    }
  }
  finish_pubs(c, done, status);
}

static void on_return(chan_conn_t *c, const char *rkey, int code) {
  LOG_DEBUG(CHAN__LOG, "%s: message to %s returned (%d)", c->name, rkey ? rkey : "?", code);
  if (c->nreturns >= MAX_RETURNS) {
    chan__return_t *old = c->returns;
    c->returns = old->next;
    free(old);
    c->nreturns--;
  }
  chan__return_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  snprintf(r->rkey, sizeof(r->rkey), "%s", rkey ? rkey : "");
  chan__return_t **pp = &c->returns;
  while (*pp)
    pp = &(*pp)->next;
  *pp = r;
  c->nreturns++;
}

/* ---- deliveries ---- */

static chan__consumer_t *find_consumer_tag(chan_conn_t *c, const char *tag) {
  for (chan__consumer_t *k = c->consumers; k && tag; k = k->next)
    if (strcmp(k->tag, tag) == 0)
      return k;
  return NULL;
}

/* A message the assembler completed: a return, or a delivery for one of our
 * consumers. */
static void dispatch(chan_conn_t *c) {
  chan__asm_t *a = &c->asm_;
  if (a->kind == CHAN__KIND_RETURN) {
    on_return(c, chan__msg_asm_str(a, a->rkey), a->reply_code);
    chan__msg_asm_reset(a);
    return;
  }
  if (a->kind != CHAN__KIND_DELIVER) {
    chan__msg_asm_reset(a);
    return;
  }
  chan__consumer_t *k = find_consumer_tag(c, chan__msg_asm_str(a, a->ctag));
  if (k == NULL || !k->active) {
    /* In flight while the consumer was being cancelled: give it back. */
    int r = amqp_basic_nack(c->st, CHAN__CH_MAIN, a->delivery_tag, 0, 1);
    chan__msg_asm_reset(a);
    if (r != AMQP_STATUS_OK)
      chan__conn_fail(c, "nack: %s", amqp_error_string2(r));
    return;
  }
  char queue[CHAN_NAME_MAX];
  memcpy(queue, k->queue, sizeof(queue));
  chan_msg_t m;
  chan__msg_asm_view(a, &m);
  m.queue = queue;
  m.tag.generation = c->generation;
  m.tag.consumer = k->serial;
  c->busy++;
  k->cb(c, &m, k->ud); /* may cancel k */
  c->busy--;
  chan__msg_asm_reset(a);
}

void chan__frames_handle(chan_conn_t *c, const amqp_frame_t *f) {
  char why[CHAN__ERR_MAX];
  int r = chan__msg_asm_feed(&c->asm_, f);
  if (r < 0) {
    chan__conn_fail(c, "bad delivery: %s", actor_strerror(r));
    return;
  }
  if (r == CHAN__ASM_COMPLETE) {
    dispatch(c);
    return;
  }
  if (r == CHAN__ASM_MORE || f->frame_type != AMQP_FRAME_METHOD)
    return;
  const amqp_method_t *m = &f->payload.method;
  switch (m->id) {
  case AMQP_BASIC_ACK_METHOD: {
    const amqp_basic_ack_t *a = m->decoded;
    on_confirm(c, a->delivery_tag, a->multiple, 0);
    break;
  }
  case AMQP_BASIC_NACK_METHOD: {
    const amqp_basic_nack_t *n = m->decoded;
    on_confirm(c, n->delivery_tag, n->multiple, ACTOR_ECHANNEL);
    break;
  }
  case AMQP_BASIC_CANCEL_METHOD: {
    const amqp_basic_cancel_t *x = m->decoded;
    char ctag[sizeof(((chan__consumer_t *)0)->tag)];
    snprintf(ctag, sizeof(ctag), "%.*s", (int)x->consumer_tag.len,
             (const char *)x->consumer_tag.bytes);
    chan__consumer_t *k = find_consumer_tag(c, ctag);
    if (k)
      chan__conn_dropped(c, k);
    chan__conn_fail(c, "the broker cancelled consumer %.*s (queue deleted?)",
                    (int)x->consumer_tag.len, (const char *)x->consumer_tag.bytes);
    break;
  }
  case AMQP_CHANNEL_CLOSE_METHOD:
    chan__amqp_close_reason(m, NULL, why, sizeof(why));
    chan__amqp_close_ok(c->st, CHAN__CH_MAIN, 0);
    chan__conn_fail(c, "channel closed by the broker: %s", why);
    break;
  default: break; /* late RPC replies and the like */
  }
}
