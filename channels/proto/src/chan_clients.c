/* Requests to clientg on the `clients` channel (channels/proto/clients.h). The
 * body carries the shared secret, so it is wiped before it is freed; the
 * secret and the tokens never reach a log line from here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "channels/proto/clients.h"

static int fail(int rc, char *err, size_t errlen, const char *msg) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", msg);
  return rc;
}

/* Sends one request and returns clientg's reply object (*reply, new
 * reference) when its status is "ok". */
static int call(chan_client_t *cl, const chan_clients_req_t *req, const char *command,
                json_t **reply, char *err, size_t errlen) {
  *reply = NULL;
  json_t *body =
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "command", command, "tenant",
                req->tenant ? req->tenant : "", "actor_id", req->actor_id ? req->actor_id : "",
                "worker_id", req->worker_id ? req->worker_id : "", "owner",
                req->owner ? req->owner : "", "secret", req->secret ? req->secret : "");
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (text == NULL)
    return fail(ACTOR_ENOMEM, err, errlen, "out of memory");
  char *answer = NULL;
  size_t answer_len = 0;
  size_t text_len = strlen(text);
  int rc = chan_client_call(cl, req->queue ? req->queue : CHAN_CLIENTS, text, text_len,
                            CHAN_CLIENTS_TIMEOUT_MS, &answer, &answer_len);
  explicit_bzero(text, text_len);
  free(text);
  if (rc != 0)
    return fail(rc, err, errlen,
                rc == ACTOR_ETIMEDOUT ? "clientg did not answer" : "cannot reach clientg");
  json_t *r = json_loadb(answer, answer_len, 0, NULL);
  free(answer);
  const char *status = json_string_value(json_object_get(r, "status"));
  if (status == NULL) {
    json_decref(r);
    return fail(ACTOR_EPROTO, err, errlen, "clientg's reply is unreadable");
  }
  if (strcmp(status, "ok") != 0) {
    const char *m = json_string_value(json_object_get(r, "message"));
    rc = fail(ACTOR_EAUTH, err, errlen, m ? m : "refused");
    json_decref(r);
    return rc;
  }
  *reply = r;
  return 0;
}

int chan_clients_new(chan_client_t *cl, const chan_clients_req_t *req, int64_t now, char **token,
                     int64_t *expires_at, char *err, size_t errlen) {
  *token = NULL;
  json_t *r = NULL;
  int rc = call(cl, req, "new", &r, err, errlen);
  if (rc != 0)
    return rc;
  const char *t = json_string_value(json_object_get(r, "access_token"));
  json_t *ttl = json_object_get(r, "expires_in");
  if (t == NULL || *t == '\0' || !json_is_integer(ttl)) {
    json_decref(r);
    return fail(ACTOR_EPROTO, err, errlen, "clientg's reply holds no token");
  }
  *token = strdup(t);
  *expires_at = now + (int64_t)json_integer_value(ttl);
  /* The reply held the token too. */
  explicit_bzero((void *)t, strlen(t));
  json_decref(r);
  return *token ? 0 : fail(ACTOR_ENOMEM, err, errlen, "out of memory");
}

int chan_clients_delete(chan_client_t *cl, const chan_clients_req_t *req, char *err,
                        size_t errlen) {
  json_t *r = NULL;
  int rc = call(cl, req, "delete", &r, err, errlen);
  json_decref(r);
  return rc;
}

void chan_clients_token_free(char *token) {
  if (token == NULL)
    return;
  explicit_bzero(token, strlen(token));
  free(token);
}
