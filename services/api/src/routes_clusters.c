/* /clusters (docs/clusters.md): clusters of cloud nodes that scale
 * themselves, their nodes, counters and triggers, node-reported samples
 * and manual firing. Same envelope, tenancy and permissions as the
 * instances: any user creates; the owner or an admin reads and changes;
 * another tenant's cluster is 404. Every field is checked before anything
 * is stored, with a 400 naming it.
 *
 * The api never runs a trigger's actions: a manual fire records a run
 * (pending) and the updater's next tick runs it, as it runs the runs its
 * own evaluation decides (services/updater/src/cluster_*.c).
 *
 * This file: clusters and their nodes, and the helpers both files use
 * (clusters_int.h); routes_cluster_rules.c: counters, node samples,
 * triggers, manual fires and runs. */
#include <ctype.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/notify.h"
#include "actor/timefmt.h"
#include "cloud_api.h"
#include "clusters_int.h"


/* A number field (JSON number or its text). 0 (absent: *present false),
 * or -1 after answering 400. */
int clu_num_field(api_req_t *r, json_t *body, const char *field, double min, double max,
                     bool *present, double *out) {
  json_t *v = json_object_get(body, field);
  *present = false;
  if (v == NULL || json_is_null(v))
    return 0;
  double d = NAN;
  if (json_is_number(v)) {
    d = json_number_value(v);
  } else if (json_is_string(v) && *json_string_value(v)) {
    char *end = NULL;
    d = strtod(json_string_value(v), &end);
    if (end == NULL || *end != '\0')
      d = NAN;
  }
  if (!isfinite(d) || d < min || d > max) {
    api_error(r, 400, "Invalid %s: a number between %g and %g.", field, min, max);
    return -1;
  }
  *present = true;
  *out = d;
  return 0;
}

int clu_int_field(api_req_t *r, json_t *body, const char *field, long long min,
                     long long max, bool *present, long long *out) {
  if (api_field_int(r, body, field, -(1LL << 40), present, out) != 0)
    return -1;
  if (*present && (*out < min || *out > max)) {
    api_error(r, 400, "Invalid %s: an integer between %lld and %lld.", field, min, max);
    return -1;
  }
  return 0;
}

int clu_name_field(api_req_t *r, json_t *body, const char *field, bool required,
                      const char **out) {
  if (api_field_string(r, body, field, out) != 0)
    return -1;
  if (*out == NULL || **out == '\0') {
    *out = NULL;
    if (!required)
      return 0;
    api_error(r, 400, "%s is required.", field);
    return -1;
  }
  if (!api_cloud_name_ok(*out, NAME_MAX_CHARS)) {
    api_error(r, 400, "Invalid %s: [A-Za-z0-9_.-], 1 to %d characters.", field, NAME_MAX_CHARS);
    return -1;
  }
  return 0;
}

/* ---- loading ---- */

/* The cluster of r->params[0] when the caller is its owner or an admin
 * (new reference); NULL after answering. */
json_t *clu_load(api_req_t *r) {
  const char *id = r->params[0];
  json_t *rec = NULL;
  int rc = api_cloud_name_ok(id, 64) ? cluster_get(r->ctx->redis, r->ident.tenant, id, &rec)
                                      : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Cluster %s not found.", id ? id : "");
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    return NULL;
  }
  if (!r->ident.admin && strcmp(actor_json_str(rec, "owner", ""), r->ident.username) != 0) {
    json_decref(rec);
    api_error(r, 400, "Not authorized -- you do not have access to this cluster.");
    return NULL;
  }
  return rec;
}

const char *clu_id_of(const json_t *rec) { return actor_json_str(rec, "id", ""); }

/* ---- display ---- */

static json_t *nodes_display(api_req_t *r, const json_t *rec) {
  json_t *nodes = NULL, *out = json_array();
  if (out == NULL || cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "nodes",
                                      &nodes) != 0) {
    json_decref(nodes);
    return out;
  }
  const char *k;
  json_t *n;
  json_object_foreach(nodes, k, n) {
    json_t *d = json_deep_copy(n);
    const char *iid = actor_json_str(n, "instance_id", NULL);
    json_t *inst = NULL;
    if (d && iid && cloud_instance_get(r->ctx->redis, r->ident.tenant, iid, &inst) == 0) {
      json_object_set(d, "state", json_object_get(inst, "state"));
      json_object_set(d, "ec2_instance_id", json_object_get(inst, "ec2_instance_id"));
      json_object_set(d, "private_ip", json_object_get(inst, "private_ip"));
    }
    json_decref(inst);
    if (d)
      json_array_append_new(out, d);
  }
  json_decref(nodes);
  return out;
}

