/* The keys of abaco.conf the platform knows: those some service reads,
 * and Abaco's own settings that it accepts without using them, so that a
 * service started from Abaco's abaco.conf or local-dev.conf says once, by
 * name, what it ignores, and a misspelt key does not pass silently. The
 * table is the one place to add a key a service starts reading (a unit
 * test checks every key the sources read is in it); docs/configuration.md
 * explains each. Keys another service reads are not reported: every
 * service reads the same file. */
#include "actor/config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "actor/log.h"

#define KEYS_LOG "config"

/* How a setting may also be given per tenant, as <tenant>_<key>. */
enum { PER_NONE, PER_TENANT, PER_TENANT_ABACO };

typedef struct {
  const char *section, *key;
  bool used;    /* false: one of Abaco's settings the platform does not use */
  int tenant;   /* PER_TENANT: honoured per tenant; PER_TENANT_ABACO: Abaco's, not here */
} key_def_t;

static const key_def_t KEYS[] = {
    {"general", "TAG", true, PER_NONE},
    {"general", "id_salt", true, PER_NONE},
    {"logs", "level", true, PER_NONE},
    {"logs", "files", true, PER_NONE},
    {"logs", "directory", true, PER_NONE},
    {"logs", "format", true, PER_NONE},
    {"logs", "file", false, PER_NONE},
    {"logs", "host_dir", false, PER_NONE},
    {"store", "redis_host", true, PER_NONE},
    {"store", "redis_port", true, PER_NONE},
    {"store", "redis_password", true, PER_NONE},
    {"store", "redis_db", true, PER_NONE},
    {"store", "redis_url", true, PER_NONE},
    {"store", "mongo_host", true, PER_NONE},
    {"store", "mongo_port", true, PER_NONE},
    {"store", "mongo_user", true, PER_NONE},
    {"store", "mongo_password", true, PER_NONE},
    {"store", "mongo_db", true, PER_NONE},
    {"store", "mongo_url", true, PER_NONE},
    {"store", "executions_retention", true, PER_NONE},
    {"store", "executions_retention_interval", true, PER_NONE},
    {"store", "executions_retention_batch", true, PER_NONE},
    {"rabbit", "uri", true, PER_NONE},
    {"rabbit", "management_url", true, PER_NONE},
    {"rabbit", "management_user", true, PER_NONE},
    {"rabbit", "management_password", true, PER_NONE},
    {"queue", "host", false, PER_NONE},
    {"spawner", "host_id", true, PER_NONE},
    {"spawner", "host_ip", true, PER_NONE},
    {"spawner", "host_queues", true, PER_NONE},
    {"spawner", "max_cmd_length", true, PER_NONE},
    {"spawner", "max_workers_per_host", true, PER_NONE},
    {"spawner", "max_workers_per_actor", true, PER_NONE},
    {"spawner", "docker_network", true, PER_NONE},
    {"spawner", "worker_backend", true, PER_NONE},
    {"spawner", "worker_path", true, PER_NONE},
    {"spawner", "worker_image", true, PER_NONE},
    {"spawner", "worker_network", true, PER_NONE},
    {"spawner", "abaco_conf_host_path", true, PER_NONE},
    {"docker", "dd", true, PER_NONE},
    {"workers", "init_count", true, PER_NONE},
    {"workers", "autoscaling", true, PER_NONE},
    {"workers", "autoscale_interval", true, PER_NONE},
    {"workers", "autoscale_idle_grace", true, PER_NONE},
    {"workers", "max_run_time", true, PER_NONE},
    {"workers", "mem_limit", true, PER_NONE},
    {"workers", "max_cpus", true, PER_NONE},
    {"workers", "worker_ttl", true, PER_NONE},
    {"workers", "sync_max_idle_time", true, PER_NONE},
    {"workers", "leave_containers", true, PER_NONE},
    {"workers", "generate_clients", true, PER_TENANT},
    {"workers", "actor_uid", true, PER_TENANT},
    {"workers", "actor_gid", true, PER_TENANT},
    {"workers", "socket_host_path_dir", true, PER_NONE},
    {"workers", "fifo_host_path_dir", true, PER_NONE},
    {"workers", "runtime", true, PER_NONE},
    {"workers", "oci_dir", true, PER_NONE},
    {"workers", "oci_subnet", true, PER_NONE},
    {"workers", "auto_remove", false, PER_NONE},
    {"workers", "global_mounts", false, PER_TENANT_ABACO},
    {"workers", "privileged_mounts", false, PER_NONE},
    {"workers", "use_tas_uid", false, PER_TENANT_ABACO},
    {"workers", "actor_homedir", false, PER_TENANT_ABACO},
    {"health", "index_repair_interval", true, PER_NONE},
    {"health", "interval", true, PER_NONE},
    {"health", "shutdown_timeout", true, PER_NONE},
    {"health", "spawn_timeout", true, PER_NONE},
    {"health", "status_misses", true, PER_NONE},
    {"web", "port", true, PER_NONE},
    {"web", "bind", true, PER_NONE},
    {"web", "access_control", true, PER_NONE},
    {"web", "tenant_name", true, PER_NONE},
    {"web", "user_role", true, PER_NONE},
    {"web", "accept_nonce", true, PER_NONE},
    {"web", "apim_public_key", true, PER_TENANT},
    {"web", "default_token", true, PER_TENANT},
    {"web", "case", true, PER_NONE},
    {"web", "max_content_length", true, PER_NONE},
    {"web", "max_body_size", true, PER_NONE},
    {"web", "jwt_exp_milliseconds", true, PER_NONE},
    {"web", "max_log_length", true, PER_NONE},
    {"web", "log_ex", true, PER_TENANT},
    {"web", "log_ex_limit", true, PER_TENANT},
    {"web", "encryption_key", true, PER_NONE},
    {"web", "show_traceback", true, PER_NONE},
    {"web", "cron_interval", true, PER_NONE},
    {"web", "cron_clock_offset", true, PER_NONE},
    {"web", "all_queues", false, PER_NONE},
    {"clientg", "queue", true, PER_NONE},
    {"clientg", "secret", true, PER_NONE},
    {"clientg", "private_key_file", true, PER_NONE},
    {"clientg", "token_ttl", true, PER_NONE},
    {"cloud", "endpoint", true, PER_NONE},
    {"cloud", "region", true, PER_NONE},
    {"cloud", "access_key_id", true, PER_NONE},
    {"cloud", "secret_access_key", true, PER_NONE},
    {"cloud", "session_token", true, PER_NONE},
    {"cloud", "tag", true, PER_NONE},
    {"cloud", "max_count", true, PER_NONE},
    {"cloud", "update_interval", true, PER_NONE},
    {"cloud", "stale_guard", true, PER_NONE},
    {"cloud", "gone_grace", true, PER_NONE},
    {"cloud", "launch_queue", true, PER_NONE},
    {"cloud", "command_queue", true, PER_NONE},
    {"cloud", "poll_initial_ms", true, PER_NONE},
    {"cloud", "poll_step_ms", true, PER_NONE},
    {"cloud", "poll_max_ms", true, PER_NONE},
    {"cloud", "poll_max_count", true, PER_NONE},
    {"cloud", "max_retries", true, PER_NONE},
    {"cloud", "retry_base_ms", true, PER_NONE},
    {"cloud", "retry_cap_ms", true, PER_NONE},
    {"cloud", "timeout_ms", true, PER_NONE},
    {"cloud", "describe_rate", true, PER_NONE},
    {"cloud", "describe_burst", true, PER_NONE},
    {"cloud", "progress_url", true, PER_NONE},
    {"cloud", "pricing_file", true, PER_NONE},
    {"smtp", "host", true, PER_NONE},
    {"smtp", "port", true, PER_NONE},
    {"smtp", "from", true, PER_NONE},
    {"smtp", "user", true, PER_NONE},
    {"smtp", "password", true, PER_NONE},
    {"smtp", "tls", true, PER_NONE},
    {"smtp", "ca_file", true, PER_NONE},
    {"smtp", "timeout", true, PER_NONE},
    {"plugins", "dir", true, PER_NONE},
    {"plugins", "dns", true, PER_NONE},
    {"plugins", "auth", true, PER_NONE},
    {"plugins", "admin_groups", true, PER_NONE},
    {"plugins", "privileged_groups", true, PER_NONE},
    {"plugins", "user_groups", true, PER_NONE},
    {"plugins", "header_user", true, PER_NONE},
    {"plugins", "header_groups", true, PER_NONE},
    {"plugins", "route53_zone_id", true, PER_NONE},
    {"plugins", "route53_domain", true, PER_NONE},
    {"plugins", "route53_ttl", true, PER_NONE},
    {"clusters", "metrics_url", true, PER_NONE},
    {"clusters", "test_hooks", true, PER_NONE},
};

