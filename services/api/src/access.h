/* Identity and sharing (docs/auth.md and the sharing routes of §3), shared by
 * auth.c (who is calling), perms.c (permission maps and the per-route
 * check), aliases.c, nonces.c, configs.c, search.c and admin.c.
 *
 * Redis layout (every id is tenant-scoped, "<TENANT>_<name>"; tenants may
 * contain '_' (dev_staging), so an actor db_id or a nonce id splits at its
 * last '_' (hashids hold none), and an alias or config id, whose name may
 * hold '_' too, is never split: its record's `tenant` says whose it is):
 *   abaco:perms:actor:<db_id>       hash user -> "READ" | "EXECUTE" | "UPDATE"
 *   abaco:perms:alias:<alias_id>    the same for an alias
 *   abaco:perms:config:<config_id>  the same for a config
 *   abaco:alias:<alias_id>          record {alias, alias_id, actor_id, db_id, owner, tenant,
 *                                   create_time}
 *   abaco:aliases                   set of every alias_id (SADD claims a name)
 *   abaco:aliases_of:<db_id>        set of the alias_ids of an actor
 *   abaco:nonce:<nonce_id>          record {id, owner, roles, level, max_uses, current_uses,
 *                                   actor_id, alias, scope, tenant, create_time,
 *                                   last_use_time, description, api_server}
 *   abaco:nonces:<scope>            set of the nonce ids of "actor:<db_id>" or
 *                                   "alias:<alias_id>"
 *   abaco:config:<config_id>        record {name, value, is_secret, actors, db_ids, owner,
 *                                   tenant, create_time, last_update_time}; a secret
 *                                   value is actor_secret_encrypt(JSON text of the value,
 *                                   aad = config_id)
 *   abaco:configs                   set of every config_id
 *   abaco:actor_configs:<db_id>     set of the config_ids that list the actor (what a
 *                                   worker reads to build _actor_configs)
 *   abaco:actors_total              hash tenant -> actors ever registered
 * Records are store_record.h hashes (one JSON text per field). */
#ifndef API_ACCESS_H
#define API_ACCESS_H

#include <pthread.h>
#include <stdbool.h>

#include "actor/auth.h"
#include "actor/ids.h"
#include "actor/model.h"
#include "actor/secret.h"
#include "api.h"
#include "actor/plugin.h"

#define API_ROLE_ADMIN "Internal/abaco-admin"
#define API_ROLE_PRIVILEGED "Internal/abaco-privileged"
#define API_ROLE_LIMITED "Internal/abaco-limited"
#define API_WORLD_USER "ABACO_WORLD"

/* Tenant keys found in the config ([web] <tenant>_apim_public_key). */
#define API_TENANT_KEYS_MAX 64

typedef struct {
  char tenant[ACTOR_AUTH_TENANT_MAX];
  actor_jwt_key_t *key;
} api_tenant_key_t;

struct api_access_s {
  bool jwt;              /* [web] access_control = jwt */
  bool accept_nonce;     /* [web] accept_nonce */
  const char *user_role; /* [web] user_role */
  actor_jwt_cache_t *jwt_cache;
  actor_platform_keys_t *platform_keys;
  actor_jwt_key_t *apim_key; /* [web] apim_public_key, or NULL */
  bool exp_ms;               /* [web] jwt_exp_milliseconds: APIM tokens' exp in ms */
  /* [web] <tenant>_apim_public_key, filled at start-up, then only read */
  api_tenant_key_t tenant_keys[API_TENANT_KEYS_MAX];
  size_t ntenant_keys;
  actor_secret_key_t secret; /* [web] encryption_key; .set false when empty */
  actor_hashids_t *hashids;  /* for "hashid-like" alias names */
  /* [web] access_control = plugin: the auth plugin and the groups that
   * give each role ([plugins] admin_groups, privileged_groups,
   * user_groups; comma separated, as written) */
  actor_plugin_t *plugin;
  const char *admin_groups, *privileged_groups, *user_groups;
};
typedef struct api_access_s api_access_t;

/* auth.c: start-up and shutdown (main.c). 0 or ACTOR_ECONFIG after
 * logging the key that is wrong. */
int api_access_init(api_ctx_t *c);
void api_access_free(api_ctx_t *c);
/* Sets the role flags of r->ident from r->ident.roles; false when none of
 * the four abaco roles is there. */
bool api_ident_roles(api_req_t *r);

/* A new actor (before it is stored): the owner's UPDATE, and one more in
 * the tenant's count of actors ever registered (utilization). */
int api_actor_registered(api_req_t *r, const char *db_id);
#define API_KEY_ACTORS_TOTAL "abaco:actors_total" /* hash tenant -> count */

/* perms.c */
const char *api_level_name(api_level_t level);
/* "READ"/"EXECUTE"/"UPDATE"/"NONE" in any case; -1 when it is none of them. */
int api_level_parse(const char *text);
/* The permission map key of an object: kind is "actor", "alias" or "config". */
void api_perms_key(const char *kind, const char *id, char *out, size_t size);
/* The level the caller holds on an object (admins: UPDATE). */
int api_level_of(api_req_t *r, const char *kind, const char *id, api_level_t *out);
/* Whether the caller's own user name has an entry in the object's map
 * (no ABACO_WORLD, no admin rule): how Abaco scopes search. */
