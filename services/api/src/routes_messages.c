/* /actors/{id}/messages: count, send, purge. Sending reads the message
 * (text, JSON or bytes) and its extra environment from the request and
 * hands it to api_message_submit (submit.c), which stores the execution,
 * publishes and waits for the broker's confirm: a message the broker
 * cannot take is a 503, never a false 200. A synchronous send then waits
 * for the execution (sync.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "api.h"

/* How many messages wait in the actor's mailbox; answers the error. */
static int mailbox_len(api_req_t *r, long *n) {
  char q[CHAN_NAME_MAX];
  chan_name_mailbox(r->db_id, q);
  *n = 0;
  int rc = chan_client_queue_len(r->ctx->chan, q, n);
  if (rc != 0)
    api_store_error(r, rc, "message queue");
  return rc;
}

void api_messages_count(api_req_t *r) {
  long n;
  if (mailbox_len(r, &n) != 0)
    return;
  const char *id = json_string_value(json_object_get(r->actor, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512];
  snprintf(self, sizeof(self), "%s/messages", id);
  json_t *res = json_pack("{s:I, s:o}", "messages", (json_int_t)n, "_links",
                          api_links(r, self, owner, NULL, NULL));
  api_ok(r, "The number of messages in the actor's mailbox.", res);
}

bool api_octet_stream(const ahttp_req_t *h) {
  const char *ct = ahttp_kvs_get(&h->headers, "Content-Type", 1);
  return ct && strncasecmp(ct, "application/octet-stream", 24) == 0 &&
         (ct[24] == '\0' || ct[24] == ';' || ct[24] == ' ');
}

/* A binary message needs a Content-Length within [web] max_content_length
 * (Abaco's rule: the body is never streamed into the broker unbounded).
 * A larger one never gets here: it is refused before its body is read
 * (api_body_too_large); the check stays for a handler that is called
 * some other way. */
static int read_binary(api_req_t *r, api_message_t *m) {
  ahttp_req_t *h = r->http;
  const char *cl = ahttp_kvs_get(&h->headers, "Content-Length", 1);
  if (cl == NULL || *cl == '\0') {
    api_error(r, 400, "Content Length required for application/octet-stream.");
    return -1;
  }
  char *end = NULL;
  long long len = strtoll(cl, &end, 10);
  if (end == cl || *end != '\0' || len < 0) {
    api_error(r, 400, "Content Length must be an integer.");
    return -1;
  }
  if (len > r->ctx->max_content_length) {
    api_error(r, 400, "Message exceeds max content length of: %ld", r->ctx->max_content_length);
    return -1;
  }
  m->content_type = "application/octet-stream";
  m->bytes = h->body;
  m->nbytes = h->body_len;
  return 0;
}

/* Abaco's order: a `message` field (form, JSON body or query string) is a
 * text message (a non-string JSON value is rendered as Python's str()
 * would); else an application/octet-stream body is binary; else a JSON
 * body is the message; else 400. An empty `message` counts as none. */
static int read_message(api_req_t *r, api_message_t *m) {
  ahttp_req_t *h = r->http;
  bool binary = api_octet_stream(h);
  memset(m, 0, sizeof(*m));
  json_t *doc = NULL;
  if (!h->is_form && !binary && h->body_len > 0)
    doc = json_loadb(h->body, h->body_len, JSON_DECODE_ANY, NULL);

  const char *text = h->is_form ? ahttp_kvs_get(&h->form, "message", 0) : NULL;
  json_t *field = json_is_object(doc) ? json_object_get(doc, "message") : NULL;
  if (field && (json_is_null(field) || (json_is_string(field) && json_string_length(field) == 0)))
    field = NULL;
  if ((text == NULL || *text == '\0') && field == NULL)
    text = ahttp_kvs_get(&h->query, "message", 0);

  if (field) {
    char *py = json_is_string(field) ? NULL : actor_pyrepr(field);
    m->message = py ? json_string(py) : json_incref(field);
    free(py);
    m->content_type = "str";
  } else if (text && *text) {
    m->message = json_string(text);
    m->content_type = "str";
  } else if (binary) {
    json_decref(doc);
    return read_binary(r, m);
  } else if (doc && !(json_is_false(doc) || json_is_null(doc) ||
                      (json_is_array(doc) && json_array_size(doc) == 0) ||
                      (json_is_string(doc) && json_string_length(doc) == 0) ||
                      (json_is_integer(doc) && json_integer_value(doc) == 0) ||
                      (json_is_real(doc) && json_real_value(doc) == 0.0))) {
    m->message = json_incref(doc);
    m->content_type = "application/json";
  }
  json_decref(doc);
  if (m->message == NULL) {
    api_error(r, 400, "message POST body could not be serialized");
    return -1;
  }
  return 0;
}

/* Every query parameter but `message`, `x-nonce` and `_abaco_*` becomes an
 * environment variable of the execution. New reference. */
static json_t *query_env(api_req_t *r) {
  json_t *env = json_object();
  const ahttp_kvs_t *q = &r->http->query;
  for (size_t i = 0; env && i < q->n; i++) {
    const char *k = q->items[i].key;
    if (strcmp(k, "message") == 0 || strcmp(k, "x-nonce") == 0 || strncmp(k, "_abaco_", 7) == 0)
      continue;
    json_object_set_new(env, k, json_string(q->items[i].value ? q->items[i].value : ""));
  }
  return env;
}

/* Synchronous sends wait only behind a short queue: with more than this
 * many messages already waiting, the wait could last arbitrarily long. */
#define SYNC_MAILBOX_MAX 3

static bool wants_sync(api_req_t *r) {
  const char *v = ahttp_kvs_get(&r->http->query, "_abaco_synchronous", 0);
  return v && strcasecmp(v, "true") == 0;
}

/* The checks before a synchronous send; on success the caller holds a
 * sync slot (api_sync_release). */
static int sync_admit(api_req_t *r) {
  long n;
  if (mailbox_len(r, &n) != 0)
    return -1;
  if (n > SYNC_MAILBOX_MAX) {
    api_error(r, 400,
              "Synchronous messages are not allowed when the actor's mailbox holds "
              "more than %d messages; it holds %ld. Send the message asynchronously "
              "or try again later.",
              SYNC_MAILBOX_MAX, n);
    return -1;
  }
  if (!api_sync_acquire(r->ctx)) {
    api_error(r, 503,
              "Too many synchronous messages are being waited for on this server; "
              "try again later or send the message asynchronously.");
    return -1;
  }
  return 0;
}

void api_messages_send(api_req_t *r) {
  api_ctx_t *c = r->ctx;
  api_message_t m;
  if (read_message(r, &m) != 0)
    return;
  bool sync = wants_sync(r);
  if (sync && sync_admit(r) != 0) {
    json_decref(m.message);
    return;
  }
  json_t *env = query_env(r);
  if (env == NULL) {
    api_error(r, 500, "out of memory");
    goto cleanup;
  }
  m.executor = r->ident.username;
  m.api_server = r->api_server;
  m.env = env;
  char eid[ACTOR_ID_MAX];
  const char *what = NULL;
  int rc = api_message_submit(r, r->actor, &m, eid, &what);
  if (rc != 0 && strcmp(what, "message queue") == 0) {
    api_error(r, 503,
              "Service unavailable: the message queue could not take the message; "
              "try again.");
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, what);
    goto cleanup;
  }
  if (sync) {
    api_sync_answer(r, eid);
    goto cleanup;
  }
  const char *aid = json_string_value(json_object_get(r->actor, "id"));
  char self[512], msgs[512];
  snprintf(self, sizeof(self), "%s/executions/%s", aid, eid);
  snprintf(msgs, sizeof(msgs), "%s/messages", aid);
  json_t *res = json_object();
  json_object_set_new(res, "execution_id", json_string(eid));
  if (m.bytes) {
    json_object_set_new(res, "msg", json_string("binary - omitted"));
  } else {
    json_object_set(res, "msg", m.message);
  }
  json_object_set_new(
      res, "_links",
      api_links(r, self, json_string_value(json_object_get(r->actor, "owner")), "messages", msgs));
  api_ok(r, "The request was successful", res);

cleanup:
  if (sync)
    api_sync_release(c);
  json_decref(env);
  json_decref(m.message);
}

void api_messages_purge(api_req_t *r) {
  char q[CHAN_NAME_MAX];
  chan_name_mailbox(r->db_id, q);
  int rc = chan_client_purge(r->ctx->chan, q);
  if (rc != 0) {
    api_store_error(r, rc, "message queue");
    return;
  }
  LOG_INFO("api", "actor %s: mailbox purged", r->db_id);
  api_ok(r, "Actor mailbox purged.", NULL);
}
