/* Execution settings (actor/execconf.h): one reading for the spawner's
 * start-up check and for each worker, so both agree on what is valid. */
#include "actor/execconf.h"

#include <stdio.h>
#include <string.h>

#include "actor/errors.h"

int actor_execconf_read(const actor_config_t *cfg, const char *tenant, actor_execconf_t *out) {
  memset(out, 0, sizeof(*out));
  int bad = 0;
  bad |= actor_config_get_limit(cfg, "workers", "max_run_time", 0, &out->max_run_time);
  bad |= actor_config_get_size(cfg, "workers", "mem_limit", 0, &out->mem_bytes);
  bad |= actor_config_get_limit(cfg, "workers", "max_cpus", 0, &out->max_cpus);
  char buf[256];
  const char *log_ex = actor_config_tenant_key(cfg, "web", tenant, "log_ex", buf, sizeof(buf));
  bad |= actor_config_get_limit(cfg, "web", log_ex, 86400, &out->log_ex);
  bad |= actor_config_get_tenant_bool(cfg, "workers", tenant, "generate_clients", false,
                                      &out->generate_clients);
  out->uid = actor_config_get_tenant(cfg, "workers", tenant, "actor_uid", "");
  out->gid = actor_config_get_tenant(cfg, "workers", tenant, "actor_gid", "");
  return bad ? ACTOR_ECONFIG : 0;
}

typedef struct {
  const actor_config_t *cfg;
  int rc;
  bool any_clients;
} check_t;

static void check_tenant(const char *tenant, const char *name, const char *value, void *ud) {
  (void)name;
  (void)value;
  check_t *c = ud;
  actor_execconf_t x;
  if (actor_execconf_read(c->cfg, tenant, &x) != 0)
    c->rc = ACTOR_ECONFIG;
  c->any_clients |= x.generate_clients;
}

int actor_execconf_check(const actor_config_t *cfg, bool *any_clients) {
  static const struct {
    const char *section, *key;
  } PER_TENANT[] = {{"web", "log_ex"},
                    {"workers", "generate_clients"},
                    {"workers", "actor_uid"},
                    {"workers", "actor_gid"}};
  check_t c = {cfg, 0, false};
  actor_execconf_t x;
  if (actor_execconf_read(cfg, NULL, &x) != 0)
    return ACTOR_ECONFIG; /* the tenants' reads would repeat its errors */
  c.any_clients = x.generate_clients;
  for (size_t i = 0; i < sizeof(PER_TENANT) / sizeof(PER_TENANT[0]); i++)
    actor_config_each_tenant(cfg, PER_TENANT[i].section, PER_TENANT[i].key, check_tenant, &c);
  if (any_clients != NULL)
    *any_clients = c.any_clients;
  return c.rc;
}
