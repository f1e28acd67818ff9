/* Named channels on RabbitMQ (rabbitmq-c).
 *
 * Two faces over the same broker:
 *  - chan_conn_t: one AMQP connection driven by a libuv loop (uv_poll on
 *    the socket). Consumes with manual ack/nack and prefetch, publishes with
 *    publisher confirms (callback when the broker has the message), and
 *    reconnects by itself with back-off, re-declaring its queues and
 *    re-starting its consumers. Loop thread only.
 *  - chan_client_t: a pool of blocking connections for libuv's thread pool
 *    (API handlers, worker jobs): publish-and-wait-for-confirm, request/reply
 *    (reply-to + correlation id), queue length, purge, delete. Thread safe.
 *
 * Every queue is durable and every message persistent; a queue may be
 * declared to expire. Bodies are JSON text unless a message says otherwise
 * in its content type (binary mailbox messages).
 *
 * This is the transport only: it knows no queue names, message formats or
 * stores. The protocols spoken over it (queue names, spawner commands,
 * clientg requests, events, mailbox arguments) are the library chanproto,
 * headers under channels/proto/. rabbitmq-c's types stay in src/chan_int.h. */
#ifndef CHANNELS_CHAN_H
#define CHANNELS_CHAN_H

#include "actor/errors.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Most bytes in a queue name, NUL included (AMQP allows 255). The names
 * of the platform's queues are the protocol's (channels/proto/name.h). */
#define CHAN_NAME_MAX 256
#define CHAN_MAX_HEADERS 8

typedef struct {
  const char *key;
  const char *value;
} chan_header_t;

/* How a queue is declared. A queue's arguments are fixed when it is
 * created: the broker refuses a declare with other arguments
 * (PRECONDITION_FAILED), so every declarer of a queue passes the same. */
typedef struct {
  int64_t expires_ms; /* x-expires: deleted after this long unused; 0 = never */
  /* x-single-active-consumer: of the queue's consumers one at a time gets
   * messages; when it goes (its channel closes), the next one takes over
   * and its unacked messages go to that one first. */
  int single_active;
} chan_queue_opts_t;

/* Message properties for publishing; all fields optional. */
typedef struct {
  const char *content_type; /* default "application/json" */
  const char *reply_to;
  const char *correlation_id;
  int64_t expiration_ms; /* per-message TTL, 0 = none */
  chan_header_t headers[CHAN_MAX_HEADERS];
  int nheaders;
} chan_props_t;

/* A delivered message. Everything is valid only during the callback; copy
 * what you keep. `tag` identifies the delivery for ack/nack and stays valid
 * after the callback (it carries the connection generation, so an ack after
 * a reconnect is ignored: the broker has requeued that delivery already). */
typedef struct {
  uint64_t delivery_tag;
  uint64_t generation;
  unsigned consumer; /* which consumer of the connection it came to */
} chan_tag_t;

typedef struct {
  const char *queue;
  const void *body; /* followed by a NUL byte not counted in len */
  size_t len;
  const char *content_type; /* NULL when absent, like the next two */
  const char *reply_to;
  const char *correlation_id;
  chan_header_t headers[CHAN_MAX_HEADERS]; /* string (and integer) headers */
  int nheaders;
  int redelivered;
  chan_tag_t tag;
} chan_msg_t;

/* Returns the header's value or NULL (borrowed from msg). */
const char *chan_msg_header(const chan_msg_t *msg, const char *key);

/* Decodes a JSON body with hard limits (max bytes, max depth 64).
 * Any JSON value is accepted at the top level (worker control messages are
 * bare strings). max 0 means CHAN_JSON_MAX_DEFAULT. New reference in *out,
 * or ACTOR_ETOOBIG (longer than max, or nested deeper than
 * CHAN_JSON_MAX_DEPTH) / ACTOR_EPARSE (not one valid JSON text, NUL bytes
 * included); *out is NULL on error. */
#define CHAN_JSON_MAX_DEPTH 64
#define CHAN_JSON_MAX_DEFAULT (1024 * 1024)
ACTOR_MUST_CHECK int chan_json_decode(const void *body, size_t len, size_t max, json_t **out);

/* Reconnect back-off: attempt 0,1,2... -> 100ms doubling, capped at 5000ms,
 * with +-20% jitter from `rnd` in [0,1) applied to that base (so the result
 * lies in [80,120] for attempt 0 and in [4000,6000] once capped). */
unsigned chan_backoff_ms(unsigned attempt, double rnd);

/* The largest AMQP frame this process's connections made from now on ask
 * for (default 131072, RabbitMQ's). rabbitmq-c keeps an outbound buffer and
 * per-channel pool pages of this size for each connection: a process with
 * small messages and many siblings (idle workers) asks for less; a larger
 * body is split into more frames, nothing else changes. EINVAL outside
 * [CHAN_FRAME_MIN, 131072]. */
#define CHAN_FRAME_MIN 4096
ACTOR_MUST_CHECK int chan_frame_max_set(int bytes);