json_t *clu_counter_display(api_req_t *r, const json_t *rec, const json_t *counter,
                               size_t nsamples) {
  json_t *d = json_deep_copy(counter), *samples = NULL;
  if (d && cluster_samples(r->ctx->redis, r->ident.tenant, clu_id_of(rec),
                           actor_json_str(counter, "id", ""), nsamples, &samples) == 0)
    json_object_set_new(d, "last_samples", samples);
  return d;
}

static json_t *state_display(const json_t *st) {
  int64_t now = actor_time_now_ms();
  json_t *d = json_object();
  if (d == NULL)
    return NULL;
  static const char *const FIELDS[] = {"holding_since", "cooling_down_until", "last_fired",
                                       "last_run", "last_outcome", "last_error", "blocked",
                                       "evaluated", NULL};
  for (int i = 0; FIELDS[i]; i++) {
    json_t *v = json_object_get(st, FIELDS[i]);
    json_object_set(d, FIELDS[i], v ? v : json_null());
  }
  int64_t until = 0;
  const char *u = actor_json_str(st, "cooling_down_until", NULL);
  bool cooling = u && actor_time_parse(u, &until) == 0 && until > now;
  json_object_set_new(d, "cooling_down", json_boolean(cooling));
  json_object_set_new(d, "armed", json_boolean(!cooling));
  return d;
}

static json_t *cluster_display(api_req_t *r, const json_t *rec, bool full) {
  json_t *d = json_deep_copy(rec);
  if (d == NULL || !full)
    return d;
  json_object_set_new(d, "nodes", nodes_display(r, rec));
  json_t *counters = NULL, *triggers = NULL, *states = NULL, *runs = NULL;
  json_t *cl = json_array(), *tl = json_array();
  const char *k;
  json_t *v;
  if (cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters", &counters) == 0)
    json_object_foreach(counters, k, v) {
      json_t *cd = clu_counter_display(r, rec, v, SAMPLES_SHOWN);
      if (cd && cl)
        json_array_append_new(cl, cd);
      else
        json_decref(cd);
    }
  if (cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers", &triggers) ==
          0 &&
      cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "tstate", &states) == 0)
    json_object_foreach(triggers, k, v) {
      json_t *td = json_deep_copy(v);
      if (td && tl) {
        json_object_set_new(td, "state", state_display(json_object_get(states, k)));
        json_array_append_new(tl, td);
      } else {
        json_decref(td);
      }
    }
  if (cluster_runs_recent(r->ctx->redis, r->ident.tenant, clu_id_of(rec), RUNS_SHOWN, &runs) != 0)
    runs = json_array();
  json_object_set_new(d, "counters", cl ? cl : json_array());
  json_object_set_new(d, "triggers", tl ? tl : json_array());
  json_object_set_new(d, "runs", runs ? runs : json_array());
  json_decref(counters);
  json_decref(triggers);
  json_decref(states);
  return d;
}

/* ---- clusters ---- */

void api_clusters_list(api_req_t *r) {
  json_t *ids = NULL, *out = json_array();
  int rc = out ? cluster_ids(r->ctx->redis, r->ident.tenant, &ids) : ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, "cluster");
    return;
  }
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    json_t *rec = NULL;
    if (cluster_get(r->ctx->redis, r->ident.tenant, json_string_value(id), &rec) != 0)
      continue;
    if (r->ident.admin || strcmp(actor_json_str(rec, "owner", ""), r->ident.username) == 0)
      json_array_append_new(out, cluster_display(r, rec, false));
    json_decref(rec);
  }
  json_decref(ids);
  api_ok(r, "Clusters retrieved successfully.", out);
}

/* The checked fields of a create or update body into rec (existing: the
 * stored record for an update, NULL for a create). 0 or -1 after answering. */
