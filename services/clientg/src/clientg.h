/* clientg: issues per-worker access tokens and revokes them (docs/architecture.md
 * "Processes", the `clients` channel). Private to the service.
 *
 *   config.c   [clientg] and [web] keys it needs
 *   key.c      the platform key pair: loaded, or generated at first start
 *   request.c  a request body -> a checked request (no I/O)
 *   token.c    signing an access token (no I/O)
 *   handle.c   one request: check, act on Redis, build the reply
 *   serve.c    the channel: consume, run handle on the thread pool, reply, ack
 *   main.c     wiring */
#ifndef CLIENTG_H
#define CLIENTG_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/auth.h"
#include "actor/config.h"
#include "actor/service.h"
#include "actor/store.h"
#include "channels/chan.h"
#include "channels/proto/name.h"

#define CLIENTG_LOG "clientg"
#define CLIENTG_DEFAULT_KEY_FILE "var/clientg/platform_key.pem"
#define CLIENTG_DEFAULT_TTL 3600
#define CLIENTG_MAX_TTL (7 * 24 * 3600)
/* Largest request body read. */
#define CLIENTG_MAX_BODY (64 * 1024)
#define CLIENTG_ID_MAX 128

typedef struct {
  const char *queue;     /* [clientg] queue, default "clients" */
  const char *secret;    /* [clientg] secret; "" refuses every request */
  long token_ttl;        /* [clientg] token_ttl seconds */
  const char *key_file;  /* [clientg] private_key_file */
  const char *user_role; /* [web] user_role */
} clientg_conf_t;

/* Reads the keys; ACTOR_ECONFIG (logged, naming the key) for a bad value.
 * Strings are borrowed from cfg. */
int clientg_conf_load(const actor_config_t *cfg, clientg_conf_t *out);

typedef struct {
  char *priv_pem; /* PEM private key (wiped on free) */
  size_t priv_len;
  actor_jwt_key_t *pub;
  char kid[ACTOR_AUTH_KID_MAX];
} clientg_key_t;

/* Loads the RSA private key (at least 2048 bits) from path; when the file
 * does not exist, generates an RSA-2048 key and writes it there (mode 0600,
 * missing directories 0700) first. *generated (may be NULL) tells which. */
int clientg_key_load(const char *path, clientg_key_t *k, bool *generated);
void clientg_key_free(clientg_key_t *k);

typedef enum { CLIENTG_NEW, CLIENTG_DELETE } clientg_cmd_t;

typedef struct {
  clientg_cmd_t cmd;
  char tenant[ACTOR_AUTH_TENANT_MAX]; /* upper case */
  char actor_id[CLIENTG_ID_MAX];
  char worker_id[CLIENTG_ID_MAX];
  char owner[ACTOR_AUTH_USER_MAX];
} clientg_req_t;

/* Parses and checks one request body against the configured secret
 * (compared in constant time; an empty configured secret matches nothing).
 * 0; ACTOR_EAUTH for a missing or wrong secret; ACTOR_EINVAL for anything
 * else wrong. `err` gets a message for the reply and the log, which never
 * contains the secret. After a failure out->tenant and out->worker_id hold
 * the ids the body claims if they are well formed (for the log). */
int clientg_request_parse(const void *body, size_t len, const char *secret, clientg_req_t *out,
                          char *err, size_t errlen);

/* Signs the access token for req (see actor/auth.h "platform tokens").
 * *token is malloc'd (transferred). */
int clientg_token_issue(const clientg_key_t *k, const clientg_req_t *req, const char *role,
                        long ttl, int64_t now, char **token);

typedef struct clientg_s clientg_t;
typedef void (*clientg_idle_fn)(clientg_t *g);

struct clientg_s {
  actor_service_t *svc;
  clientg_conf_t conf;
  clientg_key_t key;
  store_redis_t *redis;
  chan_conn_t *conn;
  int inflight;
  bool stopping;
  clientg_idle_fn on_idle;
};

/* One request from body to reply object (new reference, never NULL unless
 * out of memory): {status:"ok", client_id, access_token, expires_in} for
 * "new", {status:"ok"} for "delete", {status:"error", message} otherwise.
 * Blocking (Redis): run it on the thread pool. Logs refusals. */
json_t *clientg_handle(clientg_t *g, const void *body, size_t len, int64_t now);

/* Starts consuming conf.queue on g->conn. */
int clientg_serve_start(clientg_t *g);
/* Stops consuming; done runs (on the loop) once no request is in flight. */
void clientg_serve_stop(clientg_t *g, clientg_idle_fn done);

#endif
