/* Who is calling (API.md §2), and the actor lookups every route shares.
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
 * of one tenant never vouches for another. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"

/* ---- start-up ---- */

/* Tenants are upper case letters, digits, '-' and '.' (never '_', which
 * splits tenant-scoped ids). Writes the upper-cased name; false if bad. */
static bool tenant_name_ok(const char *in, char *out, size_t size) {
  size_t i = 0;
  if (in == NULL || *in == '\0')
    return false;
  for (; in[i]; i++) {
    unsigned char c = (unsigned char)in[i];
    if (i + 1 >= size || (!isalnum(c) && c != '-' && c != '.'))
      return false;
    out[i] = (char)toupper(c);
  }
  out[i] = '\0';
  return true;
}

typedef struct {
  api_access_t *a;
  int rc;
} key_scan_t;

/* actor_config_each callback: one [web] <tenant>_apim_public_key. */
static void scan_tenant_key(const char *key, const char *value, void *ud) {
  static const char SUFFIX[] = "_apim_public_key";
  key_scan_t *s = ud;
  size_t n = strlen(key), m = sizeof(SUFFIX) - 1;
  if (n <= m || strcasecmp(key + n - m, SUFFIX) != 0 || value == NULL || *value == '\0')
    return;
  char raw[ACTOR_AUTH_TENANT_MAX], tenant[ACTOR_AUTH_TENANT_MAX];
  if (n - m >= sizeof(raw)) {
    LOG_ERROR("api", "[web] %s: the tenant name is too long", key);
    s->rc = ACTOR_ECONFIG;
    return;
  }
  memcpy(raw, key, n - m);
  raw[n - m] = '\0';
  actor_jwt_key_t *k = NULL;
  if (!tenant_name_ok(raw, tenant, sizeof(tenant)) || actor_jwt_key_parse(value, &k) != 0) {
    LOG_ERROR("api", "[web] %s: not a tenant name with an RSA public key (base64 DER or PEM)", key);
    s->rc = ACTOR_ECONFIG;
    return;
  }
  api_access_t *a = s->a;
  for (size_t i = 0; i < a->ntenant_keys; i++)
    if (strcmp(a->tenant_keys[i].tenant, tenant) == 0) { /* the environment already set it */
      actor_jwt_key_free(k);
      return;
    }
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
  pthread_mutex_init(&a->lock, NULL);
  c->access = a;
  a->jwt = strcmp(c->access_control, "jwt") == 0;
  a->user_role = actor_config_get(c->cfg, "web", "user_role", "Internal/abaco-user");
  if (actor_config_get_bool(c->cfg, "web", "accept_nonce", true, &a->accept_nonce) != 0)
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
  key_scan_t scan = {a, 0};
  actor_config_each(c->cfg, "web", scan_tenant_key, &scan);
  if (scan.rc != 0)
    return scan.rc;
  if (a->jwt && a->apim_key == NULL && a->ntenant_keys == 0)
    LOG_WARN("api", "[web] access_control = jwt but no apim_public_key is set: only clientg "
                    "tokens and nonces can authenticate");
  /* An empty key leaves secret.set false: secret configs are refused. */
  actor_secret_key_init(&a->secret, actor_config_get(c->cfg, "web", "encryption_key", ""));
  LOG_INFO("api", "access control %s%s", c->access_control,
           a->jwt ? (a->accept_nonce ? " (nonces accepted)" : " (nonces refused)") : "");
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
  pthread_mutex_destroy(&a->lock);
  free(a);
  c->access = NULL;
}

/* The APIM key of a tenant: its own <tenant>_apim_public_key (from the
 * file, found at start-up, or from the environment, parsed at first use
 * and kept), else [web] apim_public_key. NULL when there is none or the
 * tenant's key is unusable (logged). Tenants are checked names, and only
 * configured keys are kept, so the table cannot be filled by callers. */
static const actor_jwt_key_t *key_for(api_ctx_t *c, const char *tenant) {
  api_access_t *a = c->access;
  const actor_jwt_key_t *found = NULL;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->ntenant_keys && !found; i++)
    if (strcmp(a->tenant_keys[i].tenant, tenant) == 0)
      found = a->tenant_keys[i].key;
  pthread_mutex_unlock(&a->lock);
  if (found)
    return found;
  char name[ACTOR_AUTH_TENANT_MAX + 32];
  size_t i = 0;
  for (; tenant[i] && i < ACTOR_AUTH_TENANT_MAX; i++)
    name[i] = (char)tolower((unsigned char)tenant[i]);
  snprintf(name + i, sizeof(name) - i, "_apim_public_key");
  const char *text = actor_config_get(c->cfg, "web", name, NULL);
  if (text == NULL || *text == '\0')
    return a->apim_key;
  actor_jwt_key_t *k = NULL;
  if (actor_jwt_key_parse(text, &k) != 0) {
    LOG_ERROR("api", "[web] %s: not an RSA public key; tokens of tenant %s are refused", name,
              tenant);
    return NULL;
  }
  pthread_mutex_lock(&a->lock);
  for (size_t j = 0; j < a->ntenant_keys && !found; j++)
    if (strcmp(a->tenant_keys[j].tenant, tenant) == 0)
      found = a->tenant_keys[j].key;
  if (!found && a->ntenant_keys < API_TENANT_KEYS_MAX) {
    snprintf(a->tenant_keys[a->ntenant_keys].tenant, ACTOR_AUTH_TENANT_MAX, "%s", tenant);
    a->tenant_keys[a->ntenant_keys++].key = k;
    found = k;
    k = NULL;
  }
  pthread_mutex_unlock(&a->lock);
  if (k != NULL) {
    actor_jwt_key_free(k);
    if (!found)
      LOG_ERROR("api", "more than %d tenant keys: tokens of tenant %s are refused",
                API_TENANT_KEYS_MAX, tenant);
  }
  return found;
}

