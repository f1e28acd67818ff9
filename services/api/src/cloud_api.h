/* The api's cloud side (docs/cloud.md): its settings and price table, the
 * helpers its routes share, and the route handlers. Records, token
 * replacement and the audit are libactor's (actor/cloud.h); this layer
 * adds the HTTP rules: who may see and change what, and the answers.
 *
 *   cloud_ctx.c         start-up ([cloud] settings, pricing file), instance
 *                       lookup, display, command publishing, audit
 *   pricing.c           the pricing file parser, GET /instances/types
 *   routes_swconfigs.c  software configurations, launch groups, params
 *   routes_instances.c  the instances: list, launch, read, actions, delete
 *   progress.c          progress reports from the instances (token, no user)
 *   routes_clusters.c   clusters and nodes; routes_cluster_rules.c counters, samples,
 *                       triggers, fires, runs (docs/clusters.md)
 * Their Prometheus series are rendered by metrics.c. */
#ifndef API_CLOUD_API_H
#define API_CLOUD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "actor/cloud.h"
#include "api.h"

/* Longest instance type name ("u-24tb1.112xlarge" is 17). */
#define API_INSTANCE_TYPE_MAX 64

/* One entry of the pricing file. */
typedef struct {
  char type[API_INSTANCE_TYPE_MAX];
  double price;      /* hourly on-demand Linux price in the region; < 0: none */
  double vcpus;      /* < 0: not given */
  double memory_gib; /* < 0: not given */
} api_price_t;

struct api_cloud_s {
  cloud_settings_t s;
  const char *region;   /* [cloud] region: which prices are read */
  api_price_t *prices;  /* sorted by type */
  size_t nprices;
  json_t *config_tokens; /* [cloud_tokens] */
};
typedef struct api_cloud_s api_cloud_t;

/* ---- cloud_ctx.c ---- */
/* Reads [cloud] and the pricing file into c->cloud: 0, or ACTOR_ECONFIG
 * after logging the key that is wrong. */
int api_cloud_init(api_ctx_t *c);
void api_cloud_free(api_ctx_t *c);
/* The instance of the path (r->params[0]: the platform id, or an EC2
 * instance id of the caller's tenant) when the caller is its owner or an
 * admin (new reference); NULL after answering 404/400 or a store error. */
json_t *api_instance_load(api_req_t *r);
/* What clients see of an instance record (never its progress_token):
 * new reference. */
json_t *api_instance_display(api_req_t *r, const json_t *rec);
/* Publishes a JSON command on a [cloud] queue (durable). */
int api_cloud_publish(api_ctx_t *c, const char *queue, const json_t *msg);
/* Adds an audit document (best effort: a failure is logged). */
void api_cloud_audit(api_req_t *r, const json_t *rec, const char *action, const char *outcome,
                     const char *message, const char *request_id);
/* Whether a name is [A-Za-z0-9_.-]{1,max}. */
bool api_cloud_name_ok(const char *name, size_t max);
/* The optional event targets of a body (docs/cloud.md "Channels"): `link`
 * (an actor id or alias, [A-Za-z0-9_.-]{1,128}) and `webhook` (an http or
 * https URL of at most 2048 bytes), copied into rec when given and not
 * empty. 0, or -1 after answering 400 naming the field. */
int api_cloud_targets(api_req_t *r, json_t *body, json_t *rec);

/* ---- pricing.c ---- */
/* Parses the text of a pricing file (ec2instances.info's JSON array):
 * each entry's instance_type, vCPU, memory and
 * pricing.<region>.linux.ondemand (a number or its text). Entries without
 * an instance_type are skipped. *out (malloc'd, sorted by type) and *n;
 * ACTOR_EPARSE with the reason in err. Pure: no I/O. */
int api_pricing_parse(const char *text, size_t len, const char *region, api_price_t **out,
                      size_t *n, char *err, size_t errlen);
/* The entry of a type, or NULL. */
const api_price_t *api_price_of(const api_cloud_t *cl, const char *type);
void api_instance_types(api_req_t *r); /* GET /instances/types */

/* ---- routes_swconfigs.c ---- */
void api_swconfigs_list(api_req_t *r);
void api_swconfig_create(api_req_t *r);
void api_swconfig_get(api_req_t *r);
void api_swconfig_update(api_req_t *r);
void api_swconfig_delete(api_req_t *r);
void api_groups_list(api_req_t *r);
void api_group_create(api_req_t *r);
void api_group_get(api_req_t *r);
void api_group_update(api_req_t *r);
void api_group_delete(api_req_t *r);
void api_params_get(api_req_t *r);
void api_params_set(api_req_t *r);
void api_param_delete(api_req_t *r);

/* ---- routes_instances.c ---- */
void api_instances_list(api_req_t *r);
void api_instances_launch(api_req_t *r);
void api_instance_get(api_req_t *r);
void api_instance_delete(api_req_t *r);
void api_instance_action(api_req_t *r); /* start, stop, restart, terminate (the last segment) */
void api_instance_audit(api_req_t *r);

/* ---- routes_clusters.c and routes_cluster_rules.c (docs/clusters.md) ---- */
void api_clusters_list(api_req_t *r);
void api_cluster_create(api_req_t *r);
void api_cluster_get(api_req_t *r);
void api_cluster_update(api_req_t *r);
void api_cluster_delete(api_req_t *r);
void api_cluster_node_add(api_req_t *r);
void api_cluster_node_delete(api_req_t *r);
void api_cluster_counter_add(api_req_t *r);
void api_cluster_counter_get(api_req_t *r);
void api_cluster_counter_delete(api_req_t *r);
void api_cluster_sample_post(api_req_t *r); /* open: the counter's token */
void api_cluster_trigger_add(api_req_t *r);
void api_cluster_trigger_delete(api_req_t *r);
void api_cluster_trigger_fire(api_req_t *r);
void api_cluster_run_get(api_req_t *r);

/* ---- progress.c ---- */
/* The report of MLiy's path form: "<message>(<percent>)", underscores
 * read as spaces. 0 with message (at most msglen - 1 bytes) and percent
 * (clamped 0..100); ACTOR_EPARSE when it is not of that form,
 * ACTOR_ETOOBIG when the message does not fit. Pure. */
int api_progress_report_parse(const char *report, char *message, size_t msglen, long *percent);
void api_progress_post(api_req_t *r); /* POST /instances/{id}/progress */
void api_progress_path(api_req_t *r); /* GET|POST /instances/progress/{iid}/{report} */

#endif
