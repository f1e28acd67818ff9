/* Who is calling (docs/auth.md), and the actor lookups every route shares.
 * With [web] access_control = none the caller is `anonymous` with every
 * role, in the tenant named by the `tenant` header (or [web] tenant_name).
 * With jwt, the first `X-Jwt-Assertion-<TENANT>` header, else an
 * `Authorization: Bearer` token, is verified by libactor (auth.h) with the
 * tenant's APIM key (or, for clientg's tokens, the platform key of their
 * kid); without a token, `?x-nonce=` authenticates as the nonce's owner
 * (nonces.c) when [web] accept_nonce is on. Any failure is a 401 naming
 * what is wrong; a caller with none of the abaco roles gets 400.
 *
 * A Bearer token names its tenant in its `tenant` claim (or none: then
 * [web] tenant_name); that claim is read before verification only to pick
 * the key, and the verified identity must carry the same tenant, so a key
 * of one tenant never vouches for another.
 *
 * With plugin, the auth plugin ([plugins] auth, actor/plugin.h) turns the
 * headers a front proxy set into a user and groups, and [plugins]
 * admin_groups / privileged_groups / user_groups give the roles; the
 * tenant is [web] tenant_name. No identity is a 401.
 *
 * Every key and tenant setting is read and checked at start-up (a bad one
 * stops the api naming its key); afterwards the tenant key table is only
 * read, by every request thread, without a lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_record.h"

/* ---- start-up ---- */

typedef struct {
  api_access_t *a;
  int rc;
} key_scan_t;

/* actor_config_each callback: one [web] <tenant>_apim_public_key (from
 * the file, or from the environment in either case). */
static void scan_tenant_key(const char *key, const char *value, void *ud) {
  static const char SUFFIX[] = "_apim_public_key";
  key_scan_t *s = ud;
  size_t n = strlen(key), m = sizeof(SUFFIX) - 1;
  if (n <= m || strcasecmp(key + n - m, SUFFIX) != 0 || value == NULL || *value == '\0')
    return;
  char raw[ACTOR_AUTH_TENANT_MAX], tenant[ACTOR_AUTH_TENANT_MAX];
  size_t tl = n - m;
  bool named = tl < sizeof(raw);
  if (named) {
    memcpy(raw, key, tl);
    raw[tl] = '\0';
    named = actor_tenant_norm(raw, tenant, sizeof(tenant)) == 0;
  }
  if (!named) {
    LOG_ERROR("api",
              "[web] %.120s: '%.*s' is not a tenant name (1 to %d letters, digits, '_', '-' "
              "or '.')",
              key, (int)(tl > 80 ? 80 : tl), key, ACTOR_AUTH_TENANT_MAX - 1);
    s->rc = ACTOR_ECONFIG;
    return;
  }
  api_access_t *a = s->a;
  for (size_t i = 0; i < a->ntenant_keys; i++)
    if (strcmp(a->tenant_keys[i].tenant, tenant) == 0) /* another spelling: the first wins */
      return;
  actor_jwt_key_t *k = NULL;
  if (actor_jwt_key_parse(value, &k) != 0) {
    LOG_ERROR("api", "[web] %.120s: not an RSA public key (base64 of a DER "
                     "SubjectPublicKeyInfo, or PEM)", key);
    s->rc = ACTOR_ECONFIG;
    return;
  }
  actor_jwt_key_set_exp_ms(k, a->exp_ms);
  if (a->ntenant_keys == API_TENANT_KEYS_MAX) {
    LOG_ERROR("api", "[web] %s: more than %d tenant keys", key, API_TENANT_KEYS_MAX);
    actor_jwt_key_free(k);
    s->rc = ACTOR_ECONFIG;
    return;
  }
  snprintf(a->tenant_keys[a->ntenant_keys].tenant, ACTOR_AUTH_TENANT_MAX, "%s", tenant);
  a->tenant_keys[a->ntenant_keys++].key = k;
}

