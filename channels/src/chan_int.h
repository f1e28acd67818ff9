/* Private to channels: what the loop-driven connection (chan_conn.c and
 * chan_frames.c) and the blocking pool (chan_client.c) share — URI parsing,
 * opening a connection with its two channels, turning rabbitmq-c replies
 * into ACTOR_* codes, declares that survive a refusal, publish properties,
 * and the assembler that turns deliver/header/body frames into one
 * chan_msg_t — and the state the two files of the loop-driven connection,
 * and the two of the blocking pool (chan_client.c, chan_rpc.c), share.
 *
 * Every connection has two channels. CHAN__CH_MAIN is in confirm mode and
 * carries publishes and consumers; CHAN__CH_ADMIN carries declares, passive
 * declares, purges and deletes, whose refusals close the channel they run
 * on: only the admin channel is then re-opened, consumers and pending
 * confirms on the main channel are not disturbed. */
#ifndef CHANNELS_CHAN_INT_H
#define CHANNELS_CHAN_INT_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "channels/chan.h"

#define CHAN__LOG "chan"
#define CHAN__CH_MAIN 1
#define CHAN__CH_ADMIN 2
/* The frame size asked of the broker (chan_frame_max_set; RabbitMQ's default). */
#define CHAN__FRAME_MAX 131072
extern _Atomic int chan__frame_max; /* set by chan_frame_max_set, read at each connect */
/* Above RabbitMQ's own max_message_size (128 MiB by default). */
#define CHAN__BODY_MAX ((uint64_t)512 * 1024 * 1024)
#define CHAN__ERR_MAX 256

/* ---- chan_amqp.c ---- */

typedef struct {
  char *buf; /* amqp_parse_url() points info's strings into this copy */
  struct amqp_connection_info info;
} chan__uri_t;

/* ACTOR_EINVAL for a malformed or amqps:// URI. */
int chan__amqp_uri_parse(const char *uri, chan__uri_t *out);
void chan__amqp_uri_free(chan__uri_t *u);

/* Connects (socket and handshake bounded by timeout_ms, which also becomes
 * the RPC timeout), logs in advertising `name` as connection_name, opens
 * CHAN__CH_MAIN in confirm mode and CHAN__CH_ADMIN. heartbeat_s 0 = none.
 * On error *out is NULL, err says why and the result is ACTOR_ECONN (or
 * ACTOR_ENOMEM). */
int chan__amqp_open(const chan__uri_t *u, const char *name, int heartbeat_s, int timeout_ms,
                    amqp_connection_state_t *out, char *err, size_t errlen);

/* Classifies an RPC result on channel ch. 0 when normal. A channel.close
 * from the broker is answered with close-ok and gives ACTOR_ECHANNEL with
 * the AMQP reply code in *code (the caller re-opens the channel); a
 * connection.close, a socket error or a lost connection give ACTOR_ECONN,
 * an RPC timeout ACTOR_ETIMEDOUT (the connection is then unusable). */
int chan__amqp_check(amqp_connection_state_t st, amqp_channel_t ch, amqp_rpc_reply_t r, int *code,
                     char *err, size_t errlen);

/* Re-opens a channel the broker closed. 0 or ACTOR_ECONN/ETIMEDOUT. */
int chan__amqp_reopen(amqp_connection_state_t st, amqp_channel_t ch, char *err, size_t errlen);

/* Declares a durable queue on CHAN__CH_ADMIN with the arguments o (NULL:
 * none), or with passive only checks that it exists; *count (may be NULL)
 * gets its ready messages. Returns 0; ACTOR_EEXIST when it exists with
 * other arguments; ACTOR_ENOTFOUND (passive, missing); ACTOR_ECHANNEL for
 * another refusal — the admin channel is open again after all of these —
 * or ACTOR_ECONN/ETIMEDOUT when the connection is unusable. */
int chan__amqp_declare(amqp_connection_state_t st, const char *queue, int passive,
                       const chan_queue_opts_t *o, uint32_t *count, char *err, size_t errlen);

/* Whether a publish to `queue` is sent mandatory. Not for direct replies
 * (amq.rabbitmq.reply-to.*): they bypass queues, and RabbitMQ returns them
 * as unroutable even when the caller got them. */
