/* abaco.conf: parsed once by inih into a flat list of (section, key, value)
 * in file order; lookups are linear (a config has a few dozen keys) and
 * section and key names compare case-insensitively, like Python's
 * configparser with which Abaco reads the same file. An environment
 * variable `<section>_<key>` (exact case, then upper case) wins over the
 * file. A key repeated on the very next line is taken as a continuation
 * line (inih reports those that way) and appended after a newline; a key
 * repeated later replaces the earlier value. */
#include "actor/config.h"

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_LOG "config"
#define CONFIG_MAX_LINE 16384 /* base64 keys are longer than inih's 200 */

/* Debian's inih (r55) lets the line limit be raised at run time through
 * this global; other builds may lack it, hence the weak reference. */
extern int ini_max_line;
#pragma weak ini_max_line

extern char **environ;

typedef struct {
  char *section, *key, *value;
} config_entry_t;

struct actor_config_s {
  config_entry_t *entries;
  size_t n, cap;
  long last; /* entry the previous inih callback touched, -1 for none */
  int error; /* first allocation failure seen by the handler */
};

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void config_raise_line_limit(void) {
  if (&ini_max_line != NULL && ini_max_line < CONFIG_MAX_LINE)
    ini_max_line = CONFIG_MAX_LINE;
}

static long config_find(const actor_config_t *cfg, const char *section, const char *key) {
  for (size_t i = 0; i < cfg->n; i++)
    if (strcasecmp(cfg->entries[i].section, section) == 0 &&
        strcasecmp(cfg->entries[i].key, key) == 0)
      return (long)i;
  return -1;
}

static int config_handler(void *user, const char *section, const char *key, const char *value) {
  actor_config_t *cfg = user;
  long i = config_find(cfg, section, key);
  if (i >= 0 && i == cfg->last) { /* continuation line */
    config_entry_t *e = &cfg->entries[i];
    size_t a = strlen(e->value), b = strlen(value);
    char *v = realloc(e->value, a + b + 2);
    if (v == NULL)
      goto nomem;
    v[a] = '\n';
    memcpy(v + a + 1, value, b + 1);
    e->value = v;
    return 1;
  }
  if (i >= 0) {
    char *v = strdup(value);
    if (v == NULL)
      goto nomem;
    free(cfg->entries[i].value);
    cfg->entries[i].value = v;
    cfg->last = i;
    return 1;
  }
  config_entry_t *grown = actor_grow(cfg->entries, &cfg->cap, cfg->n + 1, sizeof(*grown), 32);
  if (grown == NULL)
    goto nomem;
  cfg->entries = grown;
  config_entry_t *e = &cfg->entries[cfg->n];
  e->section = strdup(section);
  e->key = strdup(key);
  e->value = strdup(value);
  if (e->section == NULL || e->key == NULL || e->value == NULL) {
    free(e->section);
    free(e->key);
    free(e->value);
    goto nomem;
  }
  cfg->last = (long)cfg->n++;
  return 1;
nomem:
  cfg->error = ACTOR_ENOMEM;
  return 0;
}

static actor_config_t *config_new(void) {
  pthread_once(&config_once, config_raise_line_limit);
  actor_config_t *cfg = calloc(1, sizeof(*cfg));
  if (cfg != NULL)
    cfg->last = -1;
  return cfg;
}

/* Turns inih's result into our code, logging where the text was bad. */
static int config_finish(actor_config_t *cfg, int rc, const char *where, actor_config_t **out) {
  if (cfg->error != 0) {
    actor_config_free(cfg);
    return ACTOR_ENOMEM;
  }
  if (rc > 0) {
    actor_log(ACTOR_LOG_ERROR, CONFIG_LOG, "%s:%d: syntax error", where, rc);
    actor_config_free(cfg);
    return ACTOR_EPARSE;
  }
  if (rc < 0) {
    actor_config_free(cfg);
    return ACTOR_ENOMEM;
  }
  *out = cfg;
  return 0;
}

int actor_config_parse(const char *text, actor_config_t **out) {
  if (text == NULL || out == NULL)
    return ACTOR_EINVAL;
  *out = NULL;
  actor_config_t *cfg = config_new();
  if (cfg == NULL)
    return ACTOR_ENOMEM;
  int rc = ini_parse_string(text, config_handler, cfg);
  return config_finish(cfg, rc, "<string>", out);
}

