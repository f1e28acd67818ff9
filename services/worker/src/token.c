/* The worker's access token (`_abaco_access_token`, docs/api.md "What a container sees"): issued by
 * clientg for the actor's owner when the spawner starts the worker (handed
 * over in the environment, see spawner/src/clients.c), renewed here when a
 * quarter of its lifetime is left, and revoked when the worker stops, so
 * the API refuses it from then on.
 *
 * Only the execution thread (one execution at a time) and, once the worker
 * is idle and stopping, the stop work touch the token: no lock. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "channels/proto/clients.h"
#include "worker.h"

/* Smallest lead time before expiry at which a token is renewed. */
#define RENEW_MIN_S 30

void worker_token_adopt(worker_t *w) {
  const char *t = getenv(WORKER_ENV_TOKEN), *exp = getenv(WORKER_ENV_TOKEN_EXPIRES);
  if (t != NULL && *t && exp != NULL) {
    w->token = strdup(t);
    w->token_exp = strtoll(exp, NULL, 10);
    w->token_life = w->token_exp - (int64_t)time(NULL);
  }
  unsetenv(WORKER_ENV_TOKEN);
  unsetenv(WORKER_ENV_TOKEN_EXPIRES);
}

static chan_clients_req_t request_of(const worker_t *w, const json_t *actor) {
  return (chan_clients_req_t){.queue = w->clientg_queue,
                              .secret = w->clientg_secret,
                              .tenant = actor_json_str(actor, "tenant", ""),
                              .actor_id = w->db_id,
                              .worker_id = w->wid,
                              .owner = actor_json_str(actor, "owner", "")};
}

int worker_token_get(worker_t *w, const json_t *actor, char **out) {
  *out = NULL;
  if (!w->exec.generate_clients || !actor_json_bool(actor, "token", false))
    return 0;
  int64_t now = (int64_t)time(NULL);
  int64_t lead = w->token_life / 4 > RENEW_MIN_S ? w->token_life / 4 : RENEW_MIN_S;
  if (w->token == NULL || w->token_exp - now < lead) {
    char *fresh = NULL, err[160] = "";
    int64_t exp = 0;
    chan_clients_req_t req = request_of(w, actor);
    int rc = chan_clients_new(w->results, &req, now, &fresh, &exp, err, sizeof(err));
    if (rc == 0) {
      chan_clients_token_free(w->token);
      w->token = fresh;
      w->token_exp = exp;
      w->token_life = exp - now;
      LOG_INFO("worker", "worker %s: access token renewed", w->wid);
    } else if (w->token != NULL && w->token_exp > now + 5) {
      LOG_WARN("worker", "worker %s: cannot renew the access token (%s): using the current one",
               w->wid, err);
    } else {
      LOG_ERROR("worker", "worker %s: no access token for the execution: %s%s", w->wid, err,
                rc == ACTOR_EAUTH ? " (check [clientg] secret)" : "");
      /* The message waits for clientg rather than run without its token. */
      return ACTOR_ECONN;
    }
  }
  *out = strdup(w->token);
  return *out ? 0 : ACTOR_ENOMEM;
}

void worker_token_revoke(worker_t *w) {
  if (w->token == NULL)
    return;
  chan_clients_token_free(w->token);
  w->token = NULL;
  /* The actor may be gone already (a deleted actor's workers stop after
   * its record): a delete needs only the tenant and the worker id. */
  chan_clients_req_t req = {.queue = w->clientg_queue,
                            .secret = w->clientg_secret,
                            .tenant = w->tenant,
                            .worker_id = w->wid};
  char err[160] = "";
  int rc = chan_clients_delete(w->results, &req, err, sizeof(err));
  if (rc != 0)
    LOG_WARN("worker", "worker %s: cannot revoke its access token: %s (it expires by itself)",
             w->wid, err);
  else
    LOG_INFO("worker", "worker %s: access token revoked", w->wid);
}