static int cluster_fields(api_req_t *r, json_t *body, json_t *rec, bool create) {
  const char *name = NULL, *config = NULL, *type = NULL, *lb = NULL;
  long long min = 0, max = 0;
  double delay = 0;
  bool has_min = false, has_max = false, has_delay = false;
  if (clu_name_field(r, body, "name", create, &name) != 0 ||
      clu_name_field(r, body, "config", create, &config) != 0 ||
      api_field_string(r, body, "instance_type", &type) != 0 ||
      clu_int_field(r, body, "min_nodes", 0, CLUSTER_MAX_NODES, &has_min, &min) != 0 ||
      clu_int_field(r, body, "max_nodes", 0, CLUSTER_MAX_NODES, &has_max, &max) != 0 ||
      clu_num_field(r, body, "scale_in_delay", 0, COOLDOWN_MAX_MIN, &has_delay, &delay) != 0 ||
      api_field_string(r, body, "load_balancer", &lb) != 0)
    return -1;
  if (lb && *lb && !api_cloud_name_ok(lb, 32)) {
    api_error(r, 400, "Invalid load_balancer: an ELB name ([A-Za-z0-9-], at most 32 characters).");
    return -1;
  }
  json_t *cfg = NULL;
  const char *cfg_name = config ? config : actor_json_str(rec, "config", "");
  int rc = cloud_swconfig_get(r->ctx->redis, r->ident.tenant, cfg_name, &cfg);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 400, "unknown configuration: %.64s", cfg_name);
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    return -1;
  }
  const char *t = type && *type ? type : actor_json_str(rec, "instance_type", NULL);
  if (t == NULL) {
    json_t *first = json_array_get(json_object_get(cfg, "instance_types"), 0);
    t = json_string_value(first);
  }
  bool allowed = false;
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(cfg, "instance_types"), i, it) {
    allowed = allowed || (t && json_is_string(it) && strcmp(json_string_value(it), t) == 0);
  }
  if (!allowed) {
    api_error(r, 400, "instance type %.64s is not allowed by configuration %s", t ? t : "",
              cfg_name);
    json_decref(cfg);
    return -1;
  }
  json_object_set_new(rec, "instance_type", json_string(t));
  json_decref(cfg);
  if (name)
    json_object_set_new(rec, "name", json_string(name));
  if (config)
    json_object_set_new(rec, "config", json_string(config));
  if (has_min || create)
    json_object_set_new(rec, "min_nodes", json_integer(has_min ? min : 0));
  if (has_max || create)
    json_object_set_new(rec, "max_nodes", json_integer(has_max ? max : 1));
  if (has_delay || create)
    json_object_set_new(rec, "scale_in_delay", json_real(has_delay ? delay : 5.0));
  if (lb)
    json_object_set_new(rec, "load_balancer", *lb ? json_string(lb) : json_null());
  else if (create)
    json_object_set_new(rec, "load_balancer", json_null());
  if (actor_json_int(rec, "min_nodes", 0) > actor_json_int(rec, "max_nodes", 0)) {
    api_error(r, 400, "Invalid min_nodes: %lld is more than max_nodes (%lld).",
              actor_json_int(rec, "min_nodes", 0), actor_json_int(rec, "max_nodes", 0));
    return -1;
  }
  return 0;
}

void api_cluster_create(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  char id[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  actor_time_now_text(now);
  json_t *rec = json_object();
  if (rec == NULL || actor_id_new(id) != 0) {
    api_error(r, 500, "Could not make a new cluster id.");
    goto out;
  }
  json_object_set_new(rec, "id", json_string(id));
  json_object_set_new(rec, "tenant", json_string(r->ident.tenant));
  json_object_set_new(rec, "owner", json_string(r->ident.username));
  json_object_set_new(rec, "tag", json_string(r->ctx->cloud->s.tag));
  json_object_set_new(rec, "created", json_string(now));
  json_object_set_new(rec, "updated", json_string(now));
  json_object_set_new(rec, "last_scale_out", json_null());
  if (cluster_fields(r, body, rec, true) != 0)
    goto out;
  int rc = cluster_create(r->ctx->redis, rec);
  if (rc == ACTOR_ETOOBIG) {
    api_error(r, 400, "Too many clusters: a tenant has at most %d.", CLUSTER_MAX_PER_TENANT);
    goto out;
  }
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  LOG_INFO("api", "cluster %s:%s (%s) created by %s", r->ident.tenant, id,
           actor_json_str(rec, "name", ""), r->ident.username);
  api_answer(r, 201, "Cluster created.", cluster_display(r, rec, true));
out:
  json_decref(rec);
  json_decref(body);
}

void api_cluster_get(api_req_t *r) {
  json_t *rec = clu_load(r);
  if (rec == NULL)
    return;
  api_ok(r, "Cluster retrieved successfully.", cluster_display(r, rec, true));
  json_decref(rec);
}

void api_cluster_update(api_req_t *r) {
  json_t *rec = clu_load(r), *body = NULL;
  if (rec == NULL || (body = api_body_object(r)) == NULL)
    goto out;
  char now[ACTOR_TIME_MAX];
  actor_time_now_text(now);
  if (cluster_fields(r, body, rec, false) != 0)
    goto out;
  json_object_set_new(rec, "updated", json_string(now));
  json_t *fields = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "name",
                             json_object_get(rec, "name"), "config", json_object_get(rec, "config"),
                             "instance_type", json_object_get(rec, "instance_type"), "min_nodes",
                             json_object_get(rec, "min_nodes"), "max_nodes",
                             json_object_get(rec, "max_nodes"), "scale_in_delay",
                             json_object_get(rec, "scale_in_delay"), "load_balancer",
                             json_object_get(rec, "load_balancer"), "updated",
                             json_object_get(rec, "updated"));
  int rc = fields ? cluster_update(r->ctx->redis, r->ident.tenant, clu_id_of(rec), fields)
                  : ACTOR_ENOMEM;
  json_decref(fields);
  if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Cluster updated.", cluster_display(r, rec, true));
out:
  json_decref(body);
  json_decref(rec);
}