int chan__amqp_mandatory(const char *queue);

/* Sends channel.close-ok / connection.close-ok for a close the broker sent
 * outside an RPC. */
void chan__amqp_close_ok(amqp_connection_state_t st, amqp_channel_t ch, int connection);

/* Formats the reply text of a connection.close/channel.close method. */
void chan__amqp_close_reason(const amqp_method_t *m, int *code, char *err, size_t errlen);

/* ---- chan_util.c ---- */

/* ACTOR_EINVAL unless `queue` can name a queue: not NULL, not empty,
 * shorter than CHAN_NAME_MAX. */
int chan__name_check(const char *queue);

/* ---- chan_msg.c ---- */

/* rabbitmq-c properties for a publish: persistent, content type defaulting
 * to JSON, headers as long strings. Points into `in` and into itself: keep
 * both alive until the publish call returns. */
typedef struct {
  amqp_basic_properties_t p;
  amqp_table_entry_t entries[CHAN_MAX_HEADERS];
  char expiration[24];
} chan__props_t;

void chan__msg_props(const chan_props_t *in, chan__props_t *out);

/* Assembles the content that follows basic.deliver, basic.get-ok or
 * basic.return from a stream of frames of one channel. */
typedef enum { CHAN__ASM_IDLE, CHAN__ASM_HEADER, CHAN__ASM_BODY, CHAN__ASM_DONE } chan__asm_stage_t;
typedef enum { CHAN__KIND_DELIVER, CHAN__KIND_GET, CHAN__KIND_RETURN } chan__asm_kind_t;

typedef struct {
  chan__asm_stage_t stage;
  chan__asm_kind_t kind;
  uint64_t delivery_tag;
  int redelivered;
  int reply_code; /* basic.return */
  uint64_t body_size, got;
  char *body;
  /* Every string (consumer tag, routing key, properties, headers) lives in
   * one growing arena, referenced by offset (SIZE_MAX = absent) because the
   * arena may move while it fills. */
  char *strs;
  size_t slen, scap;
  size_t ctag, rkey, content_type, reply_to, correlation_id;
  size_t hkey[CHAN_MAX_HEADERS], hval[CHAN_MAX_HEADERS];
  int nheaders;
} chan__asm_t;

enum { CHAN__ASM_NOTMINE = 0, CHAN__ASM_MORE = 1, CHAN__ASM_COMPLETE = 2 };

void chan__msg_asm_init(chan__asm_t *a);
/* Feeds one frame. CHAN__ASM_NOTMINE: not content-related, the caller
 * handles it; CHAN__ASM_MORE: taken; CHAN__ASM_COMPLETE: a message is ready
 * (read it, then chan__msg_asm_reset); ACTOR_EPROTO for frames out of order,
 * ACTOR_ETOOBIG/ENOMEM for a body that cannot be held. Everything is copied,
 * so the frame's memory may be released after the call. */
int chan__msg_asm_feed(chan__asm_t *a, const amqp_frame_t *f);
/* Fills a view of the completed message (valid until the next reset). */
void chan__msg_asm_view(const chan__asm_t *a, chan_msg_t *m);
const char *chan__msg_asm_str(const chan__asm_t *a, size_t off);
void chan__msg_asm_reset(chan__asm_t *a);
void chan__msg_asm_free(chan__asm_t *a);

/* ---- the loop-driven connection: chan_conn.c and chan_frames.c ---- */

#define CHAN__DROPPED_MAX 8

typedef struct chan__queue_s {
  struct chan__queue_s *next;
  chan_queue_opts_t opts;
  char name[CHAN_NAME_MAX];
} chan__queue_t;

typedef struct chan__consumer_s {
  struct chan__consumer_s *next;
  char queue[CHAN_NAME_MAX];
  char tag[64];
  uint16_t prefetch;
  chan_msg_cb cb;
  void *ud;
  int active;      /* consuming on the current connection */
  unsigned serial; /* chan_tag_t.consumer of its deliveries */
} chan__consumer_t;

/* One allocation: the struct, then the routing key, body and property
 * strings that `props` points to. */
typedef struct chan__pub_s {
  struct chan__pub_s *next;
  uint64_t seq;
  int returned;
  chan_done_cb cb;
  void *ud;
  const char *queue;
  const void *body;
  size_t len;
  chan_props_t props;
} chan__pub_t;