int api_own_entry(api_req_t *r, const char *kind, const char *id, bool *out);
/* 0 when the caller holds `level` on the object; else answers 400
 * "Not authorized -- you do not have access to this <noun>." (or a store
 * error) and returns -1. */
int api_require_level(api_req_t *r, const char *kind, const char *id, api_level_t level,
                      const char *noun);
/* Whether a record's `tenant` is the caller's: an alias or config id does
 * not tell (see the top of this file). */
bool api_record_in_tenant(api_req_t *r, const json_t *rec);
/* The record of the path's alias or config once loaded (rc, rec: what the
 * load gave; rec is taken): answers 404 "<Noun> <name> not found." (also
 * for a record of another tenant), a store error, or 400 when the caller
 * lacks `level` on the object whose id is rec[id_field], and returns NULL
 * then; else returns rec. */
json_t *api_checked_record(api_req_t *r, int rc, json_t *rec, const char *kind,
                           const char *id_field, api_level_t level, const char *noun);
int api_perms_grant(api_req_t *r, const char *kind, const char *id, const char *user,
                    api_level_t level);
int api_perms_forget(api_req_t *r, const char *kind, const char *id);
/* The object of a route's path when the caller holds `level` on it (new
 * reference), or NULL after answering 404/400. */
typedef json_t *(*api_load_fn)(api_req_t *r, api_level_t level);
/* The /permissions routes of an object of `kind`: GET answers its map
 * (needs READ), POST gives a user a level (needs UPDATE). load finds the
 * object and checks the level; id_field names its id in the record. */
void api_perms_route(api_req_t *r, const char *kind, api_load_fn load, const char *id_field);
/* The router's check after an actor route resolved {id}: the level the
 * method needs, and the nonce's scope, level and uses. 0 or -1 after
 * answering. `pattern` is the route's pattern. */
int api_authorize(api_req_t *r, const char *pattern, bool actor_route);
void api_actor_perms(api_req_t *r); /* GET and POST /actors/{id}/permissions */

/* Room for the Redis key of any record a listing reads. */
#define API_RECORD_KEY_MAX (MODEL_KEY_MAX + 32)
/* How api_list_readable shows one kind of record. */
typedef struct {
  /* The permission map of the ids ("alias", "config"): only ids of the
   * caller's tenant on which it holds READ are listed. NULL lists every
   * id (the route has checked the caller's level on the whole set). */
  const char *kind;
  /* What a store error names ("alias", "nonce"), and the answer's message. */
  const char *noun, *message;
  /* The record key of an id (out has API_RECORD_KEY_MAX bytes). */
  void (*key)(const char *id, char *out);
  /* What clients see of a record (new reference). */
  json_t *(*display)(api_req_t *r, const json_t *rec);
} api_listing_t;
/* Answers the records whose ids are members of the set index_key, in
 * the set's order, skipping ids whose record is gone; or a store error. */
void api_list_readable(api_req_t *r, const char *index_key, const api_listing_t *l);

/* aliases.c */
/* Whether text may be an alias (characters, length, reserved words,
 * not hashid-like); when not, *why says what is wrong. */
bool api_alias_valid(api_access_t *a, const char *alias, const char **why);
/* The alias record of `alias` in the caller's tenant (new reference), or
 * ACTOR_ENOTFOUND. */
int api_alias_get(api_req_t *r, const char *alias, json_t **out);
/* Removes every alias of an actor (with their permissions and nonces). */
int api_aliases_forget_actor(api_req_t *r, const char *db_id);
void api_aliases_list(api_req_t *r);
void api_alias_create(api_req_t *r);
void api_alias_get_route(api_req_t *r);
void api_alias_update(api_req_t *r);
void api_alias_delete(api_req_t *r);
void api_alias_perms(api_req_t *r);
void api_alias_nonces(api_req_t *r); /* the four /actors/aliases/{alias}/nonces routes */

/* nonces.c */
/* Authenticates r with the nonce id (?x-nonce=): fills r->ident from the
 * nonce. 0, or -1 after answering 401. */
int api_nonce_authenticate(api_req_t *r, const char *nonce_id);
/* Atomically uses the caller's nonce once; 0, or -1 after answering. */
int api_nonce_redeem(api_req_t *r);
/* Deletes every nonce of a scope ("actor:<db_id>" or "alias:<alias_id>"). */
int api_nonces_forget(api_req_t *r, const char *scope);
/* The nonce routes of a scope, told apart by method and path: GET and
 * POST .../nonces, GET and DELETE .../nonces/{nid} (r->params[1]).
 * actor_id and alias name what a new nonce is for (alias NULL for an
 * actor's nonces). */
void api_nonce_route(api_req_t *r, const char *scope, const char *actor_id, const char *alias);
void api_actor_nonces(api_req_t *r); /* the four /actors/{id}/nonces routes */

/* configs.c */
int api_configs_forget_actor(api_req_t *r, const char *db_id);
void api_configs_list(api_req_t *r);
void api_config_create(api_req_t *r);
void api_config_get(api_req_t *r);
void api_config_update(api_req_t *r);
void api_config_delete(api_req_t *r);
void api_config_perms(api_req_t *r);

/* search.c, search_mongo.c */
void api_search(api_req_t *r);

/* admin.c */
void api_admin_actors(api_req_t *r);
void api_admin_workers(api_req_t *r);
void api_admin_executions(api_req_t *r);
void api_utilization(api_req_t *r);

#endif
