/* Abaco's per-tenant [web] settings the api honours: log_ex_limit (the
 * most an actor's log_ex may be) and default_token (an actor's `token`
 * when its registration does not say), each also as <tenant>_<key>
 * (config_tenant.c). Every one of them is checked at start-up, so the
 * lookups made per request cannot fail. */
#include "actor/errors.h"
#include "actor/log.h"
#include "api.h"

#define LOG_EX_LIMIT_DEF 86400

static int check_limit(const actor_config_t *cfg, const char *key) {
  long v = 0;
  if (actor_config_get_int(cfg, "web", key, LOG_EX_LIMIT_DEF, &v) != 0)
    return ACTOR_ECONFIG;
  if (v <= 0) {
    LOG_ERROR("api", "[web] %s: %ld must be a positive number of seconds", key, v);
    return ACTOR_ECONFIG;
  }
  return 0;
}

static int check_token(const actor_config_t *cfg, const char *key) {
  bool b = false;
  return actor_config_get_bool(cfg, "web", key, false, &b);
}

typedef struct {
  const actor_config_t *cfg;
  int (*check)(const actor_config_t *cfg, const char *key);
  int rc;
} scan_t;

static void check_tenant(const char *tenant, const char *name, const char *value, void *ud) {
  (void)tenant;
  (void)value;
  scan_t *s = ud;
  if (s->check(s->cfg, name) != 0)
    s->rc = ACTOR_ECONFIG;
}

int api_tenant_conf_check(const actor_config_t *cfg) {
  static const struct {
    const char *key;
    int (*check)(const actor_config_t *cfg, const char *key);
  } KEYS[] = {{"log_ex_limit", check_limit}, {"default_token", check_token}};
  int rc = 0;
  for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
    scan_t s = {cfg, KEYS[i].check, KEYS[i].check(cfg, KEYS[i].key)};
    actor_config_each_tenant(cfg, "web", KEYS[i].key, check_tenant, &s);
    if (s.rc != 0)
      rc = ACTOR_ECONFIG;
  }
  return rc;
}

long api_log_ex_limit(const api_ctx_t *c, const char *tenant) {
  long v = LOG_EX_LIMIT_DEF;
  actor_config_get_tenant_int(c->cfg, "web", tenant, "log_ex_limit", LOG_EX_LIMIT_DEF, &v);
  return v;
}

bool api_default_token(const api_ctx_t *c, const char *tenant) {
  bool b = false;
  actor_config_get_tenant_bool(c->cfg, "web", tenant, "default_token", false, &b);
  return b;
}
