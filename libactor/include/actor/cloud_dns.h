/* The DNS plugin's part of an instance's life
 * (docs/cloud.md "DNS plugin"): the launcher and the updater call cloud_dns_sync() after they
 * record an observation or an action's outcome. It makes the cloud's
 * name agree with the record, best effort: a plugin error never fails the
 * write that led to it; it is logged and recorded in backend_status (op
 * "dns:create" / "dns:delete") and tried again at the next change or
 * reconciler pass. */
#ifndef ACTOR_CLOUD_DNS_H
#define ACTOR_CLOUD_DNS_H

#include <jansson.h>

#include "actor/plugin.h"
#include "actor/store.h"

/* For rec (the record as just written; updated with what this writes):
 *  - not terminated/shutting-down/failed and with an address (public_ip,
 *    else private_ip) other than its `dns_ip`: display_name, then
 *    create_entry(name, ip); records display_name, dns_name, dns_ip;
 *  - terminated, shutting-down or failed with a dns_name: delete_entry;
 *    dns_name and dns_ip become null (display_name stays).
 * dns NULL: nothing. Blocking: a pool thread. 0, or the plugin's or the
 * store's failure (already logged and recorded). */
int cloud_dns_sync(actor_plugin_t *dns, store_redis_t *redis, json_t *rec);

#endif