/* ---- loop-driven connection ---- */
typedef struct chan_conn_s chan_conn_t;
typedef void (*chan_msg_cb)(chan_conn_t *c, const chan_msg_t *msg, void *ud);
typedef void (*chan_done_cb)(chan_conn_t *c, int status, void *ud);
typedef void (*chan_close_cb)(chan_conn_t *c, void *ud);

/* uri: amqp://user:pass@host:port/vhost (amqps is not supported: EINVAL).
 * Connects in the background: the call returns at once (the first attempt
 * runs on the next loop iteration) and consumers start when the broker
 * answers. `name` is used in logs and as the AMQP connection name. */
ACTOR_MUST_CHECK
int chan_conn_new(uv_loop_t *loop, const char *uri, const char *name, chan_conn_t **out);
/* Stops consuming, closes, frees; cb (may be NULL) runs when done, from the
 * loop; c is invalid after it. Pending and outbox publish callbacks get
 * ACTOR_ECLOSED (inside this call, or on the next loop iteration when it is
 * made from one of this connection's callbacks). Unacked deliveries go back
 * to their queues. */
void chan_conn_close(chan_conn_t *c, chan_close_cb cb, void *ud);
int chan_conn_is_open(const chan_conn_t *c);

/* Declares a durable queue (re-declared after every reconnect). While the
 * connection is open the declare happens now: ACTOR_ECHANNEL when the broker
 * refuses it (the queue is then forgotten). A queue that already exists with
 * other arguments (e.g. an expiry) is used as it is (logged). */
ACTOR_MUST_CHECK int chan_declare(chan_conn_t *c, const char *queue);
/* Same, with x-expires: the broker deletes the queue after expires_ms
 * without consumers or use (results queues). expires_ms 0 = never. */
ACTOR_MUST_CHECK int chan_declare_expiring(chan_conn_t *c, const char *queue, int64_t expires_ms);
/* Same, with the given arguments (NULL: none); chan_consume then declares
 * the queue with them too. */
ACTOR_MUST_CHECK
int chan_declare_opts(chan_conn_t *c, const char *queue, const chan_queue_opts_t *o);
/* Consume `queue` (declared if needed; names starting "amq." are not
 * declared) with the given prefetch (0 = unlimited). cb runs on the loop for
 * each delivery; ack or nack it later with its tag. One consumer per queue
 * and connection: ACTOR_EEXIST for a second one. Consumers are re-started
 * after every reconnect; a consumer the broker cancels (its queue was
 * deleted) makes the connection reconnect, which re-declares the queue. */
ACTOR_MUST_CHECK
int chan_consume(chan_conn_t *c, const char *queue, uint16_t prefetch, chan_msg_cb cb, void *ud);
/* Stops the consumer of `queue` (no more deliveries; unacked ones stay). */
ACTOR_MUST_CHECK int chan_cancel(chan_conn_t *c, const char *queue);
/* ack/nack return ACTOR_ESTATE for a tag from an earlier connection (or
 * while disconnected): nothing is sent, the broker has already requeued
 * that delivery. Except when that connection ended because the broker
 * cancelled the delivery's consumer: its queue was deleted, and the
 * delivery with it (nothing requeues it, even into a queue of the same
 * name made since); then ACTOR_ENOTFOUND, and a caller that wanted the
 * message back publishes it again. ACTOR_ECLOSED after chan_conn_close. */
ACTOR_MUST_CHECK int chan_ack(chan_conn_t *c, chan_tag_t tag);
ACTOR_MUST_CHECK int chan_nack(chan_conn_t *c, chan_tag_t tag, int requeue);
/* Publishes persistently to the default exchange with routing key `queue`.
 * cb (may be NULL) gets 0 when the broker confirms, or an error: ACTOR_ECHANNEL
 * (nack), ACTOR_ENOTFOUND (no such queue: the message is published mandatory
 * and came back; direct replies to amq.rabbitmq.reply-to.* are not mandatory
 * and are dropped silently when the caller is gone), ACTOR_ECONN (connection
 * lost before the confirm; the message may or may not have arrived),
 * ACTOR_ECLOSED (chan_conn_close).
 * The body and props are copied. While disconnected, messages wait in an
 * outbox (up to CHAN_OUTBOX_MAX, then ACTOR_ECONN) and go out on reconnect.
 * The callback never runs inside chan_publish itself. */
#define CHAN_OUTBOX_MAX 10000
ACTOR_MUST_CHECK int chan_publish(chan_conn_t *c, const char *queue, const void *body, size_t len,
                                  const chan_props_t *props, chan_done_cb cb, void *ud);

/* ---- blocking client pool (thread safe) ---- */
typedef struct chan_client_s chan_client_t;

/* pool_size: most connections open at once (0 = 4); a caller waits for a
 * free one. Connects lazily: an unreachable broker shows on first use.
 * chan_client_free closes everything; no call may be running then. */
ACTOR_MUST_CHECK int chan_client_new(const char *uri, size_t pool_size, chan_client_t **out);
void chan_client_free(chan_client_t *cl);
/* Declares `queue` durable (once per connection) and publishes persistently;
 * returns 0 only after the broker confirmed. ACTOR_ECONN when the broker is
 * unreachable, ACTOR_ETIMEDOUT when no confirm came within timeout_ms,
 * ACTOR_ECHANNEL when the broker refused it. A failure other than a timeout
 * is retried once on a fresh connection. */
