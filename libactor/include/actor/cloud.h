/* The cloud side's shared model: software configurations, launch groups,
 * token params and instances in Redis (layout in docs/cloud.md), their
 * audit in MongoDB, the cluster-wide AWS metrics, token replacement and
 * the [cloud] settings. Used by the api, the launcher and the updater.
 *
 * Records are store_record.h records (a hash of JSON fields) so one
 * process can change `state` while another changes `progress`; guarded
 * transitions go through cloud_instance_transition(). Every call follows
 * the store's error rule (store.h). */
#ifndef ACTOR_CLOUD_H
#define ACTOR_CLOUD_H

#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor/config.h"
#include "actor/store.h"

/* ---- settings ([cloud], docs/cloud.md) ---- */
typedef struct {
  const char *tag;           /* LaunchedBy value */
  long max_count;
  long update_interval;      /* seconds */
  long stale_guard;          /* seconds */
  long gone_grace;           /* seconds */
  const char *launch_queue;
  const char *command_queue;
  long poll_initial_ms, poll_step_ms, poll_max_ms, poll_max_count;
  long retry_cap_ms;
  const char *progress_url;  /* borrowed, or built into progress_url_buf */
  const char *pricing_file;
  char progress_url_buf[256];
} cloud_settings_t;

/* Reads [cloud]; a bad value is ACTOR_ECONFIG, logged naming the key. */
ACTOR_MUST_CHECK int cloud_settings_load(const actor_config_t *cfg, cloud_settings_t *s);

/* ---- keys (snprintf into buf; ACTOR_ETOOBIG when it does not fit) ---- */
ACTOR_MUST_CHECK int cloud_key_instance(char *buf, size_t n, const char *tenant, const char *id);
ACTOR_MUST_CHECK int cloud_key_swconfig(char *buf, size_t n, const char *tenant, const char *name);
ACTOR_MUST_CHECK int cloud_key_group(char *buf, size_t n, const char *tenant, const char *name);

/* ---- states ---- */
/* "launching", "pending", "running", "stopping", "stopped",
 * "shutting-down", "terminated", "failed". */
bool cloud_state_valid(const char *state);
/* terminated or failed: progress is ignored, no action but DELETE. */
bool cloud_state_terminal(const char *state);
/* The stack name for an instance: <tag>-<tenant>-<id>, characters outside
 * [A-Za-z0-9-] turned into '-', at most 128 characters. */
ACTOR_MUST_CHECK int cloud_stack_name(char *buf, size_t n, const char *tag, const char *tenant,
                                      const char *id);

/* ---- instances ---- */
/* Stores a new record and indexes it (tenant set, tag index, and the ec2
 * index when it has ec2_instance_id). obj must have id, tenant, tag
 * (ACTOR_EINVAL); ACTOR_EEXIST when the record exists. running_seconds
 * starts at 0 (running_since is set when obj's state is running).
 *
 * Running time, for cost: every create, update and transition whose fields
 * hold `state` also writes `running_since` (the ISO time the record entered
 * `running`; null when not running) and `running_seconds` (seconds spent
 * running before running_since), in the same write. A `state` that is not
 * cloud_state_valid() is ACTOR_EINVAL. */
ACTOR_MUST_CHECK int cloud_instance_create(store_redis_t *r, const json_t *obj);
/* ACTOR_ENOTFOUND when absent. id is the platform id. */
ACTOR_MUST_CHECK int cloud_instance_get(store_redis_t *r, const char *tenant, const char *id,
                                        json_t **out);
/* The record of an EC2 instance id (via abaco:cloud:ec2:<id>), or
 * ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int cloud_instance_by_ec2(store_redis_t *r, const char *ec2_id, json_t **out);
/* The record of a platform id in any tenant (via abaco:cloud:id:<id>,
 * written by cloud_instance_create), or ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int cloud_instance_find(store_redis_t *r, const char *id, json_t **out);
/* Sets fields of an existing record (ACTOR_ENOTFOUND when absent). When
 * fields has ec2_instance_id, the ec2 index is written too (and an older
 * EC2 id's entry removed); when it has tag, the tag index follows. */
