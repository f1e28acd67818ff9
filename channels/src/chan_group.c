/* Group publishing (chan_client_publish_group): concurrent publishers
 * share one connection, one write burst and the broker's confirms.
 *
 * Design note: like store_batch.c's group commit. A caller queues a slot
 * under the client's group mutex; a caller that finds no leader becomes
 * the leader, takes up to GROUP_MAX queued slots, drops the lock and
 * publishes them all on one pooled connection (declaring each queue that
 * connection has not declared yet), then reads the broker's acks and nacks
 * until every slot's sequence number is covered (one ack with `multiple`
 * usually answers the whole group). Slots queued meanwhile form the next
 * group. Each waiter sleeps on its slot's own condition variable: the
 * leader wakes the owners of the slots it published and the owner of the
 * first slot queued meanwhile (the next leader), nobody else. Every slot
 * gets its own outcome, and nothing is answered 0 before
 * the broker confirmed that very message:
 *   - a nack fails exactly the slots it covers (ACTOR_ECHANNEL);
 *   - a basic.return (mandatory: the queue vanished after we declared it)
 *     comes before the ack of its message; it is matched to the slot with
 *     the same queue, body and headers that is not yet returned. Returned
 *     slots are published once more after a fresh declare (as
 *     chan_client_publish does), then fail with ACTOR_ECHANNEL;
 *   - a lost connection fails every slot not yet confirmed, and the group
 *     is retried once on a fresh connection as chan__client_run does for a
 *     single publish; a timeout fails every unconfirmed slot without a
 *     retry (the message may still arrive: never sent twice). */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"

#define GROUP_MAX 256

struct chan__gslot_s {
  chan__send_t p;
  uint64_t seq;
  int sent, returned, fin, rc;
  bool done;
  pthread_cond_t cv; /* its owner waits here (for its outcome or its turn to lead) */
  struct chan__gslot_s *next;
};

typedef struct {
  chan__gslot_t **slots;
  size_t n;
  int64_t deadline;
} group_arg_t;

/* The slot a basic.return is about: same queue, body and headers, sent,
 * not yet confirmed nor returned. NULL when none matches. */
static chan__gslot_t *returned_slot(group_arg_t *a, const chan__asm_t *as) {
  chan_msg_t m;
  chan__msg_asm_view(as, &m);
  for (size_t i = 0; i < a->n; i++) {
    chan__gslot_t *s = a->slots[i];
    if (!s->sent || s->fin || s->returned || m.queue == NULL ||
        strcmp(m.queue, s->p.queue) != 0 || m.len != s->p.len ||
        (s->p.len && memcmp(m.body, s->p.body, s->p.len) != 0))
      continue;
    int same = 1;
    for (int h = 0; same && s->p.props && h < s->p.props->nheaders; h++) {
      const char *v = chan_msg_header(&m, s->p.props->headers[h].key);
      same = v && s->p.props->headers[h].value && strcmp(v, s->p.props->headers[h].value) == 0;
    }
    if (same)
      return s;
  }
  return NULL;
}

static int op_group(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  (void)cl;
  group_arg_t *a = arg;
  *retry = 1;
  size_t waiting = 0;
  for (size_t i = 0; i < a->n; i++) {
    chan__gslot_t *s = a->slots[i];
    if (s->fin)
      continue;
    s->sent = s->returned = 0;
    int rc = chan__client_ensure_declared(cc, s->p.queue, s->p.qo);
    if (rc == ACTOR_ECONN)
      return rc;
    if (rc != 0) { /* refused for this queue only */
      s->fin = 1;
      s->rc = rc;
      continue;
    }
    rc = chan__client_send_publish(cc, s->p.queue, s->p.body, s->p.len, s->p.props, &s->seq);
    if (rc != 0)
      return rc;
    s->sent = 1;
    waiting++;
  }
  while (waiting > 0) {
    chan__cev_t ev;
    int rc = chan__client_next_event(cc, a->deadline, &ev);
    if (rc == ACTOR_ETIMEDOUT) {
      cc->broken = 1; /* forget this connection's confirm state */
      *retry = 0;     /* they may still arrive: do not send them twice */
    }
    if (rc != 0)
      return rc;
    if (ev.type == CHAN__EV_MSG) {
      if (cc->asm_.kind == CHAN__KIND_RETURN) {
        chan__gslot_t *s = returned_slot(a, &cc->asm_);
        if (s)
          s->returned = 1;
      }
      chan__msg_asm_reset(&cc->asm_);
      continue;
    }
    for (size_t i = 0; i < a->n; i++) {
      chan__gslot_t *s = a->slots[i];
      if (!s->sent || s->fin || !chan__client_covers(&ev, s->seq))
        continue;
      s->fin = 1;
      waiting--;
      if (ev.type == CHAN__EV_NACK) {
        s->rc = ACTOR_ECHANNEL;
      } else if (s->returned) {
        chan__client_cache_forget(cc, s->p.queue);
        s->rc = ACTOR_ENOTFOUND;
      } else {
        s->rc = 0;
      }
    }
  }
  return 0;
}

