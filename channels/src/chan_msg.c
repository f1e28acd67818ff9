/* Messages between chan_* types and AMQP frames: header lookup, the
 * properties of a publish, and the assembler that collects the method,
 * header and body frames of one delivery into a chan_msg_t. The assembler
 * copies everything it keeps, so callers may release rabbitmq-c's frame
 * memory after every frame. No I/O here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"

#define NO_STR SIZE_MAX

const char *chan_msg_header(const chan_msg_t *msg, const char *key) {
  if (msg == NULL || key == NULL)
    return NULL;
  for (int i = 0; i < msg->nheaders && i < CHAN_MAX_HEADERS; i++)
    if (msg->headers[i].key && strcmp(msg->headers[i].key, key) == 0)
      return msg->headers[i].value;
  return NULL;
}

void chan__msg_props(const chan_props_t *in, chan__props_t *out) {
  memset(out, 0, sizeof(*out));
  amqp_basic_properties_t *p = &out->p;
  p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
  const char *ct =
      in && in->content_type && *in->content_type ? in->content_type : "application/json";
  p->content_type = amqp_cstring_bytes(ct);
  if (in == NULL)
    return;
  if (in->reply_to && *in->reply_to) {
    p->_flags |= AMQP_BASIC_REPLY_TO_FLAG;
    p->reply_to = amqp_cstring_bytes(in->reply_to);
  }
  if (in->correlation_id && *in->correlation_id) {
    p->_flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    p->correlation_id = amqp_cstring_bytes(in->correlation_id);
  }
  if (in->expiration_ms > 0) {
    snprintf(out->expiration, sizeof(out->expiration), "%" PRId64, in->expiration_ms);
    p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
    p->expiration = amqp_cstring_bytes(out->expiration);
  }
  int n = 0;
  for (int i = 0; i < in->nheaders && i < CHAN_MAX_HEADERS; i++) {
    if (in->headers[i].key == NULL || in->headers[i].value == NULL)
      continue;
    out->entries[n].key = amqp_cstring_bytes(in->headers[i].key);
    out->entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
    out->entries[n].value.value.bytes = amqp_cstring_bytes(in->headers[i].value);
    n++;
  }
  if (n > 0) {
    p->_flags |= AMQP_BASIC_HEADERS_FLAG;
    p->headers.num_entries = n;
    p->headers.entries = out->entries;
  }
}

/* ---- assembler ---- */

void chan__msg_asm_init(chan__asm_t *a) {
  memset(a, 0, sizeof(*a));
  chan__msg_asm_reset(a);
}

void chan__msg_asm_reset(chan__asm_t *a) {
  free(a->body);
  a->body = NULL;
  a->stage = CHAN__ASM_IDLE;
  a->delivery_tag = 0;
  a->redelivered = 0;
  a->reply_code = 0;
  a->body_size = a->got = 0;
  a->slen = 0;
  a->ctag = a->rkey = a->content_type = a->reply_to = a->correlation_id = NO_STR;
  a->nheaders = 0;
}

void chan__msg_asm_free(chan__asm_t *a) {
  if (a == NULL)
    return;
  free(a->body);
  free(a->strs);
  memset(a, 0, sizeof(*a));
}

/* Appends n bytes and a NUL; returns the offset, NO_STR when out of memory. */
static size_t put(chan__asm_t *a, const void *p, size_t n) {
  if (a->slen + n + 1 > a->scap) {
    size_t cap = a->scap ? a->scap : 256;
    while (cap < a->slen + n + 1)
      cap *= 2;
    char *s = realloc(a->strs, cap);
    if (s == NULL)
      return NO_STR;
    a->strs = s;
    a->scap = cap;
  }
  size_t off = a->slen;
  if (n)
    memcpy(a->strs + off, p, n);
  a->strs[off + n] = '\0';
  a->slen += n + 1;
  return off;
}

static size_t put_bytes(chan__asm_t *a, amqp_bytes_t b) {
  return put(a, b.bytes, b.len);
}

/* Header values: strings as they are, integers and booleans as text; other
 * kinds (tables, arrays, floats...) are not part of our protocol. */
static void put_header(chan__asm_t *a, const amqp_table_entry_t *e) {
  char num[32];
  const amqp_field_value_t *v = &e->value;
  size_t val;
  switch (v->kind) {
  case AMQP_FIELD_KIND_UTF8:
  case AMQP_FIELD_KIND_BYTES: val = put_bytes(a, v->value.bytes); break;
  case AMQP_FIELD_KIND_BOOLEAN:
    val = put(a, v->value.boolean ? "true" : "false", v->value.boolean ? 4 : 5);
    break;
  case AMQP_FIELD_KIND_I8:
  case AMQP_FIELD_KIND_I16:
  case AMQP_FIELD_KIND_I32:
  case AMQP_FIELD_KIND_I64:
  case AMQP_FIELD_KIND_U8:
  case AMQP_FIELD_KIND_U16:
  case AMQP_FIELD_KIND_U32:
  case AMQP_FIELD_KIND_U64:
  case AMQP_FIELD_KIND_TIMESTAMP: {
    long long n = 0;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: n = v->value.i8; break;
    case AMQP_FIELD_KIND_I16: n = v->value.i16; break;
    case AMQP_FIELD_KIND_I32: n = v->value.i32; break;
    case AMQP_FIELD_KIND_I64: n = v->value.i64; break;
    case AMQP_FIELD_KIND_U8: n = v->value.u8; break;
    case AMQP_FIELD_KIND_U16: n = v->value.u16; break;
    case AMQP_FIELD_KIND_U32: n = v->value.u32; break;
    default: n = (long long)v->value.u64; break;
    }
    int len = snprintf(num, sizeof(num), "%lld", n);
    val = put(a, num, (size_t)len);
    break;
  }
  default: return;
  }
  size_t key = put_bytes(a, e->key);
  if (key == NO_STR || val == NO_STR)
    return;
  a->hkey[a->nheaders] = key;
  a->hval[a->nheaders] = val;
  a->nheaders++;
}

