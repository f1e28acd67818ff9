/* Logging for every service and library: one global level, per-module
 * overrides from [logs] level.<module>, text or JSON lines, written to
 * stderr or to files under [logs] directory (one <service>.log, or one
 * <service>.<module>.log per module, opened on first use). One mutex guards
 * the settings and the writes, so a line is never interleaved with another
 * and actor_log_init() may run again (e.g. after logrotate) while other
 * threads log. A message is formatted before the lock is taken. */
#include "actor/log.h"

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/timefmt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE_MAX 64
#define LOG_LINE_STACK 1024

typedef enum { LOG_OUT_STDERR, LOG_OUT_COMBINED, LOG_OUT_SPLIT } log_output_t;

typedef struct {
  char module[LOG_MODULE_MAX];
  int level;
} log_override_t;

typedef struct {
  char module[LOG_MODULE_MAX];
  FILE *f;
} log_file_t;

/* Everything actor_log_init() decides; swapped in as a whole. */
typedef struct {
  int level;
  log_override_t *overrides;
  size_t noverrides;
  log_output_t output;
  bool json;
  char *directory;
  char *service;
  FILE *combined;
  log_file_t *files; /* split mode, opened lazily */
  size_t nfiles;
} log_state_t;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_state_t log_state = {.level = ACTOR_LOG_INFO};

static const char *log_level_name(int level) {
  if (level >= ACTOR_LOG_CRITICAL)
    return "CRITICAL";
  if (level >= ACTOR_LOG_ERROR)
    return "ERROR";
  if (level >= ACTOR_LOG_WARNING)
    return "WARNING";
  if (level >= ACTOR_LOG_INFO)
    return "INFO";
  return "DEBUG";
}

int actor_log_parse_level(const char *s, int *out) {
  static const struct {
    const char *name;
    int level;
  } names[] = {{"DEBUG", ACTOR_LOG_DEBUG},     {"INFO", ACTOR_LOG_INFO},
               {"WARNING", ACTOR_LOG_WARNING}, {"WARN", ACTOR_LOG_WARNING},
               {"ERROR", ACTOR_LOG_ERROR},     {"CRITICAL", ACTOR_LOG_CRITICAL}};
  if (s == NULL || out == NULL)
    return ACTOR_EINVAL;
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0) {
      *out = names[i].level;
      return 0;
    }
  }
  return ACTOR_EINVAL;
}

static void log_state_clear(log_state_t *st) {
  if (st->combined != NULL)
    fclose(st->combined);
  for (size_t i = 0; i < st->nfiles; i++)
    if (st->files[i].f != NULL)
      fclose(st->files[i].f);
  free(st->files);
  free(st->overrides);
  free(st->directory);
  free(st->service);
  memset(st, 0, sizeof(*st));
  st->level = ACTOR_LOG_INFO;
}

static int log_level_locked(const log_state_t *st, const char *module) {
  if (module != NULL)
    for (size_t i = 0; i < st->noverrides; i++)
      if (strcmp(st->overrides[i].module, module) == 0)
        return st->overrides[i].level;
  return st->level;
}

int actor_log_level(const char *module) {
  pthread_mutex_lock(&log_lock);
  int level = log_level_locked(&log_state, module);
  pthread_mutex_unlock(&log_lock);
  return level;
}

/* Collects [logs] level.<module> = LEVEL while actor_log_init reads config. */
typedef struct {
  log_state_t *st;
  int rc;
} log_init_ctx_t;

static void log_override_cb(const char *key, const char *value, void *ud) {
  log_init_ctx_t *ctx = ud;
  if (strncasecmp(key, "level.", 6) != 0 || key[6] == '\0')
    return;
  const char *module = key + 6;
  int level;
  if (actor_log_parse_level(value, &level) != 0) {
    actor_log(ACTOR_LOG_ERROR, "log",
              "[logs] %s: bad value '%s': expected DEBUG|INFO|WARNING|ERROR|CRITICAL", key,
              value);
    ctx->rc = ACTOR_ECONFIG;
    return;
  }
  if (strlen(module) >= LOG_MODULE_MAX) {
    actor_log(ACTOR_LOG_ERROR, "log", "[logs] %s: module name too long", key);
    ctx->rc = ACTOR_ECONFIG;
    return;
  }
  log_state_t *st = ctx->st;
  for (size_t i = 0; i < st->noverrides; i++) {
    if (strcmp(st->overrides[i].module, module) == 0) {
      st->overrides[i].level = level;
      return;
    }
  }
  log_override_t *o = realloc(st->overrides, (st->noverrides + 1) * sizeof(*o));
  if (o == NULL) {
    ctx->rc = ACTOR_ENOMEM;
    return;
  }
  st->overrides = o;
  snprintf(o[st->noverrides].module, LOG_MODULE_MAX, "%s", module);
  o[st->noverrides].level = level;
  st->noverrides++;
}

