/* rabbitmq-c glue shared by both faces of channels: parsing the broker URI,
 * opening a connection with its main (confirm) and admin channels, mapping
 * RPC replies to ACTOR_* codes, and declares whose refusals only cost the
 * admin channel. All calls here block, bounded by the timeouts set at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"

_Atomic int chan__frame_max = CHAN__FRAME_MAX;

int chan_frame_max_set(int bytes) {
  if (bytes < CHAN_FRAME_MIN || bytes > CHAN__FRAME_MAX)
    return ACTOR_EINVAL;
  chan__frame_max = bytes;
  return 0;
}

int chan__amqp_uri_parse(const char *uri, chan__uri_t *out) {
  memset(out, 0, sizeof(*out));
  if (uri == NULL || strncmp(uri, "amqp://", 7) != 0)
    return ACTOR_EINVAL;
  out->buf = strdup(uri);
  if (out->buf == NULL)
    return ACTOR_ENOMEM;
  amqp_default_connection_info(&out->info);
  if (amqp_parse_url(out->buf, &out->info) != AMQP_STATUS_OK || out->info.ssl) {
    chan__amqp_uri_free(out);
    return ACTOR_EINVAL;
  }
  return 0;
}

void chan__amqp_uri_free(chan__uri_t *u) {
  if (u == NULL)
    return;
  free(u->buf);
  memset(u, 0, sizeof(*u));
}

static struct timeval ms_tv(int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  return tv;
}

void chan__amqp_close_reason(const amqp_method_t *m, int *code, char *err, size_t errlen) {
  const amqp_bytes_t *text = NULL;
  int c = 0;
  if (m->id == AMQP_CONNECTION_CLOSE_METHOD && m->decoded) {
    const amqp_connection_close_t *cc = m->decoded;
    c = cc->reply_code;
    text = &cc->reply_text;
  } else if (m->id == AMQP_CHANNEL_CLOSE_METHOD && m->decoded) {
    const amqp_channel_close_t *cc = m->decoded;
    c = cc->reply_code;
    text = &cc->reply_text;
  }
  if (code)
    *code = c;
  if (err && errlen)
    snprintf(err, errlen, "%d %.*s", c, text ? (int)text->len : 0,
             text ? (const char *)text->bytes : "");
}

int chan__amqp_mandatory(const char *queue) {
  return strncmp(queue, "amq.rabbitmq.reply-to", 21) != 0;
}

void chan__amqp_close_ok(amqp_connection_state_t st, amqp_channel_t ch, int connection) {
  if (connection) {
    amqp_connection_close_ok_t ok = {0};
    amqp_send_method(st, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  } else {
    amqp_channel_close_ok_t ok = {0};
    amqp_send_method(st, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  }
}

int chan__amqp_check(amqp_connection_state_t st, amqp_channel_t ch, amqp_rpc_reply_t r, int *code,
                     char *err, size_t errlen) {
  if (code)
    *code = 0;
  switch (r.reply_type) {
  case AMQP_RESPONSE_NORMAL: return 0;
  case AMQP_RESPONSE_NONE: snprintf(err, errlen, "no reply"); return ACTOR_ECONN;
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    snprintf(err, errlen, "%s", amqp_error_string2(r.library_error));
    return r.library_error == AMQP_STATUS_TIMEOUT ? ACTOR_ETIMEDOUT : ACTOR_ECONN;
  case AMQP_RESPONSE_SERVER_EXCEPTION:
    chan__amqp_close_reason(&r.reply, code, err, errlen);
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      chan__amqp_close_ok(st, ch, 0);
      return ACTOR_ECHANNEL;
    }
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
      chan__amqp_close_ok(st, 0, 1);
    return ACTOR_ECONN;
  }
  snprintf(err, errlen, "unknown reply type");
  return ACTOR_ECONN;
}

int chan__amqp_reopen(amqp_connection_state_t st, amqp_channel_t ch, char *err, size_t errlen) {
  amqp_channel_open(st, ch);
  int rc = chan__amqp_check(st, ch, amqp_get_rpc_reply(st), NULL, err, errlen);
  /* A refusal to open a channel leaves nothing usable either. */
  return rc == ACTOR_ECHANNEL ? ACTOR_ECONN : rc;
}

