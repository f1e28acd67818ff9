/* Abaco's per-tenant settings: a key `<tenant>_<key>` in the section of
 * <key> overrides it for that tenant ([web] DEV-STAGING_default_token,
 * [workers] designsafe_actor_uid, [web] sd2e_log_ex). Abaco looks them up
 * with the tenant as its request carries it, through configparser, which
 * folds keys to lower case; so the tenant compares in any case here. A
 * tenant may itself contain '_' (dev_staging_log_ex), which is why keys
 * are matched on their `_<key>` suffix. */
#include "actor/config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TENANT_KEY_MAX 256

typedef struct {
  const char *section;
  char *name; /* in: the key in any case; out: as the file spells it */
} spelling_t;

static void spelling(const char *section, const char *key, const char *value, void *ud) {
  (void)value;
  spelling_t *s = ud;
  if (strcasecmp(section, s->section) == 0 && strcasecmp(key, s->name) == 0)
    memcpy(s->name, key, strlen(key)); /* same length: only the case differs */
}

const char *actor_config_tenant_key(const actor_config_t *cfg, const char *section,
                                   const char *tenant, const char *key, char *buf, size_t len) {
  if (tenant == NULL || *tenant == '\0' || key == NULL)
    return key;
  int n = snprintf(buf, len, "%s_%s", tenant, key);
  if (n <= 0 || (size_t)n >= len || actor_config_get(cfg, section, buf, NULL) == NULL)
    return key;
  /* Messages then name the key as the operator wrote it. */
  spelling_t sp = {section, buf};
  actor_config_each_entry(cfg, spelling, &sp);
  return buf;
}

const char *actor_config_get_tenant(const actor_config_t *cfg, const char *section,
                                    const char *tenant, const char *key, const char *def) {
  char buf[TENANT_KEY_MAX];
  return actor_config_get(cfg, section,
                          actor_config_tenant_key(cfg, section, tenant, key, buf, sizeof(buf)),
                          def);
}

int actor_config_get_tenant_int(const actor_config_t *cfg, const char *section,
                                const char *tenant, const char *key, long def, long *out) {
  char buf[TENANT_KEY_MAX];
  return actor_config_get_int(
      cfg, section, actor_config_tenant_key(cfg, section, tenant, key, buf, sizeof(buf)), def,
      out);
}

int actor_config_get_tenant_bool(const actor_config_t *cfg, const char *section,
                                 const char *tenant, const char *key, bool def, bool *out) {
  char buf[TENANT_KEY_MAX];
  return actor_config_get_bool(
      cfg, section, actor_config_tenant_key(cfg, section, tenant, key, buf, sizeof(buf)), def,
      out);
}

typedef struct {
  const char *key;
  actor_config_tenant_cb fn;
  void *ud;
} tenant_scan_t;

static void tenant_scan(const char *name, const char *value, void *ud) {
  tenant_scan_t *s = ud;
  size_t n = strlen(name), k = strlen(s->key);
  if (n < k + 2 || name[n - k - 1] != '_' || strcasecmp(name + n - k, s->key) != 0)
    return;
  char tenant[TENANT_KEY_MAX];
  if (n - k - 1 >= sizeof(tenant))
    return;
  memcpy(tenant, name, n - k - 1);
  tenant[n - k - 1] = '\0';
  s->fn(tenant, name, value, s->ud);
}

void actor_config_each_tenant(const actor_config_t *cfg, const char *section, const char *key,
                              actor_config_tenant_cb fn, void *ud) {
  if (section == NULL || key == NULL || fn == NULL)
    return;
  tenant_scan_t s = {key, fn, ud};
  actor_config_each(cfg, section, tenant_scan, &s);
}