int actor_config_load(const char *path, actor_config_t **out) {
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = NULL;
  if (path == NULL)
    path = getenv("ABACO_CONF");
  if (path == NULL || *path == '\0')
    path = "abaco.conf";
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    int err = errno;
    actor_log(ACTOR_LOG_ERROR, CONFIG_LOG, "cannot open config file %s: %s", path,
              strerror(err));
    return err == ENOENT ? ACTOR_ENOTFOUND : ACTOR_EIO;
  }
  actor_config_t *cfg = config_new();
  if (cfg == NULL) {
    fclose(f);
    return ACTOR_ENOMEM;
  }
  int rc = ini_parse_file(f, config_handler, cfg);
  fclose(f);
  return config_finish(cfg, rc, path, out);
}

void actor_config_free(actor_config_t *cfg) {
  if (cfg == NULL)
    return;
  for (size_t i = 0; i < cfg->n; i++) {
    free(cfg->entries[i].section);
    free(cfg->entries[i].key);
    free(cfg->entries[i].value);
  }
  free(cfg->entries);
  free(cfg);
}

/* Looks up the environment override; sets *var to the name that matched
 * (in a caller buffer) for error messages. */
static const char *config_env(const char *section, const char *key, char *var, size_t varlen) {
  int n = snprintf(var, varlen, "%s_%s", section, key);
  if (n < 0 || (size_t)n >= varlen)
    return NULL;
  const char *v = getenv(var);
  if (v != NULL)
    return v;
  for (char *p = var; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  return getenv(var);
}

/* The value and where it came from ("" for the file). */
static const char *config_lookup(const actor_config_t *cfg, const char *section, const char *key,
                                 char *var, size_t varlen) {
  var[0] = '\0';
  if (section == NULL || key == NULL)
    return NULL;
  const char *v = config_env(section, key, var, varlen);
  if (v != NULL)
    return v;
  var[0] = '\0';
  if (cfg == NULL)
    return NULL;
  long i = config_find(cfg, section, key);
  return i >= 0 ? cfg->entries[i].value : NULL;
}

const char *actor_config_get(const actor_config_t *cfg, const char *section, const char *key,
                             const char *def) {
  char var[256];
  const char *v = config_lookup(cfg, section, key, var, sizeof(var));
  return v != NULL ? v : def;
}

static int config_bad(const char *section, const char *key, const char *value, const char *var,
                      const char *what) {
  if (var[0] != '\0')
    actor_log(ACTOR_LOG_ERROR, CONFIG_LOG,
              "[%s] %s: bad value '%s' (from environment variable %s): expected %s", section,
              key, value, var, what);
  else
    actor_log(ACTOR_LOG_ERROR, CONFIG_LOG, "[%s] %s: bad value '%s': expected %s", section, key,
              value, what);
  return ACTOR_ECONFIG;
}

/* Looks section.key up like actor_config_get: NULL when it is not set, else
 * the raw value, with a copy without surrounding blanks (environment values
 * are raw) in buf and the environment variable it came from in var. */
static const char *config_value(const actor_config_t *cfg, const char *section, const char *key,
                                char *var, size_t varlen, char *buf, size_t buflen) {
  const char *raw = config_lookup(cfg, section, key, var, varlen);
  if (raw == NULL)
    return NULL;
  const char *v = raw;
  while (isspace((unsigned char)*v))
    v++;
  size_t n = strlen(v);
  while (n > 0 && isspace((unsigned char)v[n - 1]))
    n--;
  if (n >= buflen)
    n = buflen - 1;
  memcpy(buf, v, n);
  buf[n] = '\0';
  return raw;
}

int actor_config_get_int(const actor_config_t *cfg, const char *section, const char *key,
                         long def, long *out) {
  char var[256], buf[64];
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = def;
  const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
  if (v == NULL)
    return 0;
  char *end;
  errno = 0;
  long n = strtol(buf, &end, 10);
  if (buf[0] == '\0' || *end != '\0' || errno == ERANGE || strlen(v) >= sizeof(buf))
    return config_bad(section, key, v, var, "an integer");
  *out = n;
  return 0;
}

int actor_config_get_bool(const actor_config_t *cfg, const char *section, const char *key,
                          bool def, bool *out) {
  static const char *const yes[] = {"true", "yes", "on", "1", NULL};
  static const char *const no[] = {"false", "no", "off", "0", NULL};
  char var[256], buf[16];
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = def;
  const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
  if (v == NULL)
    return 0;
  for (size_t i = 0; yes[i] != NULL; i++) {
    if (strcasecmp(buf, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp(buf, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  return config_bad(section, key, v, var, "a boolean (true/false)");
}

int actor_config_get_double(const actor_config_t *cfg, const char *section, const char *key,
                            double def, double *out) {
  char var[256], buf[64];
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = def;
  const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
  if (v == NULL)
    return 0;
  char *end;
  errno = 0;
  double d = strtod(buf, &end);
  if (buf[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(d) ||
      strlen(v) >= sizeof(buf))
    return config_bad(section, key, v, var, "a number");
  *out = d;
  return 0;
}

int actor_config_get_int_range(const actor_config_t *cfg, const char *section, const char *key,
                               long def, long min, long max, long *out) {
  int rc = actor_config_get_int(cfg, section, key, def, out);
  if (rc != 0 || (*out >= min && *out <= max))
    return rc; /* a bad value is logged by the getter */
  actor_log(ACTOR_LOG_ERROR, CONFIG_LOG, "[%s] %s = %ld: must be between %ld and %ld", section,
            key, *out, min, max);
  *out = def;
  return ACTOR_ECONFIG;
}

int actor_config_get_double_range(const actor_config_t *cfg, const char *section,
                                  const char *key, double def, double min, double max,
                                  double *out) {
  int rc = actor_config_get_double(cfg, section, key, def, out);
  if (rc != 0 || (*out >= min && *out <= max))
    return rc;
  actor_log(ACTOR_LOG_ERROR, CONFIG_LOG, "[%s] %s = %g: must be between %g and %g", section, key,
            *out, min, max);
  *out = def;
  return ACTOR_ECONFIG;
}

/* Abaco's -1 for "no limit", and 0 likewise. */
int actor_config_get_limit(const actor_config_t *cfg, const char *section, const char *key,
                           long def, long *out) {
  char var[256], buf[64];
  if (out == NULL)
    return ACTOR_EINVAL;
  long n = 0;
  int rc = actor_config_get_int(cfg, section, key, def, &n);
  if (rc != 0) {
    *out = def < 0 ? 0 : def;
    return rc;
  }
  if (n < -1) {
    const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
    *out = def < 0 ? 0 : def;
    return config_bad(section, key, v ? v : "", var, "an integer >= -1 (-1 or 0: no limit)");
  }
  *out = n < 0 ? 0 : n;
  return 0;
}

long long actor_parse_bytes(const char *s) {
  if (s == NULL || !(isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))))
    return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  /* strtod also reads hex, exponents, "inf": only digits and a point here. */
  if (end != s + strspn(s, "0123456789.") || errno == ERANGE || !isfinite(v))
    return -1;
  double mult = 1;
  switch (*end) {
  case '\0': break;
  case 'b':
  case 'B': mult = 1; break;
  case 'k':
  case 'K': mult = 1024.0; break;
  case 'm':
  case 'M': mult = 1024.0 * 1024; break;
  case 'g':
  case 'G': mult = 1024.0 * 1024 * 1024; break;
  default: return -1;
  }
  if (*end != '\0' && end[1] != '\0' && (strcasecmp(end + 1, "b") != 0 || tolower(*end) == 'b'))
    return -1;
  v *= mult;
  if (v >= 4611686018427387904.0) /* 2^62 bytes: not a memory size */
    return -1;
  return (long long)v;
}

int actor_config_get_size(const actor_config_t *cfg, const char *section, const char *key,
                          long long def, long long *out) {
  char var[256], buf[64];
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = def < 0 ? 0 : def;
  const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
  if (v == NULL)
    return 0;
  if (buf[0] == '\0' || strcmp(buf, "-1") == 0) {
    *out = 0;
    return 0;
  }
  long long n = strlen(v) < sizeof(buf) ? actor_parse_bytes(buf) : -1;
  if (n < 0)
    return config_bad(section, key, v, var,
                      "a size such as 512m, 2g or a number of bytes (-1: no limit)");
  *out = n;
  return 0;
}

int actor_config_get_enum(const actor_config_t *cfg, const char *section, const char *key,
                          const char *def, const char *const *choices, const char **out) {
  char var[256], buf[128], what[512];
  if (out == NULL || choices == NULL)
    return ACTOR_EINVAL;
  *out = def;
  const char *v = config_value(cfg, section, key, var, sizeof(var), buf, sizeof(buf));
  if (v == NULL)
    return 0;
  size_t w = 0;
  what[0] = '\0';
  for (size_t i = 0; choices[i] != NULL; i++) {
    if (strcasecmp(buf, choices[i]) == 0) {
      *out = choices[i];
      return 0;
    }
    int n = snprintf(what + w, sizeof(what) - w, "%s%s", i ? "|" : "one of ", choices[i]);
    if (n > 0 && (size_t)n < sizeof(what) - w)
      w += (size_t)n;
  }
  return config_bad(section, key, v, var, what);
}

static bool config_all_upper(const char *s) {
  for (; *s; s++)
    if (islower((unsigned char)*s))
      return false;
  return true;
}

/* Whether a variable `<section>_<k>` with the section in exact case and k
 * in any case is set: then the exact-case pass of actor_config_each has
 * reported that key already. */
static bool config_env_exact(const char *section, const char *key) {
  size_t slen = strlen(section), klen = strlen(key);
  for (char **ep = environ; ep != NULL && *ep != NULL; ep++) {
    const char *s = *ep;
    if (strncmp(s, section, slen) == 0 && s[slen] == '_' &&
        strncasecmp(s + slen + 1, key, klen) == 0 && s[slen + 1 + klen] == '=')
      return true;
  }
  return false;
}

void actor_config_each(const actor_config_t *cfg, const char *section, actor_config_each_cb fn,
                       void *ud) {
  char var[256];
  if (section == NULL || fn == NULL)
    return;
  if (cfg != NULL) {
    for (size_t i = 0; i < cfg->n; i++) {
      const config_entry_t *e = &cfg->entries[i];
      if (strcasecmp(e->section, section) != 0)
        continue;
      const char *env = config_env(e->section, e->key, var, sizeof(var));
      fn(e->key, env != NULL ? env : e->value, ud);
    }
  }
  /* Keys set only in the environment: `<section>_<key>` with the section
   * in exact case, then `<SECTION>_<KEY>` all upper case (the two forms
   * actor_config_get reads), each key once, exact case first. */
  char upper[64];
  size_t slen = strlen(section);
  if (slen >= sizeof(upper))
    return;
  for (size_t i = 0; i <= slen; i++)
    upper[i] = (char)toupper((unsigned char)section[i]);
  for (int pass = 0; pass < 2; pass++) {
    const char *prefix = pass == 0 ? section : upper;
    if (pass == 1 && strcmp(upper, section) == 0)
      break;
    for (char **ep = environ; ep != NULL && *ep != NULL; ep++) {
      const char *s = *ep, *eq = strchr(s, '=');
      if (eq == NULL || strncmp(s, prefix, slen) != 0 || s[slen] != '_' || eq == s + slen + 1)
        continue;
      size_t klen = (size_t)(eq - (s + slen + 1));
      if (klen >= sizeof(var))
        continue;
      memcpy(var, s + slen + 1, klen);
      var[klen] = '\0';
      if (cfg != NULL && config_find(cfg, section, var) >= 0)
        continue;
      if (pass == 1 && (!config_all_upper(var) || config_env_exact(section, var)))
        continue;
      fn(var, eq + 1, ud);
    }
  }
}

void actor_config_each_entry(const actor_config_t *cfg, actor_config_entry_cb fn, void *ud) {
  if (cfg == NULL || fn == NULL)
    return;
  for (size_t i = 0; i < cfg->n; i++)
    fn(cfg->entries[i].section, cfg->entries[i].key, cfg->entries[i].value, ud);
}
