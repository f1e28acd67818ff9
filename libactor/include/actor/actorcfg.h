/* Actor configs (docs/api.md "Aliases, nonces, permissions, configs") as
 * the containers see them: the value of `_actor_configs`. The api writes
 * them (services/api/src/configs.c, layout in services/api/src/access.h);
 * a worker reads them here for each execution, so an update shows in the
 * next one.
 *
 *   abaco:config:<config_id>      record {name, value, is_secret, config_id, ...};
 *                                 a secret value is actor_secret_encrypt() of the
 *                                 value's JSON text, aad = config_id
 *   abaco:actor_configs:<db_id>   set of the config_ids that list the actor */
#ifndef ACTOR_ACTORCFG_H
#define ACTOR_ACTORCFG_H

#include "actor/errors.h"

#include <jansson.h>

#include "actor/model.h"
#include "actor/secret.h"
#include "actor/store.h"

#define ACTORCFG_KEY_MAX (MODEL_KEY_MAX + 32)

void actorcfg_key(const char *config_id, char out[ACTORCFG_KEY_MAX]);
void actorcfg_index_key(const char *db_id, char out[ACTORCFG_KEY_MAX]);

/* The configs that list the actor as one JSON object {name: value}, secret
 * values decrypted (new reference in *out; "{}" when none). A secret that
 * cannot be decrypted (no key, another key) is left out and named in the
 * log, never passed on in its encrypted form. A config id in the index
 * whose record is gone is skipped. ACTOR_ECONN/ACTOR_ESTORE when Redis
 * fails. key may be NULL or unset (then every secret is left out). */
ACTOR_MUST_CHECK
int actorcfg_for_actor(store_redis_t *r, const actor_secret_key_t *key, const char *db_id,
                       json_t **out);

#endif