/* Publishes a group; every slot leaves with fin set and its rc. */
static void publish_group(chan_client_t *cl, chan__gslot_t **slots, size_t n) {
  int timeout = slots[0]->p.timeout_ms;
  for (size_t i = 1; i < n; i++)
    if (slots[i]->p.timeout_ms < timeout)
      timeout = slots[i]->p.timeout_ms;
  group_arg_t a = {slots, n, chan__client_now_ms() + timeout};
  for (int round = 0; round < 2; round++) {
    int rc = chan__client_run(cl, op_group, &a);
    int again = 0;
    for (size_t i = 0; i < n; i++) {
      chan__gslot_t *s = slots[i];
      if (!s->fin) { /* not confirmed: the group's failure is its own */
        s->fin = 1;
        s->rc = rc != 0 ? rc : ACTOR_ECONN;
      }
      if (round == 0 && s->rc == ACTOR_ENOTFOUND) { /* returned: once more, re-declared */
        s->fin = 0;
        again = 1;
      }
    }
    if (!again)
      break;
  }
  for (size_t i = 0; i < n; i++)
    if (slots[i]->rc == ACTOR_ENOTFOUND)
      slots[i]->rc = ACTOR_ECHANNEL;
}

int chan__group_init(chan_client_t *cl) {
  return pthread_mutex_init(&cl->gmu, NULL) != 0 ? ACTOR_ENOMEM : 0;
}

void chan__group_free(chan_client_t *cl) { pthread_mutex_destroy(&cl->gmu); }

int chan_client_publish_group(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo,
                              const void *body, size_t len, const chan_props_t *props,
                              int timeout_ms) {
  chan__gslot_t slot = {.next = NULL};
  if (chan__send_init(&slot.p, cl, queue, qo, body, len, props, timeout_ms))
    return ACTOR_EINVAL;
  if (pthread_cond_init(&slot.cv, NULL) != 0)
    return ACTOR_ENOMEM;
  pthread_mutex_lock(&cl->gmu);
  if (cl->gtail)
    cl->gtail->next = &slot;
  else
    cl->ghead = &slot;
  cl->gtail = &slot;
  while (!slot.done) {
    if (cl->gleader) {
      pthread_cond_wait(&slot.cv, &cl->gmu);
      continue;
    }
    cl->gleader = 1;
    chan__gslot_t *slots[GROUP_MAX];
    size_t n = 0;
    while (cl->ghead && n < GROUP_MAX) {
      slots[n++] = cl->ghead;
      cl->ghead = cl->ghead->next;
    }
    if (cl->ghead == NULL)
      cl->gtail = NULL;
    pthread_mutex_unlock(&cl->gmu);
    publish_group(cl, slots, n);
    pthread_mutex_lock(&cl->gmu);
    /* Each published slot's owner is woken once, and the first slot queued
     * meanwhile leads the next group: no waiter wakes only to sleep again. */
    for (size_t i = 0; i < n; i++) {
      slots[i]->done = true;
      pthread_cond_signal(&slots[i]->cv);
    }
    cl->gleader = 0;
    if (cl->ghead)
      pthread_cond_signal(&cl->ghead->cv);
  }
  pthread_mutex_unlock(&cl->gmu);
  pthread_cond_destroy(&slot.cv);
  return slot.rc;
}