ACTOR_MUST_CHECK int cloud_instance_update(store_redis_t *r, const char *tenant, const char *id,
                                           const json_t *fields);
/* Sets fields only if `state` is one of from (NULL-terminated; NULL: any):
 * ACTOR_ESTATE when it is not. */
ACTOR_MUST_CHECK int cloud_instance_transition(store_redis_t *r, const char *tenant,
                                               const char *id, const char *const *from,
                                               const json_t *fields);
/* Removes the record and its index entries (0 also when it was absent). */
ACTOR_MUST_CHECK int cloud_instance_delete(store_redis_t *r, const char *tenant, const char *id);
/* The ids of a tenant (array of strings). */
ACTOR_MUST_CHECK int cloud_instance_ids(store_redis_t *r, const char *tenant, json_t **out);
/* The records of a tag's index (every tenant): array of records; members
 * whose record is gone are dropped from the index. */
ACTOR_MUST_CHECK int cloud_instances_of_tag(store_redis_t *r, const char *tag, json_t **out);
/* Records many instances of one tenant (pipelined): array, absent ones skipped. */
ACTOR_MUST_CHECK int cloud_instances_get_many(store_redis_t *r, const char *tenant,
                                              const json_t *ids, json_t **out);
/* Prepends {time, op, code, message, request_id} to backend_status, keeping
 * the newest 10, and sets `error` to message. */
ACTOR_MUST_CHECK int cloud_instance_backend_error(store_redis_t *r, const char *tenant,
                                                  const char *id, const char *op,
                                                  const char *code, const char *message,
                                                  const char *request_id);
/* A new record as POST /instances makes it (state launching, desired
 * running, its stack name, progress "launch requested", the token for
 * progress reports; group NULL: none). NULL when out of memory or the
 * stack name does not fit. The api and the updater's deploy_node use it,
 * then cloud_instance_create() and a {tenant, instance_id, request_id,
 * who} message on [cloud] launch_queue. */
json_t *cloud_instance_new_record(const char *tenant, const char *owner, const char *name,
                                  const char *config, const char *group, const char *type,
                                  const char *tag, const char *id, const char *token,
                                  const char *now);
/* The record as an API answer: a new object without progress_token,
 * with `cost` (price_per_hour * hours running, running_seconds plus the
 * time since running_since, to the cent; price < 0: null). NULL when out
 * of memory. */
json_t *cloud_instance_public(const json_t *rec, double price_per_hour);

/* ---- software configurations, groups, params ----
 * put: obj's name must be [A-Za-z0-9_.-]{1,64} (ACTOR_EINVAL); the record
 * is replaced as a whole. get/delete: ACTOR_ENOTFOUND when absent. list:
 * the records sorted by name. params_set: names as token names, values
 * strings (ACTOR_EINVAL, nothing written), and the tenant has at most
 * CLOUD_PARAMS_MAX names in all (ACTOR_ETOOBIG, nothing written);
 * params_delete: ACTOR_ENOTFOUND when unset. group_for with a `named` group that does not exist:
 * ACTOR_ENOTFOUND. */
ACTOR_MUST_CHECK int cloud_swconfig_put(store_redis_t *r, const char *tenant, const json_t *obj);
ACTOR_MUST_CHECK int cloud_swconfig_get(store_redis_t *r, const char *tenant, const char *name,
                                        json_t **out);
ACTOR_MUST_CHECK int cloud_swconfig_delete(store_redis_t *r, const char *tenant, const char *name);
ACTOR_MUST_CHECK int cloud_swconfig_list(store_redis_t *r, const char *tenant, json_t **out);
ACTOR_MUST_CHECK int cloud_group_put(store_redis_t *r, const char *tenant, const json_t *obj);
ACTOR_MUST_CHECK int cloud_group_get(store_redis_t *r, const char *tenant, const char *name,
                                     json_t **out);