/* The `tenant` claim of a token, read without verifying it (only to pick
 * the key); "" when there is none or the token does not decode. */
static void peek_tenant(const char *token, char *out, size_t size) {
  *out = '\0';
  const char *p1 = strchr(token, '.');
  const char *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
  if (p2 == NULL || (size_t)(p2 - p1) > ACTOR_JWT_MAX_LEN)
    return;
  size_t n = (size_t)(p2 - p1 - 1);
  char *b64 = malloc(n + 4);
  unsigned char *raw = malloc(n + 4);
  if (b64 && raw) {
    for (size_t i = 0; i < n; i++)
      b64[i] = p1[1 + i] == '-' ? '+' : p1[1 + i] == '_' ? '/' : p1[1 + i];
    while (n % 4)
      b64[n++] = '=';
    b64[n] = '\0';
    int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
    if (len > 0) {
      while (len > 0 && raw[len - 1] == '\0') /* the padding decodes as zero bytes */
        len--;
      json_t *claims = json_loadb((const char *)raw, (size_t)len, 0, NULL);
      const char *t = json_string_value(json_object_get(claims, ACTOR_CLAIM_TENANT));
      if (t && strlen(t) < size)
        snprintf(out, size, "%s", t);
      json_decref(claims);
    }
  }
  free(b64);
  free(raw);
}

bool api_ident_roles(api_req_t *r) {
  api_ident_t *id = &r->ident;
  const char *user_role = r->ctx->access->user_role;
  bool any = false;
  id->admin = id->privileged = false;
  char copy[sizeof(id->roles)];
  snprintf(copy, sizeof(copy), "%s", id->roles);
  for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strcmp(t, API_ROLE_ADMIN) == 0)
      id->admin = any = true;
    else if (strcmp(t, API_ROLE_PRIVILEGED) == 0)
      id->privileged = any = true;
    else if (strcmp(t, user_role) == 0 || strcmp(t, API_ROLE_LIMITED) == 0)
      any = true;
  }
  return any;
}

static int authenticate_none(api_req_t *r) {
  const char *tenant = ahttp_kvs_get(&r->http->headers, "tenant", 1);
  if (tenant == NULL || *tenant == '\0')
    tenant = r->ctx->tenant_name;
  if (!tenant_name_ok(tenant, r->ident.tenant, sizeof(r->ident.tenant))) {
    api_error(r, 400, "Invalid tenant: '%s'.", tenant);
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
  char claimed[ACTOR_AUTH_TENANT_MAX], key_tenant[ACTOR_AUTH_TENANT_MAX];
  const char *want = asserted;
  if (want == NULL) {
    peek_tenant(token, claimed, sizeof(claimed));
    want = *claimed ? claimed : c->tenant_name;
  }
  if (!tenant_name_ok(want, key_tenant, sizeof(key_tenant))) {
    api_error(r, 401, "Invalid JWT: the tenant '%.64s' is not a valid tenant name.", want);
    return -1;
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
  if (!tenant_name_ok(id.tenant, r->ident.tenant, sizeof(r->ident.tenant)) ||
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

int api_authenticate(api_req_t *r) {
  api_access_t *a = r->ctx->access;
  if (!a->jwt)
    return authenticate_none(r);
  char asserted[ACTOR_AUTH_TENANT_MAX] = "";
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

int api_lookup_actor(api_req_t *r, const char *id, json_t **out) {
  char db_id[MODEL_KEY_MAX];
  *out = NULL;
  if (id == NULL || *id == '\0' || strlen(id) > API_NAME_MAX)
    return ACTOR_ENOTFOUND;
  if (strchr(id, '_') == NULL) { /* ids are hashids, which never hold a '_' */
    model_db_id(r->ident.tenant, id, db_id);
    int rc = model_actor_get(r->ctx->redis, db_id, out);
    if (rc != ACTOR_ENOTFOUND)
      return rc;
  }
  json_t *alias = NULL;
  int rc = api_alias_get(r, id, &alias);
  if (rc != 0)
    return rc;
  const char *target = json_string_value(json_object_get(alias, "db_id"));
  rc = target ? model_actor_get(r->ctx->redis, target, out) : ACTOR_ENOTFOUND;
  json_decref(alias);
  return rc;
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

int api_resolve_actor(api_req_t *r, const char *id) {
  int rc = api_lookup_actor(r, id, &r->actor);
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
