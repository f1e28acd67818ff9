/* An actor's mailbox (actor_msg_<db_id>) and the arguments it is declared
 * with. A stateful actor's mailbox is a single-active-consumer queue: it
 * may have several workers (POST /actors/{id}/workers), but the broker
 * hands messages to one of them at a time, and to the next when that one
 * goes -- so a stateful actor never runs two executions at once. A
 * stateless actor's mailbox has no arguments.
 *
 * Design note. Queue arguments are fixed when the queue is created, and a
 * declare with other arguments is refused, so everyone who declares a
 * mailbox passes what api_mailbox_opts() says for its actor: the api when
 * it registers or updates an actor and when it publishes, and the worker
 * when it consumes (it reads the actor). Statefulness only ever goes one
 * way (a stateful actor cannot become stateless), so a mailbox made
 * single-active-consumer never has to change back.
 *
 * The other way needs care: the mailbox of an actor registered before
 * mailboxes had the argument, or of a stateless actor updated to stateful,
 * exists without it. api_mailbox_prepare() re-makes it, keeping its
 * messages: under a per-actor Redis lock, it moves the ready messages to a
 * parking queue (mailbox_upgrade_<db_id>), deletes the mailbox only if it
 * is empty (AMQP if-empty: a message that arrived meanwhile makes it try
 * again), declares it with the argument and moves the parked messages
 * back. The broker drops a message a worker holds unacked at that moment
 * with the old queue, but the worker still has it: it finishes it (its ack
 * then goes nowhere) or, when it has to give it back, publishes it again
 * (the worker's exec_delivery.c); the next execution waits for it. Consumers of
 * the old queue are cancelled (channels ask the broker never to move them
 * onto the new queue silently, chan_conn.c) and consume the new one when
 * they reconnect; a publisher
 * racing the swap gets its message returned and publishes again, declaring
 * the new queue. Messages published during the swap may overtake parked
 * ones. A swap interrupted by a crash leaves messages parked: the next
 * prepare for that actor (registration, update, POST .../workers) moves
 * them back first. It runs before a stateful actor may get a second
 * worker: at an update and at POST .../workers. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"
#include "channels/proto/mailbox.h"

#define UPGRADE_LOCK_MS 60000
#define UPGRADE_WAIT_MS 15000
#define UPGRADE_POLL_MS 100
#define UPGRADE_ATTEMPTS 5

void api_mailbox_opts(const json_t *actor, chan_queue_opts_t *out) {
  chan_mailbox_opts(!actor_json_bool(actor, "stateless", true), out);
}

int api_mailbox_publish(api_ctx_t *c, const json_t *actor, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms) {
  char q[CHAN_NAME_MAX];
  chan_queue_opts_t qo;
  chan_name_mailbox(actor_json_str(actor, "db_id", ""), q);
  api_mailbox_opts(actor, &qo);
  /* Concurrent sends share one write and one confirm (chan_group.c). */
  return api_publish_grouped(c, "mailbox", q, &qo, body, len, props, timeout_ms);
}

/* Moves every ready message of `from` to `to` (declared with qo), then
 * deletes `from` if nothing came in meanwhile (else ACTOR_ESTATE). */
static int empty_into(api_ctx_t *c, const char *from, const char *to, const chan_queue_opts_t *qo,
                      long *moved) {
  int rc = chan_client_move(c->chan, from, to, qo, 0, moved);
  return rc != 0 ? rc : chan_client_delete_queue_if_empty(c->chan, from);
}

/* Moves the parked messages of an upgrade back into the mailbox. */
static int unpark(api_ctx_t *c, const char *db_id, const char *mailbox, const char *parking,
                  const chan_queue_opts_t *qo) {
  long moved = 0;
  int rc = empty_into(c, parking, mailbox, qo, &moved);
  if (moved > 0)
    LOG_INFO("api", "actor %s: %ld parked message(s) back in the mailbox", db_id, moved);
  return rc;
}