int api_access_init(api_ctx_t *c) {
  api_access_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return ACTOR_ENOMEM;
  c->access = a;
  a->jwt = strcmp(c->access_control, "jwt") == 0;
  a->user_role = actor_config_get(c->cfg, "web", "user_role", "Internal/abaco-user");
  if (actor_config_get_bool(c->cfg, "web", "accept_nonce", true, &a->accept_nonce) != 0 ||
      actor_config_get_bool(c->cfg, "web", "jwt_exp_milliseconds", false, &a->exp_ms) != 0)
    return ACTOR_ECONFIG;
  int rc = actor_jwt_cache_new(0, 0, &a->jwt_cache);
  if (rc == 0)
    rc = actor_platform_keys_new(c->redis, &a->platform_keys);
  if (rc == 0)
    rc = actor_hashids_new(actor_config_get(c->cfg, "general", "id_salt", ACTOR_DEFAULT_SALT), 0,
                           NULL, &a->hashids);
  if (rc != 0) {
    LOG_ERROR("api", "cannot set up authentication: %s", actor_strerror(rc));
    return rc;
  }
  const char *pk = actor_config_get(c->cfg, "web", "apim_public_key", "");
  if (*pk && actor_jwt_key_parse(pk, &a->apim_key) != 0) {
    LOG_ERROR("api", "[web] apim_public_key: not an RSA public key (base64 of a DER "
                     "SubjectPublicKeyInfo, or PEM)");
    return ACTOR_ECONFIG;
  }
  actor_jwt_key_set_exp_ms(a->apim_key, a->exp_ms);
  key_scan_t scan = {a, 0};
  actor_config_each(c->cfg, "web", scan_tenant_key, &scan);
  if (scan.rc != 0)
    return scan.rc;
  if (a->jwt && a->apim_key == NULL && a->ntenant_keys == 0)
    LOG_WARN("api", "[web] access_control = jwt but no apim_public_key is set: only clientg "
                    "tokens and nonces can authenticate");
  /* ACTOR_ECONFIG only for an empty key, which leaves secret.set false:
   * secret configs are then refused. */
  ACTOR_IGNORE(
      actor_secret_key_init(&a->secret, actor_config_get(c->cfg, "web", "encryption_key", "")));
  if (strcmp(c->access_control, "plugin") == 0) {
    a->admin_groups = actor_config_get(c->cfg, "plugins", "admin_groups", "");
    a->privileged_groups = actor_config_get(c->cfg, "plugins", "privileged_groups", "");
    a->user_groups = actor_config_get(c->cfg, "plugins", "user_groups", "");
    if (*actor_config_get(c->cfg, "plugins", "auth", "") == '\0') {
      LOG_ERROR("api", "[web] access_control = plugin needs [plugins] auth (the plugin's file "
                       "in [plugins] dir)");
      return ACTOR_ECONFIG;
    }
    rc = actor_plugin_load(c->cfg, ACTOR_PLUGIN_AUTH, NULL, &a->plugin);
    if (rc != 0)
      return rc;
  }
  LOG_INFO("api", "access control %s%s%s, default tenant %s", c->access_control,
           a->jwt ? (a->accept_nonce ? " (nonces accepted)" : " (nonces refused)") : "",
           a->jwt ? (a->exp_ms ? ", JWT exp in milliseconds" : ", JWT exp in seconds") : "",
           c->tenant_name);
  return 0;
}

void api_access_free(api_ctx_t *c) {
  api_access_t *a = c->access;
  if (a == NULL)
    return;
  actor_jwt_cache_free(a->jwt_cache);
  actor_platform_keys_free(a->platform_keys);
  actor_jwt_key_free(a->apim_key);
  for (size_t i = 0; i < a->ntenant_keys; i++)
    actor_jwt_key_free(a->tenant_keys[i].key);
  actor_secret_key_wipe(&a->secret);
  actor_hashids_free(a->hashids);
  actor_plugin_unload(a->plugin);
  free(a);
  c->access = NULL;
}

/* The APIM key of a tenant (upper case): its own <tenant>_apim_public_key,
 * else [web] apim_public_key; NULL when there is none. */
static const actor_jwt_key_t *key_for(api_ctx_t *c, const char *tenant) {
  api_access_t *a = c->access;
  for (size_t i = 0; i < a->ntenant_keys; i++)
    if (strcmp(a->tenant_keys[i].tenant, tenant) == 0)
      return a->tenant_keys[i].key;
  return a->apim_key;
}