static int start(chan__asm_t *a, const amqp_method_t *m) {
  if (a->stage != CHAN__ASM_IDLE)
    return ACTOR_EPROTO;
  chan__msg_asm_reset(a);
  if (m->id == AMQP_BASIC_DELIVER_METHOD) {
    const amqp_basic_deliver_t *d = m->decoded;
    a->kind = CHAN__KIND_DELIVER;
    a->delivery_tag = d->delivery_tag;
    a->redelivered = d->redelivered != 0;
    a->ctag = put_bytes(a, d->consumer_tag);
    a->rkey = put_bytes(a, d->routing_key);
  } else if (m->id == AMQP_BASIC_GET_OK_METHOD) {
    const amqp_basic_get_ok_t *g = m->decoded;
    a->kind = CHAN__KIND_GET;
    a->delivery_tag = g->delivery_tag;
    a->redelivered = g->redelivered != 0;
    a->rkey = put_bytes(a, g->routing_key);
  } else {
    const amqp_basic_return_t *r = m->decoded;
    a->kind = CHAN__KIND_RETURN;
    a->reply_code = r->reply_code;
    a->rkey = put_bytes(a, r->routing_key);
  }
  if (a->rkey == NO_STR)
    return ACTOR_ENOMEM;
  a->stage = CHAN__ASM_HEADER;
  return CHAN__ASM_MORE;
}

static int header(chan__asm_t *a, const amqp_frame_t *f) {
  if (a->stage != CHAN__ASM_HEADER || f->payload.properties.class_id != AMQP_BASIC_CLASS)
    return ACTOR_EPROTO;
  const amqp_basic_properties_t *p = f->payload.properties.decoded;
  if (p) {
    if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
      a->content_type = put_bytes(a, p->content_type);
    if (p->_flags & AMQP_BASIC_REPLY_TO_FLAG)
      a->reply_to = put_bytes(a, p->reply_to);
    if (p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
      a->correlation_id = put_bytes(a, p->correlation_id);
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
      for (int i = 0; i < p->headers.num_entries && a->nheaders < CHAN_MAX_HEADERS; i++)
        put_header(a, &p->headers.entries[i]);
  }
  a->body_size = f->payload.properties.body_size;
  if (a->body_size > CHAN__BODY_MAX)
    return ACTOR_ETOOBIG;
  a->body = malloc((size_t)a->body_size + 1);
  if (a->body == NULL)
    return ACTOR_ENOMEM;
  a->body[a->body_size] = '\0';
  a->got = 0;
  a->stage = a->body_size == 0 ? CHAN__ASM_DONE : CHAN__ASM_BODY;
  return a->stage == CHAN__ASM_DONE ? CHAN__ASM_COMPLETE : CHAN__ASM_MORE;
}

static int body(chan__asm_t *a, const amqp_frame_t *f) {
  size_t n = f->payload.body_fragment.len;
  if (a->stage != CHAN__ASM_BODY || n > a->body_size - a->got)
    return ACTOR_EPROTO;
  memcpy(a->body + a->got, f->payload.body_fragment.bytes, n);
  a->got += n;
  if (a->got < a->body_size)
    return CHAN__ASM_MORE;
  a->stage = CHAN__ASM_DONE;
  return CHAN__ASM_COMPLETE;
}

int chan__msg_asm_feed(chan__asm_t *a, const amqp_frame_t *f) {
  switch (f->frame_type) {
  case AMQP_FRAME_METHOD:
    switch (f->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD:
    case AMQP_BASIC_GET_OK_METHOD:
    case AMQP_BASIC_RETURN_METHOD: return start(a, &f->payload.method);
    default: return CHAN__ASM_NOTMINE;
    }
  case AMQP_FRAME_HEADER: return header(a, f);
  case AMQP_FRAME_BODY: return body(a, f);
  default: return CHAN__ASM_NOTMINE;
  }
}

const char *chan__msg_asm_str(const chan__asm_t *a, size_t off) {
  return off == NO_STR || a->strs == NULL ? NULL : a->strs + off;
}

void chan__msg_asm_view(const chan__asm_t *a, chan_msg_t *m) {
  memset(m, 0, sizeof(*m));
  m->queue = chan__msg_asm_str(a, a->rkey);
  m->body = a->body ? a->body : "";
  m->len = (size_t)a->got;
  m->content_type = chan__msg_asm_str(a, a->content_type);
  m->reply_to = chan__msg_asm_str(a, a->reply_to);
  m->correlation_id = chan__msg_asm_str(a, a->correlation_id);
  for (int i = 0; i < a->nheaders; i++) {
    m->headers[i].key = chan__msg_asm_str(a, a->hkey[i]);
    m->headers[i].value = chan__msg_asm_str(a, a->hval[i]);
  }
  m->nheaders = a->nheaders;
  m->redelivered = a->redelivered;
  m->tag.delivery_tag = a->delivery_tag;
}