int chan__amqp_open(const chan__uri_t *u, const char *name, int heartbeat_s, int timeout_ms,
                    amqp_connection_state_t *out, char *err, size_t errlen) {
  const struct amqp_connection_info *ci = &u->info;
  struct timeval tv = ms_tv(timeout_ms);
  int rc = ACTOR_ECONN;
  *out = NULL;
  amqp_connection_state_t st = amqp_new_connection();
  if (st == NULL) {
    snprintf(err, errlen, "out of memory");
    return ACTOR_ENOMEM;
  }
  amqp_socket_t *sock = amqp_tcp_socket_new(st);
  if (sock == NULL) {
    snprintf(err, errlen, "cannot create socket");
    goto cleanup;
  }
  int s = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
  if (s != AMQP_STATUS_OK) {
    snprintf(err, errlen, "connect %s:%d: %s", ci->host, ci->port, amqp_error_string2(s));
    goto cleanup;
  }
  amqp_set_handshake_timeout(st, &tv);
  amqp_set_rpc_timeout(st, &tv);

  /* rabbitmq-c merges these into its own properties (and capabilities). */
  amqp_table_entry_t caps[3];
  caps[0].key = amqp_cstring_bytes("publisher_confirms");
  caps[1].key = amqp_cstring_bytes("consumer_cancel_notify");
  caps[2].key = amqp_cstring_bytes("basic.nack");
  for (int i = 0; i < 3; i++) {
    caps[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[i].value.value.boolean = 1;
  }
  amqp_table_entry_t props[2];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes = amqp_cstring_bytes(name ? name : "abaco");
  props[1].key = amqp_cstring_bytes("capabilities");
  props[1].value.kind = AMQP_FIELD_KIND_TABLE;
  props[1].value.value.table.num_entries = 3;
  props[1].value.value.table.entries = caps;
  amqp_table_t ptable = {2, props};

  amqp_rpc_reply_t r =
      amqp_login_with_properties(st, ci->vhost, 0, chan__frame_max, heartbeat_s, &ptable,
                                 AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
  char why[CHAN__ERR_MAX];
  if (chan__amqp_check(st, 0, r, NULL, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "login to %s:%d vhost %s as %s: %s", ci->host, ci->port, ci->vhost,
             ci->user, why);
    goto cleanup;
  }
  amqp_channel_open(st, CHAN__CH_MAIN);
  if (chan__amqp_check(st, CHAN__CH_MAIN, amqp_get_rpc_reply(st), NULL, why, sizeof(why))) {
    snprintf(err, errlen, "channel.open: %s", why);
    goto cleanup;
  }
  amqp_confirm_select(st, CHAN__CH_MAIN);
  if (chan__amqp_check(st, CHAN__CH_MAIN, amqp_get_rpc_reply(st), NULL, why, sizeof(why))) {
    snprintf(err, errlen, "confirm.select: %s", why);
    goto cleanup;
  }
  amqp_channel_open(st, CHAN__CH_ADMIN);
  if (chan__amqp_check(st, CHAN__CH_ADMIN, amqp_get_rpc_reply(st), NULL, why, sizeof(why))) {
    snprintf(err, errlen, "channel.open: %s", why);
    goto cleanup;
  }
  *out = st;
  st = NULL;
  rc = 0;
cleanup:
  if (st)
    amqp_destroy_connection(st);
  return rc;
}

int chan__amqp_declare(amqp_connection_state_t st, const char *queue, int passive,
                       const chan_queue_opts_t *o, uint32_t *count, char *err, size_t errlen) {
  amqp_table_entry_t arg[2];
  amqp_table_t args = {0, arg};
  if (o && o->expires_ms > 0 && !passive) {
    arg[args.num_entries].key = amqp_cstring_bytes("x-expires");
    arg[args.num_entries].value.kind = AMQP_FIELD_KIND_I64;
    arg[args.num_entries].value.value.i64 = o->expires_ms;
    args.num_entries++;
  }
  if (o && o->single_active && !passive) {
    arg[args.num_entries].key = amqp_cstring_bytes("x-single-active-consumer");
    arg[args.num_entries].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    arg[args.num_entries].value.value.boolean = 1;
    args.num_entries++;
  }
  amqp_queue_declare_ok_t *ok =
      amqp_queue_declare(st, CHAN__CH_ADMIN, amqp_cstring_bytes(queue), passive, 1, 0, 0, args);
  uint32_t n = ok ? ok->message_count : 0;
  int code;
  int rc = chan__amqp_check(st, CHAN__CH_ADMIN, amqp_get_rpc_reply(st), &code, err, errlen);
  amqp_maybe_release_buffers_on_channel(st, CHAN__CH_ADMIN);
  if (rc == 0) {
    if (count)
      *count = n;
    return 0;
  }
  if (rc != ACTOR_ECHANNEL)
    return rc;
  char why[CHAN__ERR_MAX];
  int rrc = chan__amqp_reopen(st, CHAN__CH_ADMIN, why, sizeof(why));
  if (rrc != 0) {
    snprintf(err, errlen, "re-opening the admin channel: %s", why);
    return rrc;
  }
  if (code == AMQP_PRECONDITION_FAILED)
    return ACTOR_EEXIST;
  if (code == AMQP_NOT_FOUND)
    return ACTOR_ENOTFOUND;
  return ACTOR_ECHANNEL;
}