typedef struct chan__return_s {
  struct chan__return_s *next;
  char rkey[CHAN_NAME_MAX];
} chan__return_t;

/* A poll handle watches one socket; a reconnect gets a new one while the
 * old one is still closing, so it lives on its own. */
typedef struct {
  uv_poll_t handle;
  chan_conn_t *c;
} chan__poll_t;

struct chan_conn_s {
  uv_loop_t *loop;
  chan__uri_t uri;
  char name[64];
  amqp_connection_state_t st;
  chan__poll_t *poll;
  uv_timer_t retry_timer, tick_timer, kick_timer;
  int nhandles;

  int open;     /* st is set up: consumers running */
  int failed;   /* teardown requested */
  int closing;  /* chan_conn_close called */
  int finished; /* close done, waiting for handles */
  int busy;     /* drain or user callback on the stack */
  int draining;
  int admin_closed;
  unsigned attempt;
  uint64_t generation;
  uint64_t next_seq;
  uint64_t last_rx;
  unsigned tag_counter;
  uint64_t rng;
  /* The last consumers the broker cancelled (their queue was deleted, and
   * their unacked deliveries with it), by generation; a ring. */
  struct {
    uint64_t generation;
    unsigned consumer;
  } dropped[CHAN__DROPPED_MAX];
  unsigned ndropped;

  chan__asm_t asm_;
  chan__queue_t *queues;
  chan__consumer_t *consumers;
  chan__pub_t *outbox, **outbox_tail;
  size_t noutbox;
  chan__pub_t *pending, **pending_tail; /* written, waiting for the confirm */
  chan__return_t *returns;              /* not yet matched to a publish */
  int nreturns;

  chan_close_cb close_cb;
  void *close_ud;
};

/* chan_conn.c */

/* Marks an open connection failed and logs why, once; the teardown and the
 * reconnect run later from the loop, so this is safe with a drain or a user
 * callback on the stack. */