ACTOR_MUST_CHECK int cloud_group_delete(store_redis_t *r, const char *tenant, const char *name);
ACTOR_MUST_CHECK int cloud_group_list(store_redis_t *r, const char *tenant, json_t **out);
/* The group a launch by user uses (docs/cloud.md), or *out = NULL. */
ACTOR_MUST_CHECK int cloud_group_for(store_redis_t *r, const char *tenant, const char *user,
                                     const char *named, json_t **out);
/* The tenant's params: object name -> value. */
#define CLOUD_PARAMS_MAX 256
/* Most software configurations, and most launch groups, of one tenant:
 * cloud_swconfig_put / cloud_group_put of a new name past it is
 * ACTOR_ETOOBIG (nothing written). */
#define CLOUD_CATALOG_MAX 1000
ACTOR_MUST_CHECK int cloud_params_get(store_redis_t *r, const char *tenant, json_t **out);
ACTOR_MUST_CHECK int cloud_params_set(store_redis_t *r, const char *tenant, const json_t *values);
ACTOR_MUST_CHECK int cloud_params_delete(store_redis_t *r, const char *tenant, const char *name);

/* ---- token replacement (no I/O) ----
 * Replaces every {{{name}}} (name: [A-Za-z0-9_.-]+) of text from the
 * objects in `sources` (a NULL-terminated list, first match wins; values
 * are strings, numbers and booleans are written as JSON). One pass: a
 * value is not scanned again, so a value holding {{{x}}} stays as it is;
 * "{{{" not followed by a name and "}}}" is left alone. An unknown token is
 * ACTOR_ENOTFOUND with its name in missing (when not NULL); a result longer
 * than CLOUD_USER_DATA_MAX bytes is ACTOR_ETOOBIG (EC2's limit on user
 * data). *out malloc'd. */
#define CLOUD_USER_DATA_MAX 16384
/* CloudFormation's limit on a parameter value: the UserData parameter
 * holds at most this many bytes of base64 (3072 bytes of script). */
#define CLOUD_USER_DATA_PARAM_MAX 4096
ACTOR_MUST_CHECK int cloud_render_tokens(const char *text, const json_t *const *sources,
                                         char **out, char *missing, size_t missing_len);
/* The [cloud_tokens] section as an object (new reference). */
json_t *cloud_config_tokens(const actor_config_t *cfg);

/* ---- template check (no I/O) ----
 * 0 when text is a JSON object or a YAML mapping (CloudFormation's short
 * tags such as !Ref allowed); else ACTOR_EPARSE with the parser's words in
 * err ("JSON: ..." or "YAML: ... at line L column C", or what the document
 * is instead of a mapping). Over CLOUD_TEMPLATE_MAX bytes (CloudFormation's
 * limit on a TemplateBody, which is how templates are sent): ACTOR_ETOOBIG. */
#define CLOUD_TEMPLATE_MAX 51200
ACTOR_MUST_CHECK int cloud_template_check(const char *text, char *err, size_t errlen);

/* ---- audit (MongoDB collection instance_audit) ---- */
/* doc: {tenant, instance_id, ec2_instance_id, who, action, outcome, code,
 * message, request_id}; `time` is added. */
ACTOR_MUST_CHECK int cloud_audit_add(store_mongo_t *m, const json_t *doc);
/* Newest first, at most limit. */
ACTOR_MUST_CHECK int cloud_audit_list(store_mongo_t *m, const char *tenant, const char *instance_id,
                                      long limit, json_t **out);

/* ---- cluster-wide metrics (Redis hashes, rendered by the api) ---- */
/* abaco:metrics:aws_calls  "<op>|<outcome>" += 1; throttled attempts add
 * to abaco:metrics:aws_calls "throttles". */
ACTOR_MUST_CHECK int cloud_metrics_aws_call(store_redis_t *r, const char *op, const char *outcome,
                                            int throttled);
/* abaco:metrics:reconcile: duration_ms, objects (of the last pass), passes += 1. */
ACTOR_MUST_CHECK int cloud_metrics_reconcile(store_redis_t *r, long long duration_ms,
                                             long long objects);

#endif
