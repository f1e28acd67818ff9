/* Access tokens for new workers ([workers] generate_clients): before a
 * worker of an actor with `token` true starts, the spawner asks clientg for
 * a token for the actor's owner (channels/proto/clients.h) and hands it to the
 * worker process in its environment (never on its command line, which any
 * local user can read). When a worker dies by a signal, its token is
 * revoked here; a worker that stops revokes its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/errors.h"
#include "actor/execconf.h"
#include "actor/json.h"
#include "actor/log.h"
#include "channels/proto/clients.h"
#include "spawner.h"

int spawner_clients_init(spawner_t *sp, const actor_config_t *cfg, const char *uri) {
  sp->cfg = cfg;
  /* Checks every execution setting, for every tenant (actor/execconf.h). */
  if (actor_execconf_check(cfg, &sp->generate_clients) != 0)
    return ACTOR_ECONFIG;
  sp->clientg_queue = actor_config_get(cfg, "clientg", "queue", CHAN_CLIENTS);
  sp->clientg_secret = actor_config_get(cfg, "clientg", "secret", "");
  if (!sp->generate_clients)
    return 0;
  if (*sp->clientg_secret == '\0') {
    LOG_ERROR("spawner", "[clientg] secret: must be set when [workers] generate_clients is on "
                         "(for some tenant or all; clientg refuses requests without it)");
    return ACTOR_ECONFIG;
  }
  return chan_client_new(uri, 2, &sp->clients);
}

int spawner_token_new(spawner_t *sp, const json_t *actor, const char *db_id, const char *wid,
                      char **token, int64_t *expires_at) {
  *token = NULL;
  bool on = false;
  if (!sp->generate_clients || !actor_json_bool(actor, "token", false) ||
      actor_config_get_tenant_bool(sp->cfg, "workers", actor_json_str(actor, "tenant", ""),
                                   "generate_clients", false, &on) != 0 ||
      !on)
    return 0;
  chan_clients_req_t req = {.queue = sp->clientg_queue,
                            .secret = sp->clientg_secret,
                            .tenant = actor_json_str(actor, "tenant", ""),
                            .actor_id = db_id,
                            .worker_id = wid,
                            .owner = actor_json_str(actor, "owner", "")};
  char err[160] = "";
  int rc =
      chan_clients_new(sp->clients, &req, (int64_t)time(NULL), token, expires_at, err, sizeof(err));
  if (rc != 0)
    LOG_ERROR("spawner", "worker %s of actor %s: no access token from clientg: %s%s", wid, db_id,
              err, rc == ACTOR_EAUTH ? " (check [clientg] secret)" : "");
  return rc;
}

void spawner_token_revoke(spawner_t *sp, const char *tenant, const char *wid) {
  if (!sp->generate_clients || tenant == NULL || *tenant == '\0')
    return;
  chan_clients_req_t req = {
      .queue = sp->clientg_queue, .secret = sp->clientg_secret, .tenant = tenant, .worker_id = wid};
  char err[160] = "";
  int rc = chan_clients_delete(sp->clients, &req, err, sizeof(err));
  if (rc != 0)
    LOG_WARN("spawner",
             "dead worker %s: cannot revoke its access token: %s (it expires by "
             "itself)",
             wid, err);
}