void chan__conn_fail(chan_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For tests: the socket of the current connection, or -1 while
 * disconnected. */
int chan__conn_fd(const chan_conn_t *c);
/* The broker cancelled consumer k: its queue was deleted (chan_frames.c). */
void chan__conn_dropped(chan_conn_t *c, const chan__consumer_t *k);
/* For tests: counts successful connects; a tag's generation. */
uint64_t chan__conn_generation(const chan_conn_t *c);

/* chan_frames.c */

/* Copies a publish (body and props included) into one allocation; NULL
 * when out of memory. */
chan__pub_t *chan__frames_pub_new(const char *queue, const void *body, size_t len,
                                  const chan_props_t *props, chan_done_cb cb, void *ud);
/* Appends p to the list whose tail pointer is *tail. */
void chan__frames_append(chan__pub_t ***tail, chan__pub_t *p);
/* Moves p to c->pending and writes it; a write error fails the connection,
 * which later reports ACTOR_ECONN to p. */
void chan__frames_send(chan_conn_t *c, chan__pub_t *p);
/* Empties the list at *head (a pending list or the outbox) and reports
 * `status` to every publish on it. Runs user callbacks. */
void chan__frames_finish(chan_conn_t *c, chan__pub_t **head, chan__pub_t ***tail, int status);
/* Forgets the basic.returns not yet matched to a publish. */
void chan__frames_clear_returns(chan_conn_t *c);
/* Handles one frame of CHAN__CH_MAIN: deliveries go to their consumers,
 * confirms and returns settle pending publishes, a consumer cancelled or the
 * channel closed by the broker fails the connection. Runs user callbacks. */
void chan__frames_handle(chan_conn_t *c, const amqp_frame_t *f);

/* ---- the blocking pool: chan_client.c and chan_rpc.c ---- */

#define CHAN__DECLARE_CACHE 128

typedef struct chan__cconn_s {
  struct chan__cconn_s *next;
  amqp_connection_state_t st;
  uint64_t seq;   /* publishes on the main channel so far */
  uint64_t epoch; /* of the declare cache */
  int broken;
  int admin_closed;
  char *declared[CHAN__DECLARE_CACHE];
  int ndeclared;
  chan__asm_t asm_;
} chan__cconn_t;

struct chan_client_s {
  chan__uri_t uri;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t max, nopen;
  chan__cconn_t *idle;
  uint64_t epoch;
  uint64_t serial;
  char idbase[20];
  /* group publishing (chan_group.c) */
  pthread_mutex_t gmu;
  struct chan__gslot_s *ghead, *gtail;
  int gleader;
};

typedef struct chan__gslot_s chan__gslot_t;
int chan__group_init(chan_client_t *cl);
void chan__group_free(chan_client_t *cl);

enum { CHAN__EV_ACK, CHAN__EV_NACK, CHAN__EV_MSG };

typedef struct {
  int type;
  uint64_t tag;
  int multiple;
} chan__cev_t;

/* One operation on a pooled connection; sets *retry when running it again
 * on a fresh connection is safe and worth it. */
typedef int (*chan__client_op_fn)(chan_client_t *cl, chan__cconn_t *cc, void *arg, int *retry);

/* Milliseconds on the monotonic clock. */
int64_t chan__client_now_ms(void);
/* Runs op on a pooled connection; once more on a fresh one if it asks. */
int chan__client_run(chan_client_t *cl, chan__client_op_fn op, void *arg);
/* Drops queue from cc's declare cache (it vanished, or is re-declared). */
void chan__client_cache_forget(chan__cconn_t *cc, const char *queue);
/* Declares queue (arguments o, NULL: none) on the admin channel unless
 * cc's cache knows it; a queue that exists with other arguments is taken
 * as declared. */
int chan__client_ensure_declared(chan__cconn_t *cc, const char *queue, const chan_queue_opts_t *o);
/* Re-opens cc's admin channel if the broker closed it. */
int chan__client_admin_ready(chan__cconn_t *cc);
/* Classifies an admin-channel RPC's outcome like a purge, delete or get
 * (admin_done in chan_client.c): a queue the broker does not know gives
 * `missing`; a timeout counts as a lost connection. */
int chan__client_admin_done(chan__cconn_t *cc, int missing, int *retry);
/* Waits for the next main-channel event until deadline (ms, monotonic).
 * CHAN__EV_MSG leaves a complete message in cc->asm_ (reset it when done). */
int chan__client_next_event(chan__cconn_t *cc, int64_t deadline, chan__cev_t *ev);
/* Whether a confirm answers the publish with tag seq. */
int chan__client_covers(const chan__cev_t *ev, uint64_t seq);
/* Writes one mandatory publish on the main channel; *seq gets its tag. */
int chan__client_send_publish(chan__cconn_t *cc, const char *queue, const void *body, size_t len,
                              const chan_props_t *props, uint64_t *seq);
/* The same with rabbitmq-c's own properties (a message passed on as it came). */
int chan__client_send_raw(chan__cconn_t *cc, const char *queue, amqp_bytes_t body,
                          const amqp_basic_properties_t *props, uint64_t *seq);
/* Waits for the confirm of the publish with tag seq to `queue` until
 * deadline: 0, ACTOR_ECHANNEL (nacked), ACTOR_ENOTFOUND (returned: the
 * queue vanished, and leaves cc's declare cache), ACTOR_ETIMEDOUT (cc is
 * then broken: its confirm state is unknown) or a connection error. */
int chan__client_await_confirm(chan__cconn_t *cc, const char *queue, uint64_t seq,
                               int64_t deadline);
/* ACTOR_EINVAL unless the arguments chan_client_publish and
 * chan_client_call have in common are valid. */
int chan__client_check_send(const chan_client_t *cl, const char *queue, const void *body,
                            size_t len, int timeout_ms);

/* One message to publish: what chan_client_publish_to and
 * chan_client_publish_group are given. */
typedef struct {
  const char *queue;
  const chan_queue_opts_t *qo;
  const void *body;
  size_t len;
  const chan_props_t *props;
  int timeout_ms;
} chan__send_t;
/* Checks a publish's arguments (chan__client_check_send) and fills p, a
 * NULL body (len 0) as an empty one: 0 or ACTOR_EINVAL. */
int chan__send_init(chan__send_t *p, const chan_client_t *cl, const char *queue,
                   const chan_queue_opts_t *qo, const void *body, size_t len,
                   const chan_props_t *props, int timeout_ms);

#endif