ACTOR_MUST_CHECK
int chan_client_publish(chan_client_t *cl, const char *queue, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms);
/* Same, declaring the queue (when this connection has not yet) with the
 * arguments qo (NULL: none); a queue that exists with other arguments
 * takes the message all the same. */
ACTOR_MUST_CHECK
int chan_client_publish_to(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo,
                           const void *body, size_t len, const chan_props_t *props,
                           int timeout_ms);
/* Same as chan_client_publish_to, for many threads at once: concurrent
 * callers' messages go out together on one connection and share the
 * broker's confirms (chan_group.c). Returns 0 only after the broker
 * confirmed this very message; a lost connection or a timeout fails every
 * message of the group not yet confirmed. */
ACTOR_MUST_CHECK
int chan_client_publish_group(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo,
                              const void *body, size_t len, const chan_props_t *props,
                              int timeout_ms);
/* Request/reply: publishes to `queue` (declared durable) with RabbitMQ's
 * direct reply-to (amq.rabbitmq.reply-to, private to the connection) and a
 * fresh correlation id, expiring after timeout_ms; waits for the matching
 * reply. The replier publishes to the request's reply_to with its
 * correlation_id. *reply is malloc'd and NUL-terminated (transferred);
 * ACTOR_ETIMEDOUT when no reply came in time. */
ACTOR_MUST_CHECK
int chan_client_call(chan_client_t *cl, const char *queue, const void *body, size_t len,
                     int timeout_ms, char **reply, size_t *reply_len);
/* One request of chan_client_call_many. */
typedef struct {
  const char *queue; /* in, borrowed */
  /* out: 0 (reply holds the answer), ACTOR_ETIMEDOUT (none in time),
   * ACTOR_ENOTFOUND (no such queue), ACTOR_ECHANNEL (the broker refused the
   * request), ACTOR_ECONN (connection lost) */
  int rc;
  char *reply; /* out: malloc'd, NUL-terminated (transferred); NULL unless rc is 0 */
  size_t reply_len;
} chan_call_t;
/* Request/reply to many queues in one round trip: publishes `body` to every
 * calls[i].queue on one connection (direct reply-to, a correlation id each,
 * expiring after timeout_ms), then collects the replies until all have come
 * or timeout_ms has passed -- n calls cost at most timeout_ms together.
 * Unlike chan_client_call the queues are not declared: a request to a queue
 * that does not exist comes back as ACTOR_ENOTFOUND instead of creating it.
 * Returns 0 when the requests went out (each rc says how its call went), or
 * an error that is then also every rc. */
ACTOR_MUST_CHECK
int chan_client_call_many(chan_client_t *cl, chan_call_t *calls, size_t n, const void *body,
                          size_t len, int timeout_ms);
/* Declares `queue` durable with x-expires (0 = never), like
 * chan_declare_expiring. */
ACTOR_MUST_CHECK int chan_client_declare(chan_client_t *cl, const char *queue, int64_t expires_ms);
/* Declares `queue` durable with the arguments qo (NULL: none): 0, or
 * ACTOR_EEXIST when the queue exists with other arguments (it is left as
 * it is). */
ACTOR_MUST_CHECK
int chan_client_declare_opts(chan_client_t *cl, const char *queue, const chan_queue_opts_t *qo);
/* Takes the next message off `queue` (basic.get, acked at once): *body is
 * malloc'd and NUL-terminated (transferred). ACTOR_ENOTFOUND when the queue
 * is empty or does not exist. */
ACTOR_MUST_CHECK
int chan_client_get(chan_client_t *cl, const char *queue, char **body, size_t *len);
/* Messages ready in the queue (0 for a queue that does not exist). */
ACTOR_MUST_CHECK int chan_client_queue_len(chan_client_t *cl, const char *queue, long *count);
/* Purge/delete of a queue that does not exist succeed. */
ACTOR_MUST_CHECK int chan_client_purge(chan_client_t *cl, const char *queue);
ACTOR_MUST_CHECK int chan_client_delete_queue(chan_client_t *cl, const char *queue);
/* Deletes `queue` only when no message is ready in it (AMQP if-empty; a
 * message a consumer holds unacked does not count, and its consumers are
 * cancelled): 0, or ACTOR_ESTATE when it holds messages. */
ACTOR_MUST_CHECK int chan_client_delete_queue_if_empty(chan_client_t *cl, const char *queue);
/* Moves the ready messages of `from` to `to` (declared with qo, NULL: no
 * arguments), one at a time and in order, each with its body and
 * properties: taken unacked, published, confirmed, then acked -- so a
 * message is never lost (a failure in between may leave it in both).
 * Stops when `from` is empty or missing, or after max messages (0: no
 * limit); *moved (may be NULL) counts what moved. */
ACTOR_MUST_CHECK int chan_client_move(chan_client_t *cl, const char *from, const char *to,
                                      const chan_queue_opts_t *qo, long max, long *moved);

#endif
