/* clientg's configuration: [clientg] queue, secret, private_key_file,
 * token_ttl, and [web] user_role (the role its tokens carry). */
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "clientg.h"

int clientg_conf_load(const actor_config_t *cfg, clientg_conf_t *out) {
  memset(out, 0, sizeof(*out));
  out->queue = actor_config_get(cfg, "clientg", "queue", CHAN_CLIENTS);
  out->secret = actor_config_get(cfg, "clientg", "secret", "");
  out->key_file = actor_config_get(cfg, "clientg", "private_key_file", "");
  if (*out->key_file == '\0')
    out->key_file = CLIENTG_DEFAULT_KEY_FILE;
  out->user_role = actor_config_get(cfg, "web", "user_role", "Internal/abaco-user");
  if (actor_config_get_int(cfg, "clientg", "token_ttl", CLIENTG_DEFAULT_TTL, &out->token_ttl))
    return ACTOR_ECONFIG;
  if (out->token_ttl < 60 || out->token_ttl > CLIENTG_MAX_TTL) {
    LOG_ERROR(CLIENTG_LOG, "[clientg] token_ttl: %ld is not between 60 and %d seconds",
              out->token_ttl, CLIENTG_MAX_TTL);
    return ACTOR_ECONFIG;
  }
  if (*out->queue == '\0' || strlen(out->queue) >= CHAN_NAME_MAX) {
    LOG_ERROR(CLIENTG_LOG, "[clientg] queue: not a usable queue name");
    return ACTOR_ECONFIG;
  }
  if (*out->user_role == '\0' || strchr(out->user_role, ',') != NULL) {
    LOG_ERROR(CLIENTG_LOG, "[web] user_role: '%s' is not one role", out->user_role);
    return ACTOR_ECONFIG;
  }
  if (*out->secret == '\0')
    LOG_WARN(CLIENTG_LOG, "[clientg] secret is empty: every request will be refused");
  return 0;
}