/* Opens <directory>/<service>[.<module>].log for appending; module names
 * cannot escape the directory. */
static FILE *log_open(const log_state_t *st, const char *module) {
  char path[PATH_MAX], safe[LOG_MODULE_MAX];
  int n;
  if (module != NULL) {
    snprintf(safe, sizeof(safe), "%s", module);
    for (char *p = safe; *p; p++)
      if (*p == '/' || *p == '\\')
        *p = '_';
    n = snprintf(path, sizeof(path), "%s/%s.%s.log", st->directory, st->service, safe);
  } else {
    n = snprintf(path, sizeof(path), "%s/%s.log", st->directory, st->service);
  }
  if (n < 0 || (size_t)n >= sizeof(path))
    return NULL;
  FILE *f = fopen(path, "ae");
  if (f != NULL)
    setvbuf(f, NULL, _IOLBF, 0);
  return f;
}

int actor_log_init(const struct actor_config_s *cfg, const char *service) {
  static const char *const files_choices[] = {"combined", "split", NULL};
  static const char *const format_choices[] = {"text", "json", NULL};
  log_state_t st = {.level = ACTOR_LOG_INFO};
  log_init_ctx_t ctx = {.st = &st, .rc = 0};
  const char *files, *format;
  int rc = 0;

  st.service = strdup(service != NULL && *service ? service : "abaco");
  if (st.service == NULL) {
    rc = ACTOR_ENOMEM;
    goto fail;
  }
  const char *lv = actor_config_get(cfg, "logs", "level", NULL);
  if (lv != NULL && actor_log_parse_level(lv, &st.level) != 0) {
    actor_log(ACTOR_LOG_ERROR, "log",
              "[logs] level: bad value '%s': expected DEBUG|INFO|WARNING|ERROR|CRITICAL", lv);
    rc = ACTOR_ECONFIG;
    goto fail;
  }
  actor_config_each(cfg, "logs", log_override_cb, &ctx);
  if (ctx.rc != 0) {
    rc = ctx.rc;
    goto fail;
  }
  if ((rc = actor_config_get_enum(cfg, "logs", "files", "combined", files_choices, &files)) ||
      (rc = actor_config_get_enum(cfg, "logs", "format", "text", format_choices, &format)))
    goto fail;
  st.json = strcmp(format, "json") == 0;
  const char *dir = actor_config_get(cfg, "logs", "directory", NULL);
  if (dir != NULL && *dir != '\0') {
    st.directory = strdup(dir);
    if (st.directory == NULL) {
      rc = ACTOR_ENOMEM;
      goto fail;
    }
    st.output = strcmp(files, "split") == 0 ? LOG_OUT_SPLIT : LOG_OUT_COMBINED;
    /* Open the combined file now so a bad directory is a start-up error;
     * split mode checks the same path (and keeps it for module-less lines). */
    st.combined = log_open(&st, NULL);
    if (st.combined == NULL) {
      actor_log(ACTOR_LOG_ERROR, "log", "[logs] directory: cannot open a log file in '%s': %s",
                dir, strerror(errno));
      rc = ACTOR_ECONFIG;
      goto fail;
    }
  }

  pthread_mutex_lock(&log_lock);
  log_state_t old = log_state;
  log_state = st;
  pthread_mutex_unlock(&log_lock);
  log_state_clear(&old);
  return 0;
fail:
  log_state_clear(&st);
  return rc;
}

void actor_log_shutdown(void) {
  pthread_mutex_lock(&log_lock);
  log_state_t old = log_state;
  memset(&log_state, 0, sizeof(log_state));
  log_state.level = ACTOR_LOG_INFO;
  pthread_mutex_unlock(&log_lock);
  log_state_clear(&old);
}

/* The file for a module in split mode, opened on first use; stderr when it
 * cannot be opened. Called with log_lock held. */
static FILE *log_split_file(log_state_t *st, const char *module) {
  if (module == NULL)
    return st->combined;
  for (size_t i = 0; i < st->nfiles; i++)
    if (strcmp(st->files[i].module, module) == 0)
      return st->files[i].f != NULL ? st->files[i].f : stderr;
  log_file_t *nf = realloc(st->files, (st->nfiles + 1) * sizeof(*nf));
  if (nf == NULL)
    return stderr;
  st->files = nf;
  log_file_t *lf = &nf[st->nfiles++];
  snprintf(lf->module, sizeof(lf->module), "%s", module);
  lf->f = log_open(st, module);
  return lf->f != NULL ? lf->f : stderr;
}

