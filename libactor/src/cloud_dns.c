/* cloud_dns_sync (actor/cloud_dns.h): the DNS plugin called at an
 * instance's address and at its end, its failures recorded, never fatal. */
#include "actor/cloud_dns.h"

#include <stdio.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"

#define DNS_LOG "dns"

static const char *str_or_null(const json_t *rec, const char *key) {
  return json_string_value(json_object_get(rec, key));
}

static void record_error(store_redis_t *redis, const char *tenant, const char *id,
                         const char *op, const actor_plugin_err_t *err) {
  LOG_WARN(DNS_LOG, "instance %s:%s: %s failed: %s %s", tenant, id, op, err->code,
           err->message);
  int rc = cloud_instance_backend_error(redis, tenant, id, op, err->code[0] ? err->code : "DNS",
                                        err->message, "");
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN(DNS_LOG, "instance %s:%s: could not record the %s error: %s", tenant, id, op,
             actor_strerror(rc));
}

int cloud_dns_sync(actor_plugin_t *dns, store_redis_t *redis, json_t *rec) {
  if (dns == NULL || rec == NULL)
    return 0;
  const actor_dns_ops_t *ops = actor_plugin_ops(dns);
  void *state = actor_plugin_state(dns);
  const char *tenant = actor_json_str(rec, "tenant", ""), *id = actor_json_str(rec, "id", "");
  const char *st = actor_json_str(rec, "state", "");
  const char *dns_name = str_or_null(rec, "dns_name"), *dns_ip = str_or_null(rec, "dns_ip");
  actor_plugin_err_t err;
  memset(&err, 0, sizeof(err));
  json_t *f = NULL;
  int rc = 0;
  bool ending = cloud_state_terminal(st) || strcmp(st, "shutting-down") == 0;
  if (ending) {
    if (dns_name == NULL || *dns_name == '\0')
      return 0;
    if (ops->delete_entry(state, dns_name, dns_ip ? dns_ip : "", &err) != 0) {
      record_error(redis, tenant, id, "dns:delete", &err);
      return ACTOR_EAWS;
    }
    LOG_INFO(DNS_LOG, "instance %s:%s: %s (%s) removed", tenant, id, dns_name,
             dns_ip ? dns_ip : "");
    f = json_pack("{s:n, s:n}", "dns_name", "dns_ip");
  } else {
    const char *ip = str_or_null(rec, "public_ip");
    if (ip == NULL || *ip == '\0')
      ip = str_or_null(rec, "private_ip");
    if (ip == NULL || *ip == '\0' || (dns_ip != NULL && strcmp(dns_ip, ip) == 0))
      return 0;
    actor_dns_instance_t inst = {.id = id,
                                 .tenant = tenant,
                                 .owner = actor_json_str(rec, "owner", ""),
                                 .name = actor_json_str(rec, "name", ""),
                                 .ec2_instance_id = actor_json_str(rec, "ec2_instance_id", ""),
                                 .public_ip = str_or_null(rec, "public_ip"),
                                 .private_ip = str_or_null(rec, "private_ip")};
    char name[256] = "";
    if (ops->display_name(state, &inst, name, sizeof(name), &err) != 0 || name[0] == '\0') {
      if (err.message[0] == '\0')
        snprintf(err.message, sizeof(err.message), "the plugin gave no display name");
      record_error(redis, tenant, id, "dns:display_name", &err);
      return ACTOR_EAWS;
    }
    if (ops->create_entry(state, name, ip, &err) != 0) {
      record_error(redis, tenant, id, "dns:create", &err);
      /* the name shows even when its entry could not be made */
      f = json_pack("{s:s}", "display_name", name);
      rc = ACTOR_EAWS;
    } else {
      LOG_INFO(DNS_LOG, "instance %s:%s: %s -> %s", tenant, id, name, ip);
      f = json_pack("{s:s, s:s, s:s}", "display_name", name, "dns_name", name, "dns_ip", ip);
    }
  }
  if (f == NULL)
    return ACTOR_ENOMEM;
  int wrc = cloud_instance_update(redis, tenant, id, f);
  if (wrc == 0)
    json_object_update(rec, f);
  else if (wrc != ACTOR_ENOTFOUND)
    LOG_WARN(DNS_LOG, "instance %s:%s: could not record its DNS name: %s", tenant, id,
             actor_strerror(wrc));
  json_decref(f);
  return rc ? rc : (wrc == ACTOR_ENOTFOUND ? 0 : wrc);
}
