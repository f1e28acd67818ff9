/* Private to channels: what the loop-driven connection (chan_conn.c) and the
 * blocking pool (chan_client.c) share — URI parsing, opening a connection
 * with its two channels, turning rabbitmq-c replies into ACTOR_* codes,
 * declares that survive a refusal, publish properties, and the assembler
 * that turns deliver/header/body frames into one chan_msg_t.
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
#include <stddef.h>
#include <stdint.h>

#include "channels/chan.h"

#define CHAN__LOG "chan"
#define CHAN__CH_MAIN 1
#define CHAN__CH_ADMIN 2
#define CHAN__FRAME_MAX 131072
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

/* Declares a durable queue on CHAN__CH_ADMIN (x-expires when expires_ms > 0),
 * or with passive only checks that it exists; *count (may be NULL) gets its
 * ready messages. Returns 0; ACTOR_EEXIST when it exists with other
 * arguments; ACTOR_ENOTFOUND (passive, missing); ACTOR_ECHANNEL for another
 * refusal — the admin channel is open again after all of these — or
 * ACTOR_ECONN/ETIMEDOUT when the connection is unusable. */
int chan__amqp_declare(amqp_connection_state_t st, const char *queue, int passive,
                       int64_t expires_ms, uint32_t *count, char *err, size_t errlen);

/* Whether a publish to `queue` is sent mandatory. Not for direct replies
 * (amq.rabbitmq.reply-to.*): they bypass queues, and RabbitMQ returns them
 * as unroutable even when the caller got them. */
int chan__amqp_mandatory(const char *queue);

/* Sends channel.close-ok / connection.close-ok for a close the broker sent
 * outside an RPC. */
void chan__amqp_close_ok(amqp_connection_state_t st, amqp_channel_t ch, int connection);

/* Formats the reply text of a connection.close/channel.close method. */
void chan__amqp_close_reason(const amqp_method_t *m, int *code, char *err, size_t errlen);

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

/* ---- chan_conn.c (for tests) ---- */

/* The socket of the current connection, or -1 while disconnected. */
int chan__conn_fd(const chan_conn_t *c);
/* Counts successful connects; a tag's generation. */
uint64_t chan__conn_generation(const chan_conn_t *c);

#endif
