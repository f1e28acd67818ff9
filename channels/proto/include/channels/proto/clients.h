/* The `clients` channel seen from its callers (the spawner asks for a
 * worker's access token, the worker renews it and revokes it when it goes):
 * request/reply with clientg (docs/architecture.md "Channels").
 *
 *   request  {command: "new"|"delete", tenant, actor_id, worker_id, owner, secret}
 *   reply    {status: "ok", client_id, access_token, expires_in}   (new)
 *            {status: "ok", deleted}                                 (delete)
 *            {status: "error", message}
 *
 * Blocking: call from libuv's thread pool. */
#ifndef CHANNELS_PROTO_CLIENTS_H
#define CHANNELS_PROTO_CLIENTS_H

#include "actor/errors.h"

#include <stddef.h>
#include <stdint.h>

#include "channels/chan.h"
#include "channels/proto/name.h"

/* How long a caller waits for clientg's reply. */
#define CHAN_CLIENTS_TIMEOUT_MS 10000

typedef struct {
  const char *queue;  /* [clientg] queue */
  const char *secret; /* [clientg] secret */
  const char *tenant;
  const char *actor_id; /* the actor's db_id */
  const char *worker_id;
  const char *owner; /* the actor's owner: whose token it is */
} chan_clients_req_t;

/* Asks for a new token. *token is malloc'd (transferred; wipe it with
 * chan_clients_token_free), *expires_at the time (seconds since the epoch,
 * from `now` and the reply's expires_in) it stops being accepted.
 * 0; ACTOR_EAUTH when clientg refused (err gets its message);
 * ACTOR_ETIMEDOUT or ACTOR_ECONN when it did not answer; ACTOR_EPROTO for
 * an unreadable reply. */
ACTOR_MUST_CHECK
int chan_clients_new(chan_client_t *cl, const chan_clients_req_t *req, int64_t now, char **token,
                     int64_t *expires_at, char *err, size_t errlen);
/* Revokes the worker's token (the API refuses it from then on). Same codes. */
ACTOR_MUST_CHECK
int chan_clients_delete(chan_client_t *cl, const chan_clients_req_t *req, char *err, size_t errlen);
/* Wipes and frees a token; NULL is fine. */
void chan_clients_token_free(char *token);

#endif