/* One swap of a mailbox without the argument for one with it; 0, or
 * ACTOR_EEXIST when it still is without (try again). */
static int swap(api_ctx_t *c, const char *db_id, const char *mailbox, const char *parking,
                const chan_queue_opts_t *qo) {
  long moved = 0;
  int rc = empty_into(c, mailbox, parking, NULL, &moved);
  if (rc == ACTOR_ESTATE)
    return ACTOR_EEXIST; /* a message came in meanwhile: park it too */
  if (rc == 0)
    rc = chan_client_declare_opts(c->chan, mailbox, qo);
  if (rc == 0)
    LOG_INFO("api", "actor %s: mailbox re-made single-active-consumer (%ld message(s) parked)",
             db_id, moved);
  return rc;
}

static int lock_take(api_ctx_t *c, const char *key, const char *token) {
  int64_t deadline = actor_time_mono_ms() + UPGRADE_WAIT_MS;
  for (;;) {
    bool mine = false;
    int rc = store_lease_take(c->redis, key, token, UPGRADE_LOCK_MS, &mine);
    if (rc != 0)
      return rc;
    if (mine)
      return 0;
    if (actor_time_mono_ms() >= deadline)
      return ACTOR_ETIMEDOUT;
    usleep(UPGRADE_POLL_MS * 1000);
  }
}

static void lock_release(api_ctx_t *c, const char *key, const char *token) {
  if (store_lease_end(c->redis, key, token, 0) != 0)
    LOG_DEBUG("api", "mailbox lock %s: could not release it; it expires by itself", key);
}

int api_mailbox_prepare(api_ctx_t *c, const json_t *actor) {
  const char *db_id = actor_json_str(actor, "db_id", "");
  char mailbox[CHAN_NAME_MAX], parking[CHAN_NAME_MAX];
  chan_queue_opts_t qo;
  chan_name_mailbox(db_id, mailbox);
  chan_name_mailbox_parking(db_id, parking);
  api_mailbox_opts(actor, &qo);
  int rc = chan_client_declare_opts(c->chan, mailbox, &qo);
  if (!qo.single_active) /* nothing to keep in one piece */
    return rc == ACTOR_EEXIST ? 0 : rc;
  long parked = 0;
  if (rc == 0 && (rc = chan_client_queue_len(c->chan, parking, &parked)) == 0 && parked == 0)
    return 0; /* the common case: two round trips */
  if (rc != 0 && rc != ACTOR_EEXIST)
    goto done;

  static atomic_uint serial;
  char key[MODEL_KEY_MAX], token[96];
  snprintf(key, sizeof(key), "abaco:mailbox_upgrade:%s", db_id);
  snprintf(token, sizeof(token), "%d:%lld:%u", (int)getpid(), (long long)actor_time_now_ms(),
           atomic_fetch_add(&serial, 1));
  if ((rc = lock_take(c, key, token)) != 0)
    goto done;
  /* Under the lock: whoever held it may have done the work already. */
  rc = chan_client_declare_opts(c->chan, mailbox, &qo);
  for (int i = 0; rc == ACTOR_EEXIST && i < UPGRADE_ATTEMPTS; i++)
    rc = swap(c, db_id, mailbox, parking, &qo);
  if (rc == 0)
    rc = unpark(c, db_id, mailbox, parking, &qo);
  lock_release(c, key, token);

done:
  if (rc != 0)
    LOG_ERROR("api", "actor %s: could not make its mailbox single-active-consumer: %s", db_id,
              rc == ACTOR_EEXIST ? "it kept being re-made without the argument"
                                 : actor_strerror(rc));
  return rc;
}

int api_mailbox_delete(api_ctx_t *c, const char *db_id) {
  char q[CHAN_NAME_MAX];
  chan_name_mailbox_parking(db_id, q);
  int rc = chan_client_delete_queue(c->chan, q);
  chan_name_mailbox(db_id, q);
  int mrc = chan_client_delete_queue(c->chan, q);
  return mrc != 0 ? mrc : rc;
}