/* Keys that are a prefix and a free part: [logs] level.<module> (read),
 * [logs] file.<module> and [docker] dockerhub_{username,password}_<n>
 * (Abaco's, not used). */
static const struct {
  const char *section, *prefix;
  bool used, digits;
} PATTERNS[] = {{"logs", "level.", true, false},
                {"logs", "file.", false, false},
                {"docker", "dockerhub_username_", false, true},
                {"docker", "dockerhub_password_", false, true},
                {"cloud_tokens", "", true, false}};

static bool pattern_match(const char *key, const char *prefix, bool digits) {
  size_t n = strlen(prefix);
  if (strncasecmp(key, prefix, n) != 0 || key[n] == '\0')
    return false;
  for (const char *p = key + n; digits && *p; p++)
    if (!isdigit((unsigned char)*p))
      return false;
  return true;
}

actor_config_key_kind_t actor_config_key_kind(const char *section, const char *key,
                                              const char **setting) {
  if (setting != NULL)
    *setting = NULL;
  if (section == NULL || key == NULL)
    return ACTOR_KEY_UNKNOWN;
  size_t nkeys = sizeof(KEYS) / sizeof(KEYS[0]);
  for (size_t i = 0; i < nkeys; i++)
    if (strcasecmp(KEYS[i].section, section) == 0 && strcasecmp(KEYS[i].key, key) == 0)
      return KEYS[i].used ? ACTOR_KEY_USED : ACTOR_KEY_ABACO;
  for (size_t i = 0; i < sizeof(PATTERNS) / sizeof(PATTERNS[0]); i++)
    if (strcasecmp(PATTERNS[i].section, section) == 0 &&
        pattern_match(key, PATTERNS[i].prefix, PATTERNS[i].digits))
      return PATTERNS[i].used ? ACTOR_KEY_USED : ACTOR_KEY_ABACO;
  size_t n = strlen(key);
  for (size_t i = 0; i < nkeys; i++) {
    size_t k = strlen(KEYS[i].key);
    if (KEYS[i].tenant == PER_NONE || strcasecmp(KEYS[i].section, section) != 0 || n < k + 2 ||
        key[n - k - 1] != '_' || strcasecmp(key + n - k, KEYS[i].key) != 0)
      continue;
    if (setting != NULL)
      *setting = key + n - k;
    return KEYS[i].tenant == PER_TENANT ? ACTOR_KEY_TENANT : ACTOR_KEY_ABACO_TENANT;
  }
  return ACTOR_KEY_UNKNOWN;
}

static void warn_entry(const char *section, const char *key, const char *value, void *ud) {
  (void)value;
  size_t *count = ud;
  const char *setting = NULL;
  switch (actor_config_key_kind(section, key, &setting)) {
  case ACTOR_KEY_USED:
  case ACTOR_KEY_TENANT:
    return;
  case ACTOR_KEY_ABACO:
    LOG_WARN(KEYS_LOG, "[%s] %s: one of Abaco's settings that this platform does not use; "
                       "ignored", section, key);
    break;
  case ACTOR_KEY_ABACO_TENANT:
    LOG_WARN(KEYS_LOG, "[%s] %s: Abaco's %s for tenant %.*s, which this platform does not "
                       "use; ignored", section, key, setting, (int)(setting - key - 1), key);
    break;
  case ACTOR_KEY_UNKNOWN:
    LOG_WARN(KEYS_LOG, "[%s] %s: unknown key; ignored", section, key);
    break;
  }
  (*count)++;
}

size_t actor_config_warn_unused(const actor_config_t *cfg) {
  size_t count = 0;
  actor_config_each_entry(cfg, warn_entry, &count);
  return count;
}