bool api_ident_roles(api_req_t *r) {
  api_ident_t *id = &r->ident;
  const char *user_role = r->ctx->access->user_role;
  id->admin = actor_roles_have(id->roles, API_ROLE_ADMIN);
  id->privileged = actor_roles_have(id->roles, API_ROLE_PRIVILEGED);
  return id->admin || id->privileged || actor_roles_have(id->roles, user_role) ||
         actor_roles_have(id->roles, API_ROLE_LIMITED);
}

static int authenticate_none(api_req_t *r) {
  const char *tenant = ahttp_kvs_get(&r->http->headers, "tenant", 1);
  if (tenant == NULL || *tenant == '\0')
    tenant = r->ctx->tenant_name;
  if (actor_tenant_norm(tenant, r->ident.tenant, sizeof(r->ident.tenant)) != 0) {
    api_error(r, 400,
              "Invalid tenant: '%.80s' (1 to %d letters, digits, '_', '-' or '.').", tenant,
              ACTOR_AUTH_TENANT_MAX - 1);
    return -1;
  }
  snprintf(r->ident.username, sizeof(r->ident.username), "anonymous");
  snprintf(r->ident.roles, sizeof(r->ident.roles), "%s,%s,%s", API_ROLE_ADMIN, API_ROLE_PRIVILEGED,
           r->ctx->access->user_role);
  r->ident.admin = true;
  r->ident.privileged = true;
  return 0;
}

static int authenticate_jwt(api_req_t *r, const char *token, const char *asserted) {
  api_ctx_t *c = r->ctx;
  api_access_t *a = c->access;
  char key_tenant[ACTOR_AUTH_TENANT_MAX];
  if (asserted != NULL) {
    if (actor_tenant_norm(asserted, key_tenant, sizeof(key_tenant)) != 0) {
      api_error(r, 401, "Invalid JWT: the tenant '%.64s' is not a valid tenant name.", asserted);
      return -1;
    }
  } else if (actor_jwt_peek_tenant(token, key_tenant, sizeof(key_tenant)) != 0) {
    /* no usable claim: the default tenant (verification refuses a bad one) */
    snprintf(key_tenant, sizeof(key_tenant), "%s", c->tenant_name);
  }
  actor_auth_keys_t keys = {a->jwt_cache, key_for(c, key_tenant), a->platform_keys, c->redis};
  actor_identity_t id;
  char reason[ACTOR_AUTH_REASON_MAX] = "";
  int rc = actor_auth_verify(&keys, token, asserted ? key_tenant : NULL, c->tenant_name,
                             (int64_t)time(NULL), &id, reason, sizeof(reason));
  if (rc == ACTOR_EAUTH) {
    api_error(r, 401, "Invalid JWT: %s", *reason ? reason : "the token could not be verified.");
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "token");
    return -1;
  }
  /* The key was chosen for key_tenant: the token must be of that tenant
   * (platform tokens are chosen by kid and tied to their tenant by their
   * client key in Redis). */
  if (actor_tenant_norm(id.tenant, r->ident.tenant, sizeof(r->ident.tenant)) != 0 ||
      (!id.platform && strcmp(r->ident.tenant, key_tenant) != 0)) {
    api_error(r, 401, "Invalid JWT: the token is not valid for tenant %s.", key_tenant);
    return -1;
  }
  snprintf(r->ident.username, sizeof(r->ident.username), "%s", id.username);
  snprintf(r->ident.roles, sizeof(r->ident.roles), "%s", id.roles);
  if (!api_ident_roles(r)) {
    api_error(r, 400, "Not authorized -- missing required role.");
    return -1;
  }
  return 0;
}

/* Whether the comma-separated `groups` and `wanted` share a group. */
static bool groups_meet(const char *groups, const char *wanted) {
  for (const char *w = wanted; *w;) {
    size_t n = strcspn(w, ",");
    const char *b = w, *e = w + n;
    while (b < e && (*b == ' ' || *b == '\t'))
      b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    for (const char *g = groups; e > b && *g;) {
      size_t m = strcspn(g, ",");
      if (m == (size_t)(e - b) && strncmp(g, b, m) == 0)
        return true;
      g += m;
      if (*g == ',')
        g++;
    }
    w += n;
    if (*w == ',')
      w++;
  }
  return false;
}

