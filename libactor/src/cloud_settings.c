/* The [cloud] settings (docs/cloud.md's table), the cloud side's key names,
 * its states and stack names: the small pure helpers of cloud.h. */
#include <stdio.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/log.h"

#define CLOUD_MODULE "cloud"

/* An integer key with its default and its allowed range. The upper bounds
 * (docs/cloud.md) keep what is computed from a value (ms = s * 1000, a
 * lease of twice the interval, one allocation per instance of a launch)
 * far from overflow. */
static int get_long(const actor_config_t *cfg, const char *key, long def, long min, long max,
                    long *out) {
  return actor_config_get_int_range(cfg, "cloud", key, def, min, max, out);
}

#define HOUR_MS 3600000L
#define DAY_S 86400L

static bool name_chars(const char *s, const char *extra) {
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          strchr(extra, *s)))
      return false;
  return true;
}

static int get_name(const actor_config_t *cfg, const char *key, const char *def,
                    const char **out) {
  *out = actor_config_get(cfg, "cloud", key, def);
  size_t len = strlen(*out);
  if (len == 0 || len > 64 || !name_chars(*out, "_.-")) {
    LOG_ERROR(CLOUD_MODULE, "[cloud] %s = \"%s\": must be 1 to 64 of [A-Za-z0-9_.-]", key, *out);
    *out = def;
    return ACTOR_ECONFIG;
  }
  return 0;
}

/* http://<[web] bind>:<[web] port>, a wildcard bind read as loopback. */
static int default_progress_url(const actor_config_t *cfg, cloud_settings_t *s) {
  long port = 0;
  if (actor_config_get_int(cfg, "web", "port", 8000, &port) != 0)
    return ACTOR_ECONFIG;
  const char *bind = actor_config_get(cfg, "web", "bind", "0.0.0.0");
  const char *host = bind;
  const char *fmt = "http://%s:%ld";
  if (*bind == '\0' || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "*") == 0)
    host = "127.0.0.1";
  else if (strcmp(bind, "::") == 0 || strcmp(bind, "[::]") == 0)
    host = "[::1]";
  else if (strchr(bind, ':') && bind[0] != '[')
    fmt = "http://[%s]:%ld"; /* an IPv6 address */
  int n = snprintf(s->progress_url_buf, sizeof(s->progress_url_buf), fmt, host, port);
  if (n < 0 || (size_t)n >= sizeof(s->progress_url_buf)) {
    LOG_ERROR(CLOUD_MODULE, "[web] bind = \"%s\": too long for [cloud] progress_url", bind);
    return ACTOR_ECONFIG;
  }
  s->progress_url = s->progress_url_buf;
  return 0;
}

int cloud_settings_load(const actor_config_t *cfg, cloud_settings_t *s) {
  memset(s, 0, sizeof(*s));
  int rc = 0;
  /* every key is checked (and a bad one logged) even after a first error */
  rc |= get_name(cfg, "tag", "ABACO", &s->tag);
  rc |= get_long(cfg, "max_count", 10, 1, 1000, &s->max_count);
  rc |= get_long(cfg, "update_interval", 60, 1, DAY_S, &s->update_interval);
  rc |= get_long(cfg, "stale_guard", 300, 0, 30 * DAY_S, &s->stale_guard);
  rc |= get_long(cfg, "gone_grace", 0, 0, 365 * DAY_S, &s->gone_grace);
  rc |= get_name(cfg, "launch_queue", "launch", &s->launch_queue);
  rc |= get_name(cfg, "command_queue", "instance_cmd", &s->command_queue);
  rc |= get_long(cfg, "poll_initial_ms", 20000, 0, HOUR_MS, &s->poll_initial_ms);
  rc |= get_long(cfg, "poll_step_ms", 5000, 0, HOUR_MS, &s->poll_step_ms);
  rc |= get_long(cfg, "poll_max_ms", 60000, 1, HOUR_MS, &s->poll_max_ms);
  rc |= get_long(cfg, "poll_max_count", 90, 1, 100000, &s->poll_max_count);
  rc |= get_long(cfg, "retry_cap_ms", 20000, 1, HOUR_MS, &s->retry_cap_ms);
  s->pricing_file =
      actor_config_get(cfg, "cloud", "pricing_file", "services/api/share/ec2_instances.json");
  if (*s->pricing_file == '\0') {
    LOG_ERROR(CLOUD_MODULE, "[cloud] pricing_file is empty");
    rc |= 1;
  }
  const char *url = actor_config_get(cfg, "cloud", "progress_url", NULL);
  if (url == NULL || *url == '\0') {
    rc |= default_progress_url(cfg, s);
  } else if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
             strlen(url) >= sizeof(s->progress_url_buf)) {
    LOG_ERROR(CLOUD_MODULE, "[cloud] progress_url = \"%s\": must be an http(s) URL of at most %zu "
              "characters", url, sizeof(s->progress_url_buf) - 1);
    rc |= 1;
  } else {
    /* without a trailing '/', so callers append "/instances/..." */
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
      len--;
    memcpy(s->progress_url_buf, url, len);
    s->progress_url_buf[len] = '\0';
    s->progress_url = s->progress_url_buf;
  }
  return rc ? ACTOR_ECONFIG : 0;
}

/* ---- keys ---- */

static int key_fmt(char *buf, size_t n, const char *what, const char *tenant, const char *name) {
  if (tenant == NULL || name == NULL || *tenant == '\0' || *name == '\0')
    return ACTOR_EINVAL;
  int len = snprintf(buf, n, "abaco:%s:%s:%s", what, tenant, name);
  return len < 0 || (size_t)len >= n ? ACTOR_ETOOBIG : 0;
}

int cloud_key_instance(char *buf, size_t n, const char *tenant, const char *id) {
  return key_fmt(buf, n, "instance", tenant, id);
}

int cloud_key_swconfig(char *buf, size_t n, const char *tenant, const char *name) {
  return key_fmt(buf, n, "swconfig", tenant, name);
}

int cloud_key_group(char *buf, size_t n, const char *tenant, const char *name) {
  return key_fmt(buf, n, "cloudgroup", tenant, name);
}

/* ---- states ---- */

static const char *const STATES[] = {"launching",     "pending",    "running", "stopping",
                                     "stopped",       "shutting-down", "terminated", "failed",
                                     NULL};

bool cloud_state_valid(const char *state) {
  for (size_t i = 0; state && STATES[i]; i++)
    if (strcmp(state, STATES[i]) == 0)
      return true;
  return false;
}

bool cloud_state_terminal(const char *state) {
  return state && (strcmp(state, "terminated") == 0 || strcmp(state, "failed") == 0);
}

int cloud_stack_name(char *buf, size_t n, const char *tag, const char *tenant, const char *id) {
  if (tag == NULL || tenant == NULL || id == NULL)
    return ACTOR_EINVAL;
  int len = snprintf(buf, n, "%s-%s-%s", tag, tenant, id);
  if (len < 0 || (size_t)len >= n || len > 128)
    return ACTOR_ETOOBIG;
  for (char *p = buf; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          *p == '-'))
      *p = '-';
  return 0;
}
