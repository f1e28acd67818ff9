/* /actors/{id}/messages: count, and send. Sending stores the execution
 * first (SUBMITTED), then publishes to the mailbox and waits for the
 * broker's confirm; only then does the client get its execution id. If the
 * broker cannot take the message the execution is marked ERROR and the
 * client gets a 503: no false 200, and nothing silently dropped. */
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

void api_messages_count(api_req_t *r) {
  char q[CHAN_NAME_MAX];
  chan_name_mailbox(r->db_id, q);
  long n = 0;
  int rc = chan_client_queue_len(r->ctx->chan, q, &n);
  if (rc != 0) {
    api_store_error(r, rc, "message queue");
    return;
  }
  const char *id = json_string_value(json_object_get(r->actor, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512];
  snprintf(self, sizeof(self), "%s/messages", id);
  json_t *res = json_pack("{s:I, s:o}", "messages", (json_int_t)n, "_links",
                          api_links(r, self, owner, NULL, NULL));
  api_ok(r, "The number of messages in the actor's mailbox.", res);
}

/* What the client sent: a text message, a JSON document, or bytes. */
typedef struct {
  json_t *message;          /* str or any JSON value */
  const char *content_type; /* "str", "application/json", "application/octet-stream" */
  const char *bytes;        /* binary only: borrowed from the request */
  size_t nbytes;
} message_t;

static int read_message(api_req_t *r, message_t *m) {
  ahttp_req_t *h = r->http;
  const char *ct = ahttp_kvs_get(&h->headers, "Content-Type", 1);
  memset(m, 0, sizeof(*m));
  if (h->body_too_large) {
    api_error(r, 400, "Message is larger than the allowed maximum ([web] max_content_length).");
    return -1;
  }
  if (ct && strncasecmp(ct, "application/octet-stream", 24) == 0) {
    m->content_type = "application/octet-stream";
    m->bytes = h->body;
    m->nbytes = h->body_len;
    return 0;
  }
  const char *field = h->is_form ? ahttp_kvs_get(&h->form, "message", 0)
                                 : ahttp_kvs_get(&h->query, "message", 0);
  json_t *doc = NULL;
  if (!h->is_form && h->body_len > 0) {
    doc = json_loadb(h->body, h->body_len, JSON_DECODE_ANY, NULL);
    if (doc == NULL) {
      api_error(r, 400, "message POST body could not be serialized");
      return -1;
    }
    json_t *msg = json_object_get(doc, "message");
    if (json_is_string(msg)) {
      m->message = json_incref(msg);
      m->content_type = "str";
      json_decref(doc);
      return 0;
    }
    m->message = doc;
    m->content_type = "application/json";
    return 0;
  }
  if (field) {
    m->message = json_string(field);
    m->content_type = "str";
    return 0;
  }
  api_error(r, 400, "message POST body could not be serialized");
  return -1;
}

/* The mailbox message (DESIGN.md "Channels"): metadata plus the message;
 * extra query parameters become environment variables of the execution. */
static json_t *mailbox_meta(api_req_t *r, const message_t *m, const char *eid) {
  json_t *meta = json_pack(
      "{s:s, s:s, s:I, s:s, s:s}", "_abaco_execution_id", eid, "_abaco_Content_Type",
      m->content_type, "_abaco_actor_revision",
      json_integer_value(json_object_get(r->actor, "revision")), "_abaco_username",
      r->ident.username, "_abaco_api_server", r->api_server);
  const ahttp_kvs_t *q = &r->http->query;
  for (size_t i = 0; meta && i < q->n; i++) {
    const char *k = q->items[i].key;
    if (strcmp(k, "message") == 0 || strcmp(k, "x-nonce") == 0 ||
        strncmp(k, "_abaco_", 7) == 0)
      continue;
    json_object_set_new(meta, k, json_string(q->items[i].value ? q->items[i].value : ""));
  }
  return meta;
}

static int publish(api_req_t *r, const message_t *m, json_t *meta) {
  char q[CHAN_NAME_MAX];
  chan_name_mailbox(r->db_id, q);
  int rc;
  if (m->bytes) {
    char *text = json_dumps(meta, JSON_COMPACT);
    chan_props_t props = {.content_type = "application/octet-stream", .nheaders = 1};
    props.headers[0].key = "abaco_meta";
    props.headers[0].value = text;
    rc = text ? chan_client_publish(r->ctx->chan, q, m->bytes, m->nbytes, &props, 5000)
              : ACTOR_ENOMEM;
    free(text);
  } else {
    json_object_set(meta, "message", m->message);
    char *text = json_dumps(meta, JSON_COMPACT);
    rc = text ? chan_client_publish(r->ctx->chan, q, text, strlen(text), NULL, 5000)
              : ACTOR_ENOMEM;
    free(text);
  }
  return rc;
}

void api_messages_send(api_req_t *r) {
  api_ctx_t *c = r->ctx;
  message_t m;
  if (read_message(r, &m) != 0)
    return;

  char eid[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  json_t *meta = NULL, *exec = NULL;
  if (actor_id_new(eid) != 0) {
    api_error(r, 500, "Could not generate an execution id.");
    goto cleanup;
  }
  actor_time_format(actor_time_now_ms(), now);
  const char *aid = json_string_value(json_object_get(r->actor, "id"));
  exec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:i, s:i, s:i, "
                   "s:n, s:n}",
                   "_id", eid, "id", eid, "actor_id", aid, "actor_dbid", r->db_id, "tenant",
                   r->ident.tenant, "executor", r->ident.username, "status", EXEC_SUBMITTED,
                   "message_received_time", now, "start_time", "finish_time", "worker_id",
                   "runtime", 0, "cpu", 0, "io", 0, "exit_code", "final_state");
  meta = mailbox_meta(r, &m, eid);
  if (exec == NULL || meta == NULL) {
    api_error(r, 500, "out of memory");
    goto cleanup;
  }
  int rc = model_exec_insert(c->mongo, exec);
  if (rc != 0) {
    api_store_error(r, rc, "execution");
    goto cleanup;
  }
  rc = publish(r, &m, meta);
  if (rc != 0) {
    LOG_ERROR("api", "actor %s execution %s: mailbox publish failed: %s", r->db_id, eid,
              actor_strerror(rc));
    json_t *f = json_pack("{s:s, s:s}", "status", EXEC_ERROR, "status_message",
                          "the message could not be queued");
    if (f)
      model_exec_update(c->mongo, eid, f);
    json_decref(f);
    api_error(r, 503, "Service unavailable: the message queue could not take the message; "
                      "try again.");
    goto cleanup;
  }

  long long nworkers = 0;
  if (model_worker_count(c->redis, r->db_id, &nworkers) == 0 && nworkers == 0) {
    rc = api_request_workers(r, r->actor, 1);
    if (rc != 0)
      LOG_WARN("api", "actor %s: no worker and none could be requested: %s", r->db_id,
               actor_strerror(rc));
  }

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
  json_object_set_new(res, "_links",
                      api_links(r, self, json_string_value(json_object_get(r->actor, "owner")),
                                "messages", msgs));
  api_ok(r, "The request was successful", res);

cleanup:
  json_decref(exec);
  json_decref(meta);
  json_decref(m.message);
}
