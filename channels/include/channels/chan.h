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
 * Every queue is durable and every message persistent, except reply and
 * results queues, which expire. Bodies are JSON text unless a message says
 * otherwise in its content type (binary mailbox messages). */
#ifndef CHANNELS_CHAN_H
#define CHANNELS_CHAN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CHAN_NAME_MAX 256
#define CHAN_MAX_HEADERS 8

/* Queue names (DESIGN.md "Channels"). Write into out (size CHAN_NAME_MAX). */
void chan_name_command(const char *queue, char *out);           /* command_channel_<queue> */
void chan_name_mailbox(const char *actor_dbid, char *out);      /* actor_msg_<db_id> */
void chan_name_worker(const char *worker_id, char *out);        /* worker_<wid> */
void chan_name_spawner_worker(const char *worker_id, char *out);/* spawner_worker_<wid> */
void chan_name_results(const char *actor_dbid, const char *eid, char *out); /* results_<db_id>_<eid> */
#define CHAN_CLIENTS "clients"
#define CHAN_EVENTS "events"

typedef struct {
  const char *key;
  const char *value;
} chan_header_t;

/* Message properties for publishing; all fields optional. */
typedef struct {
  const char *content_type;   /* default "application/json" */
  const char *reply_to;
  const char *correlation_id;
  int64_t expiration_ms;      /* per-message TTL, 0 = none */
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
} chan_tag_t;

typedef struct {
  const char *queue;
  const void *body;
  size_t len;
  const char *content_type;
  const char *reply_to;
  const char *correlation_id;
  chan_header_t headers[CHAN_MAX_HEADERS];
  int nheaders;
  int redelivered;
  chan_tag_t tag;
} chan_msg_t;

/* Returns the header's value or NULL (borrowed from msg). */
const char *chan_msg_header(const chan_msg_t *msg, const char *key);

/* Decodes a JSON body with hard limits (max bytes, max depth 64).
 * New reference in *out, or ACTOR_EPARSE / ACTOR_ETOOBIG. */
int chan_json_decode(const void *body, size_t len, size_t max, json_t **out);

/* Reconnect back-off: attempt 0,1,2... -> 100ms doubling, capped at 5000ms,
 * with +-20% jitter from `rnd` in [0,1). */
unsigned chan_backoff_ms(unsigned attempt, double rnd);

/* ---- loop-driven connection ---- */
typedef struct chan_conn_s chan_conn_t;
typedef void (*chan_msg_cb)(chan_conn_t *c, const chan_msg_t *msg, void *ud);
typedef void (*chan_done_cb)(chan_conn_t *c, int status, void *ud);
typedef void (*chan_close_cb)(chan_conn_t *c, void *ud);

/* uri: amqp://user:pass@host:port/vhost. Connects in the background: the
 * call returns at once and consumers start when the broker answers.
 * `name` is used in logs. */
int chan_conn_new(uv_loop_t *loop, const char *uri, const char *name, chan_conn_t **out);
/* Stops consuming, closes, frees; cb (may be NULL) runs when done. Pending
 * publish callbacks get ACTOR_ECLOSED. */
void chan_conn_close(chan_conn_t *c, chan_close_cb cb, void *ud);
int chan_conn_is_open(const chan_conn_t *c);

/* Declares a durable queue (re-declared after every reconnect). */
int chan_declare(chan_conn_t *c, const char *queue);
/* Consume `queue` (declared if needed) with the given prefetch. cb runs on
 * the loop for each delivery; ack or nack it later with its tag. */
int chan_consume(chan_conn_t *c, const char *queue, uint16_t prefetch, chan_msg_cb cb, void *ud);
/* Stops the consumer of `queue` (no more deliveries; unacked ones stay). */
int chan_cancel(chan_conn_t *c, const char *queue);
int chan_ack(chan_conn_t *c, chan_tag_t tag);
int chan_nack(chan_conn_t *c, chan_tag_t tag, int requeue);
/* Publishes persistently to the default exchange with routing key `queue`.
 * cb (may be NULL) gets 0 when the broker confirms, or an error (nack,
 * connection lost before the confirm). The body is copied. */
int chan_publish(chan_conn_t *c, const char *queue, const void *body, size_t len,
                 const chan_props_t *props, chan_done_cb cb, void *ud);

/* ---- blocking client pool (thread safe) ---- */
typedef struct chan_client_s chan_client_t;

int chan_client_new(const char *uri, size_t pool_size, chan_client_t **out);
void chan_client_free(chan_client_t *cl);
/* Declares `queue` durable (once per connection) and publishes persistently;
 * returns 0 only after the broker confirmed. ACTOR_ECONN when the broker is
 * unreachable, ACTOR_ETIMEDOUT when no confirm came within timeout_ms. */
int chan_client_publish(chan_client_t *cl, const char *queue, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms);
/* Request/reply: publishes to `queue` with a fresh exclusive reply queue and
 * correlation id; waits for the matching reply. *reply is malloc'd. */
int chan_client_call(chan_client_t *cl, const char *queue, const void *body, size_t len,
                     int timeout_ms, char **reply, size_t *reply_len);
/* Messages ready in the queue (0 for a queue that does not exist). */
int chan_client_queue_len(chan_client_t *cl, const char *queue, long *count);
int chan_client_purge(chan_client_t *cl, const char *queue);
int chan_client_delete_queue(chan_client_t *cl, const char *queue);

#endif