void api_cluster_delete(api_req_t *r) {
  json_t *rec = clu_load(r);
  if (rec == NULL)
    return;
  int rc = cluster_delete(r->ctx->redis, r->ident.tenant, clu_id_of(rec),
                          actor_json_str(rec, "tag", ""));
  if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Cluster deleted; its nodes are left running.", NULL);
  json_decref(rec);
}

/* ---- nodes ---- */

static bool address_ok(const char *a) {
  size_t n = a ? strlen(a) : 0;
  if (n == 0 || n > ADDRESS_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)a[i]) && !strchr(".-:[]", a[i]))
      return false;
  return true;
}

/* POST /clusters/{id}/nodes: {address} adopts an existing host,
 * {instance_id} an instance of the tenant. */
void api_cluster_node_add(api_req_t *r) {
  json_t *rec = clu_load(r), *body = NULL, *node = NULL, *nodes = NULL;
  if (rec == NULL || (body = api_body_object(r)) == NULL)
    goto out;
  const char *address = NULL, *iid = NULL;
  if (api_field_string(r, body, "address", &address) != 0 ||
      api_field_string(r, body, "instance_id", &iid) != 0)
    goto out;
  if ((address && *address) == (iid && *iid)) {
    api_error(r, 400, "Give one of address (a host to adopt) or instance_id (an instance).");
    goto out;
  }
  if (address && *address && !address_ok(address)) {
    api_error(r, 400, "Invalid address: a host name or IP address of at most %d characters.",
              ADDRESS_MAX);
    goto out;
  }
  int rc = cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "nodes", &nodes);
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  if (json_object_size(nodes) >= CLUSTER_MAX_NODES) {
    api_error(r, 400, "Too many nodes: a cluster has at most %d.", CLUSTER_MAX_NODES);
    goto out;
  }
  char nid[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  actor_time_now_text(now);
  if (iid && *iid) {
    json_t *inst = NULL;
    rc = api_cloud_name_ok(iid, 64) ? cloud_instance_get(r->ctx->redis, r->ident.tenant, iid, &inst)
                                    : ACTOR_ENOTFOUND;
    json_decref(inst);
    if (rc == ACTOR_ENOTFOUND) {
      api_error(r, 400, "Instance %.64s not found.", iid);
      goto out;
    }
    if (rc != 0) {
      api_store_error(r, rc, "instance");
      goto out;
    }
    snprintf(nid, sizeof(nid), "%s", iid);
    node = json_pack("{s:s, s:s, s:s, s:s}", "id", nid, "kind", "managed", "instance_id", iid,
                     "added", now);
  } else {
    if (actor_id_new(nid) != 0) {
      api_error(r, 500, "Could not make a node id.");
      goto out;
    }
    node = json_pack("{s:s, s:s, s:s, s:s}", "id", nid, "kind", "adopted", "address", address,
                     "added", now);
  }
  rc = node ? cluster_item_put(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "nodes", nid, node)
            : ACTOR_ENOMEM;
  if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_answer(r, 201, "Node added.", json_incref(node));
out:
  json_decref(node);
  json_decref(nodes);
  json_decref(body);
  json_decref(rec);
}

/* DELETE /clusters/{id}/nodes/{nid}: the cluster forgets the node (an
 * instance is left running). */
void api_cluster_node_delete(api_req_t *r) {
  json_t *rec = clu_load(r), *node = NULL;
  if (rec == NULL)
    return;
  int rc = cluster_item_get(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "nodes", r->params[1],
                            &node);
  if (rc == 0)
    rc = cluster_item_del(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "nodes", r->params[1]);
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Node %s not found in cluster %s.", r->params[1], clu_id_of(rec));
  else if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Node removed from the cluster.", NULL);
  json_decref(node);
  json_decref(rec);
}