/* Growable line buffer; a stack buffer first, the heap for long lines. */
typedef struct {
  char *p;
  size_t len, cap;
  bool heap, failed;
} log_buf_t;

static void buf_add(log_buf_t *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (p == NULL) {
      b->failed = true;
      return;
    }
    if (!b->heap)
      memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    b->heap = true;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void buf_str(log_buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }

/* Length of a valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p) {
  unsigned c = p[0];
  size_t n = c < 0x80             ? 1
             : (c & 0xe0) == 0xc0 ? 2
             : (c & 0xf0) == 0xe0 ? 3
             : (c & 0xf8) == 0xf0 ? 4
                                  : 0;
  if (n == 0 || (n == 2 && c < 0xc2))
    return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD so every line parses. */
static void buf_json_str(log_buf_t *b, const char *s) {
  buf_add(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      buf_add(b, esc, 2);
      p++;
    } else if (*p == '\n') {
      buf_add(b, "\\n", 2), p++;
    } else if (*p == '\t') {
      buf_add(b, "\\t", 2), p++;
    } else if (*p == '\r') {
      buf_add(b, "\\r", 2), p++;
    } else if (*p < 0x20 || *p == 0x7f) {
      snprintf(esc, sizeof(esc), "\\u%04x", *p);
      buf_add(b, esc, 6);
      p++;
    } else {
      size_t n = utf8_len(p);
      if (n == 0) {
        buf_add(b, "\\ufffd", 6);
        p++;
      } else {
        buf_add(b, (const char *)p, n);
        p += n;
      }
    }
  }
  buf_add(b, "\"", 1);
}

void actor_vlog(int level, const char *module, const char *fmt, va_list ap) {
  char stack_msg[LOG_LINE_STACK], stack_line[LOG_LINE_STACK], ts[ACTOR_TIME_MAX];
  char *msg = stack_msg;
  va_list ap2;
  if (level < actor_log_level(module)) /* callers that skip ACTOR_LOG() */
    return;
  va_copy(ap2, ap);
  int n = vsnprintf(stack_msg, sizeof(stack_msg), fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if ((size_t)n >= sizeof(stack_msg)) {
    msg = malloc((size_t)n + 1);
    if (msg != NULL)
      vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    else
      msg = stack_msg; /* truncated is better than nothing */
  }
  va_end(ap2);
  size_t mlen = strlen(msg);
  while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r'))
    msg[--mlen] = '\0';

  actor_time_format(actor_time_now_ms(), ts);
  log_buf_t b = {.p = stack_line, .cap = sizeof(stack_line)};
  stack_line[0] = '\0';

  pthread_mutex_lock(&log_lock);
  log_state_t *st = &log_state;
  if (level < log_level_locked(st, module))
    goto unlock;
  const char *service = st->service != NULL ? st->service : program_invocation_short_name;
  if (st->json) {
    buf_str(&b, "{\"time\":\"");
    buf_str(&b, ts);
    buf_str(&b, "\",\"level\":\"");
    buf_str(&b, log_level_name(level));
    buf_str(&b, "\",\"service\":");
    buf_json_str(&b, service);
    buf_str(&b, ",\"module\":");
    if (module != NULL)
      buf_json_str(&b, module);
    else
      buf_str(&b, "null");
    buf_str(&b, ",\"msg\":");
    buf_json_str(&b, msg);
    buf_str(&b, "}\n");
  } else {
    buf_str(&b, ts);
    buf_str(&b, " ");
    buf_str(&b, log_level_name(level));
    buf_str(&b, " ");
    buf_str(&b, service);
    if (module != NULL) {
      buf_str(&b, "[");
      buf_str(&b, module);
      buf_str(&b, "]");
    }
    buf_str(&b, ": ");
    buf_add(&b, msg, mlen);
    buf_str(&b, "\n");
  }
  if (!b.failed) {
    FILE *out = stderr;
    if (st->output == LOG_OUT_COMBINED && st->combined != NULL)
      out = st->combined;
    else if (st->output == LOG_OUT_SPLIT)
      out = log_split_file(st, module);
    if (out == NULL)
      out = stderr;
    fwrite(b.p, 1, b.len, out);
    fflush(out);
  }
unlock:
  pthread_mutex_unlock(&log_lock);
  if (b.heap)
    free(b.p);
  if (msg != stack_msg)
    free(msg);
}

void actor_log(int level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  actor_vlog(level, module, fmt, ap);
  va_end(ap);
}
