/* One request, start to end: check it, issue or revoke, build the reply.
 * "new" publishes the platform public key (HSET of the same value: cheap,
 * and it heals a flushed Redis), records the client under
 * actor_client_key(tenant, worker_id) with the token's lifetime, then
 * returns the token: the token is never handed out unless the record that
 * makes the API accept it exists. "delete" removes the record, which
 * revokes the token at once. Refusals are logged with the tenant, actor and
 * worker ids; secrets and tokens never are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "clientg.h"

static json_t *reply_error(const char *message) {
  return json_pack("{s:s, s:s}", "status", "error", "message", message);
}

static int record_client(clientg_t *g, const clientg_req_t *req, int64_t now) {
  char key[256];
  actor_client_key(req->tenant, req->worker_id, key, sizeof(key));
  json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tenant", req->tenant, "actor_id",
                        req->actor_id, "worker_id", req->worker_id, "owner", req->owner, "exp",
                        (json_int_t)(now + g->conf.token_ttl));
  char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (text == NULL)
    return ACTOR_ENOMEM;
  int rc = store_value_set_ttl(g->redis, key, text, g->conf.token_ttl);
  free(text);
  return rc;
}

static json_t *do_new(clientg_t *g, const clientg_req_t *req, int64_t now) {
  int rc = actor_platform_key_publish(g->redis, g->key.pub);
  if (rc == 0)
    rc = record_client(g, req, now);
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG, "tenant %s actor %s worker %s: cannot record the client: %s",
              req->tenant, req->actor_id, req->worker_id, actor_strerror(rc));
    return reply_error("the store is unavailable");
  }
  char *token = NULL;
  rc = clientg_token_issue(&g->key, req, g->conf.user_role, g->conf.token_ttl, now, &token);
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG, "tenant %s actor %s worker %s: cannot sign a token: %s", req->tenant,
              req->actor_id, req->worker_id, actor_strerror(rc));
    return reply_error("cannot sign a token");
  }
  LOG_INFO(CLIENTG_LOG, "tenant %s actor %s worker %s: token issued for %s (%ld s)", req->tenant,
           req->actor_id, req->worker_id, req->owner, g->conf.token_ttl);
  json_t *r = json_pack("{s:s, s:s, s:s, s:I}", "status", "ok", "client_id", req->worker_id,
                        "access_token", token, "expires_in", (json_int_t)g->conf.token_ttl);
  free(token);
  return r;
}

static json_t *do_delete(clientg_t *g, const clientg_req_t *req) {
  char key[256];
  actor_client_key(req->tenant, req->worker_id, key, sizeof(key));
  bool deleted = false;
  int rc = store_key_delete(g->redis, key, &deleted);
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG, "tenant %s worker %s: cannot revoke the client: %s", req->tenant,
              req->worker_id, actor_strerror(rc));
    return reply_error("the store is unavailable");
  }
  LOG_INFO(CLIENTG_LOG, "tenant %s worker %s: client %s", req->tenant, req->worker_id,
           deleted ? "revoked" : "was not there");
  return json_pack("{s:s, s:b}", "status", "ok", "deleted", deleted);
}

json_t *clientg_handle(clientg_t *g, const void *body, size_t len, int64_t now) {
  clientg_req_t req;
  char err[160];
  int rc = clientg_request_parse(body, len, g->conf.secret, &req, err, sizeof(err));
  if (rc != 0) {
    /* Only ids that passed the character checks reach the log. */
    LOG_WARN(CLIENTG_LOG, "request refused (%s): tenant '%s' worker '%s'", err, req.tenant,
             req.worker_id);
    return reply_error(err);
  }
  return req.cmd == CLIENTG_NEW ? do_new(g, &req, now) : do_delete(g, &req);
}