static const char *plugin_header(void *req, const char *name) {
  return ahttp_kvs_get(&((api_req_t *)req)->http->headers, name, 1);
}

static int authenticate_plugin(api_req_t *r) {
  api_access_t *a = r->ctx->access;
  const actor_auth_ops_t *ops = actor_plugin_ops(a->plugin);
  actor_auth_request_t req = {plugin_header, r};
  actor_plugin_err_t err;
  char groups[4096] = "";
  memset(&err, 0, sizeof(err));
  r->ident.username[0] = '\0';
  int rc = ops->identify(actor_plugin_state(a->plugin), &req, r->ident.username,
                         sizeof(r->ident.username), groups, sizeof(groups), &err);
  /* what a plugin wrote is read only up to its buffer's end */
  r->ident.username[sizeof(r->ident.username) - 1] = '\0';
  groups[sizeof(groups) - 1] = '\0';
  err.message[sizeof(err.message) - 1] = '\0';
  if (rc == ACTOR_AUTH_OK && r->ident.username[0] == '\0') {
    rc = ACTOR_AUTH_FAIL;
    snprintf(err.message, sizeof(err.message), "the auth plugin gave no user name.");
  }
  if (rc != ACTOR_AUTH_OK) {
    api_error(r, 401, "Not authenticated: %s", err.message[0] ? err.message
                                                                : "the auth plugin refused the request.");
    return -1;
  }
  snprintf(r->ident.tenant, sizeof(r->ident.tenant), "%s", r->ctx->tenant_name);
  /* groups -> the platform's roles */
  char *o = r->ident.roles;
  size_t room = sizeof(r->ident.roles);
  o[0] = '\0';
  const char *roles[3] = {NULL, NULL, NULL};
  if (*a->admin_groups && groups_meet(groups, a->admin_groups))
    roles[0] = API_ROLE_ADMIN;
  if (*a->privileged_groups && groups_meet(groups, a->privileged_groups))
    roles[1] = API_ROLE_PRIVILEGED;
  if (*a->user_groups == '\0' || groups_meet(groups, a->user_groups))
    roles[2] = a->user_role;
  for (int i = 0; i < 3; i++) {
    if (roles[i] == NULL)
      continue;
    size_t used = strlen(o);
    snprintf(o + used, room - used, "%s%s", used ? "," : "", roles[i]);
  }
  if (!api_ident_roles(r)) {
    api_error(r, 400, "Not authorized -- missing required role.");
    return -1;
  }
  return 0;
}

int api_authenticate(api_req_t *r) {
  api_access_t *a = r->ctx->access;
  if (a->plugin != NULL)
    return authenticate_plugin(r);
  if (!a->jwt)
    return authenticate_none(r);
  char asserted[256] = ""; /* longer than a tenant name: an overlong one is refused, not cut */
  const char *token = NULL;
  const ahttp_kvs_t *h = &r->http->headers;
  for (size_t i = 0; i < h->n && token == NULL; i++)
    if (actor_jwt_assertion_tenant(h->items[i].key, asserted, sizeof(asserted)))
      token = h->items[i].value ? h->items[i].value : "";
  if (token != NULL)
    return authenticate_jwt(r, token, asserted);
  const char *authz = ahttp_kvs_get(h, "Authorization", 1);
  if (authz != NULL) {
    token = actor_jwt_bearer(authz);
    if (token == NULL) {
      api_error(r, 401, "Invalid Authorization header: expected 'Bearer <JWT>'.");
      return -1;
    }
    return authenticate_jwt(r, token, NULL);
  }
  const char *nonce = ahttp_kvs_get(&r->http->query, "x-nonce", 0);
  if (nonce != NULL && a->accept_nonce)
    return api_nonce_authenticate(r, nonce);
  api_error(r, 401,
            "No JWT or nonce provided: send an X-Jwt-Assertion-<TENANT> header, an "
            "Authorization: Bearer token%s.",
            a->accept_nonce ? " or an x-nonce query parameter" : "");
  return -1;
}

/* ---- actors by id or alias ---- */

