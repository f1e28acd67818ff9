/* chan_client_move: passing the ready messages of one queue on to another
 * over a pooled connection -- what it takes to give a queue new arguments
 * (they are fixed at declare time) without losing what waits in it.
 *
 * Each message is taken with basic.get on the admin channel without
 * acking, published to the target with its own body and properties
 * (mandatory, confirmed), and only then acked. Anything failing in between
 * breaks the connection, and the broker puts the unacked message back
 * where it was: a message may end up in both queues, never in neither.
 * The target is declared before the first get, since a refused declare
 * closes the admin channel and with it the unacked delivery. */
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"

#define MOVE_CONFIRM_MS 5000

typedef struct {
  const char *from, *to;
  const chan_queue_opts_t *qo;
  long max, moved;
} move_arg_t;

/* Moves one message: 0 (moved), ACTOR_ENOTFOUND (from is empty or
 * missing) or an error. */
static int move_one(chan__cconn_t *cc, move_arg_t *a, int *retry) {
  amqp_rpc_reply_t r = amqp_basic_get(cc->st, CHAN__CH_ADMIN, amqp_cstring_bytes(a->from), 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL)
    return chan__client_admin_done(cc, ACTOR_ENOTFOUND, retry);
  if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) {
    amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_ADMIN);
    return ACTOR_ENOTFOUND; /* get-empty */
  }
  uint64_t tag = ((const amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
  amqp_message_t msg;
  r = amqp_read_message(cc->st, CHAN__CH_ADMIN, &msg, 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    cc->broken = 1;
    return ACTOR_ECONN;
  }
  uint64_t seq;
  int rc = chan__client_send_raw(cc, a->to, msg.body, &msg.properties, &seq);
  if (rc == 0)
    rc = chan__client_await_confirm(cc, a->to, seq, chan__client_now_ms() + MOVE_CONFIRM_MS);
  amqp_destroy_message(&msg);
  if (rc == 0 && amqp_basic_ack(cc->st, CHAN__CH_ADMIN, tag, 0) != AMQP_STATUS_OK)
    rc = ACTOR_ECONN;
  amqp_maybe_release_buffers_on_channel(cc->st, CHAN__CH_ADMIN);
  if (rc != 0)
    cc->broken = 1; /* gives the message back to `from` */
  return rc == ACTOR_ETIMEDOUT || rc == ACTOR_ENOTFOUND ? ACTOR_ECONN : rc;
}

static int op_move(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry) {
  (void)cl;
  move_arg_t *a = arg;
  /* An unacked message goes back to `from` when the connection breaks:
   * running the move again is always safe. */
  *retry = 1;
  int rc = chan__client_admin_ready(cc);
  if (rc == 0)
    rc = chan__client_ensure_declared(cc, a->to, a->qo);
  while (rc == 0 && (a->max == 0 || a->moved < a->max)) {
    rc = move_one(cc, a, retry);
    if (rc == 0)
      a->moved++;
  }
  *retry = rc == ACTOR_ECONN;
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

int chan_client_move(chan_client_t *cl, const char *from, const char *to,
                     const chan_queue_opts_t *qo, long max, long *moved) {
  move_arg_t a = {from, to, qo, max, 0};
  if (moved)
    *moved = 0;
  if (cl == NULL || chan__name_check(from) || chan__name_check(to) || strcmp(from, to) == 0 ||
      max < 0)
    return ACTOR_EINVAL;
  int rc = chan__client_run(cl, op_move, &a);
  if (moved)
    *moved = a.moved;
  return rc;
}