/* The fields of an actor that sending it a message reads: the route
 * (db_id, tenant for the permission check), the execution record (id,
 * tenant), the mailbox message and queue (revision, stateless) and the
 * answer's links (owner). Reading only these instead of the whole record
 * (dozens of JSON-encoded fields) is most of what an actor lookup costs.
 * A worker request, which needs the rest, reads the whole record again
 * (api_ensure_worker). */
static const char *const SEND_FIELDS[] = {"db_id",    "id",        "owner", "tenant",
                                          "revision", "stateless", NULL};

static int actor_read(api_req_t *r, const char *db_id, bool send, json_t **out) {
  if (!send)
    return model_actor_get(r->ctx->redis, db_id, out);
  char key[MODEL_KEY_MAX];
  model_key_actor(db_id, key);
  if (r->ident.admin) /* api_level_of needs no permission read */
    return store_record_fields(r->ctx->redis, key, SEND_FIELDS, out);
  /* The caller's permissions on the actor come with it, in one round trip
   * (api_level_of reads them otherwise). */
  char pkey[MODEL_KEY_MAX + 32];
  api_perms_key("actor", db_id, pkey, sizeof(pkey));
  const char *users[] = {r->ident.username, API_WORLD_USER, NULL};
  json_t *levels = NULL;
  int rc = store_record_fields_and_hash(r->ctx->redis, key, SEND_FIELDS, out, pkey, users, &levels);
  if (rc != 0)
    return rc;
  const char *user;
  json_t *v;
  int have = API_NONE;
  json_object_foreach(levels, user, v) {
    int l = api_level_parse(json_string_value(v));
    if (l > have)
      have = l;
  }
  json_decref(levels);
  r->level_read = true;
  r->level = have;
  return 0;
}

static int lookup(api_req_t *r, const char *id, bool send, json_t **out) {
  char db_id[MODEL_KEY_MAX];
  *out = NULL;
  if (id == NULL || *id == '\0' || strlen(id) > API_NAME_MAX)
    return ACTOR_ENOTFOUND;
  if (strchr(id, '_') == NULL) { /* ids are hashids, which never hold a '_' */
    model_db_id(r->ident.tenant, id, db_id);
    int rc = actor_read(r, db_id, send, out);
    if (rc != ACTOR_ENOTFOUND)
      return rc;
  }
  json_t *alias = NULL;
  int rc = api_alias_get(r, id, &alias);
  if (rc != 0)
    return rc;
  const char *target = json_string_value(json_object_get(alias, "db_id"));
  rc = target ? actor_read(r, target, send, out) : ACTOR_ENOTFOUND;
  json_decref(alias);
  return rc;
}

int api_lookup_actor(api_req_t *r, const char *id, json_t **out) {
  return lookup(r, id, false, out);
}

int api_require_admin(api_req_t *r) {
  if (r->ident.admin)
    return 0;
  api_error(r, 400, "Not authorized -- missing required role.");
  return -1;
}

int api_require_privileged(api_req_t *r, const char *field) {
  if (r->ident.privileged || r->ident.admin)
    return 0;
  api_error(r, 400, "Not authorized -- only admins and privileged users may set %s.", field);
  return -1;
}

int api_forget_actor(api_req_t *r, const char *db_id) {
  char scope[MODEL_KEY_MAX + 8];
  snprintf(scope, sizeof(scope), "actor:%s", db_id);
  int rc = api_aliases_forget_actor(r, db_id);
  if (rc == 0)
    rc = api_nonces_forget(r, scope);
  if (rc == 0)
    rc = api_configs_forget_actor(r, db_id);
  if (rc == 0)
    rc = api_perms_forget(r, "actor", db_id);
  return rc;
}

static int resolve(api_req_t *r, const char *id, bool send) {
  r->level_read = false;
  int rc = lookup(r, id, send, &r->actor);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", id);
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return -1;
  }
  r->db_id = json_string_value(json_object_get(r->actor, "db_id"));
  if (r->db_id == NULL) {
    api_error(r, 500, "Actor record '%s' is damaged: no db_id.", id);
    return -1;
  }
  return 0;
}

int api_resolve_actor(api_req_t *r, const char *id) { return resolve(r, id, false); }

int api_resolve_actor_send(api_req_t *r, const char *id) { return resolve(r, id, true); }
