/* abaco-launch's two settings files (docs/abaco-launch.md), read with inih:
 * the user's AWS settings ([EC2] AccessKeyId, SecretAccessKey,
 * AvailabilityZone, SSHKeyPair, SSHKeyPairFile; private: mode 0600/0400)
 * and the project's instance.config ([EC2] ImageId, InstanceType, optional
 * UserDataFile and VolumeSize). Modes are read with stat, never inferred
 * from open() failing (root opens a file of mode 000). Every problem is one
 * line naming the file, the line, the section or the key. */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actor/service.h"
#include "launch.h"

int launch_fail(const char *fmt, ...) {
  va_list ap;
  fputs(LAUNCH_PROG ": ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return -1;
}

int launch_check_private_file(const char *path, const char *what, bool settings) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT && settings)
      return launch_fail("%s%s: no such file (the AWS settings; --aws-settings names another)",
                         path, what);
    return launch_fail("%s%s: %s", path, what, errno == ENOENT ? "no such file" : strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    return launch_fail("%s%s: not a regular file", path, what);
  unsigned mode = (unsigned)(st.st_mode & 07777);
  if (mode & (S_IRWXG | S_IRWXO))
    return launch_fail("%s%s: readable or writable by group or others (mode %04o): must be 0600 "
                       "or 0400 (chmod 600 %s)",
                       path, what, mode, path);
  if (!(mode & S_IRUSR))
    return launch_fail("%s%s: not readable by its owner (mode %04o): must be 0600 or 0400 "
                       "(chmod 600 %s)",
                       path, what, mode, path);
  if (st.st_uid != geteuid())
    return launch_fail("%s%s: owned by uid %u, not by the user running %s (uid %u)", path, what,
                       (unsigned)st.st_uid, LAUNCH_PROG, (unsigned)geteuid());
  FILE *f = fopen(path, "r");
  if (!f)
    return launch_fail("%s%s: cannot read: %s", path, what, strerror(errno));
  fclose(f);
  return 0;
}

/* ---- an [EC2] file ---- */

typedef struct {
  const char *name;
  bool required;
  char **dest;
} key_t_;

typedef struct {
  const char *path;
  const key_t_ *keys; /* NULL-name ended */
  FILE *f;
  int line;
  int err_line; /* of msg */
  char msg[600];
  bool saw_ec2;
  char other_section[80]; /* the first section that is not EC2 */
  int other_line;
} ini_ctx_t;

static char *reader(char *str, int num, void *stream) {
  ini_ctx_t *c = stream;
  char *r = fgets(str, num, c->f);
  if (!r)
    return NULL;
  c->line++;
  const char *p = str + strspn(str, " \t");
  if (*p == '[') {
    const char *end = strchr(p, ']');
    size_t n = end ? (size_t)(end - p - 1) : strcspn(p + 1, "\r\n");
    char name[80];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name - 1 ? n : sizeof name - 1), p + 1);
    if (strcmp(name, "EC2") == 0)
      c->saw_ec2 = true;
    else if (!c->other_section[0]) {
      snprintf(c->other_section, sizeof c->other_section, "%s", name);
      c->other_line = c->line;
    }
  }
  return r;
}

static void keys_expected(const key_t_ *keys, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (const key_t_ *k = keys; k->name && used < len; k++) {
    int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", k->name);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

static int handler(void *user, const char *section, const char *name, const char *value) {
  ini_ctx_t *c = user;
  if (c->msg[0])
    return 0;
  char expected[200];
  keys_expected(c->keys, expected, sizeof expected);
  c->err_line = c->line;
  if (!*section) {
    snprintf(c->msg, sizeof c->msg, "key '%s' is outside any section (it belongs under [EC2])",
             name);
    return 0;
  }
  if (strcmp(section, "EC2") != 0) {
    snprintf(c->msg, sizeof c->msg, "section [%s] is not [EC2] (the only section)", section);
    return 0;
  }
  for (const key_t_ *k = c->keys; k->name; k++) {
    if (strcmp(k->name, name) != 0)
      continue;
    if (*k->dest) {
      snprintf(c->msg, sizeof c->msg, "[EC2] %s is given twice", name);
      return 0;
    }
    if (!(*k->dest = strdup(value))) {
      snprintf(c->msg, sizeof c->msg, "out of memory");
      return 0;
    }
    return 1;
  }
  snprintf(c->msg, sizeof c->msg, "unknown key '%s' in [EC2] (the keys are %s)", name, expected);
  return 0;
}

/* Parses path's [EC2] section into keys' destinations; checks that every
 * required key is there and not empty. */
static int read_ec2(const char *path, const key_t_ *keys) {
  ini_ctx_t c = {.path = path, .keys = keys};
  if (!(c.f = fopen(path, "r")))
    return launch_fail("%s: cannot read: %s", path, strerror(errno));
  int rc = ini_parse_stream(reader, &c, handler, &c);
  fclose(c.f);
  if (rc < 0)
    return launch_fail("%s: cannot read it", path);
  if (c.other_section[0] && (!c.msg[0] || c.other_line <= c.err_line) &&
      (rc <= 0 || c.other_line <= rc))
    return launch_fail("%s line %d: section [%s] is not [EC2] (the only section)", path,
                       c.other_line, c.other_section);
  if (rc > 0 && (!c.msg[0] || rc < c.err_line))
    return launch_fail("%s line %d: not a 'Key = value' line nor a [section]", path, rc);
  if (c.msg[0])
    return launch_fail("%s line %d: %s", path, c.err_line, c.msg);
  if (!c.saw_ec2)
    return launch_fail("%s: no [EC2] section", path);
  for (const key_t_ *k = keys; k->name; k++) {
    if (k->required && !*k->dest)
      return launch_fail("%s: [EC2] %s is missing", path, k->name);
    if (*k->dest && !**k->dest)
      return launch_fail("%s: [EC2] %s is empty", path, k->name);
  }
  return 0;
}

static bool matches(const char *re, const char *s) {
  regex_t r;
  if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
    return false;
  bool ok = regexec(&r, s, 0, NULL, 0) == 0;
  regfree(&r);
  return ok;
}

/* dir of path ("." when none), malloc'd. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return strdup(".");
  if (slash == path)
    return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

/* p relative to base (a directory) unless absolute; "~/" is $HOME. */
static char *resolve(const char *base, const char *p) {
  char *out = NULL;
  const char *home = getenv("HOME");
  if (p[0] == '/')
    return strdup(p);
  if (p[0] == '~' && p[1] == '/' && home && *home)
    return asprintf(&out, "%s/%s", home, p + 2) < 0 ? NULL : out;
  return asprintf(&out, "%s/%s", base, p) < 0 ? NULL : out;
}

int launch_read_settings(const char *path, launch_settings_t *s) {
  if (!(s->settings_path = strdup(path)))
    return launch_fail("out of memory");
  if (launch_check_private_file(path, "", true) != 0)
    return -1;
  const key_t_ keys[] = {{"AccessKeyId", true, &s->access_key},
                         {"SecretAccessKey", true, &s->secret_key},
                         {"AvailabilityZone", true, &s->availability_zone},
                         {"SSHKeyPair", true, &s->key_pair},
                         {"SSHKeyPairFile", true, &s->key_file},
                         {NULL, false, NULL}};
  if (read_ec2(path, keys) != 0)
    return -1;
  if (!matches("^[A-Z0-9]{16,128}$", s->access_key))
    return launch_fail("%s: [EC2] AccessKeyId is malformed (16 to 128 capital letters and "
                       "digits, like AKIAIOSFODNN7EXAMPLE)",
                       path);
  const char *az = s->availability_zone;
  if (matches("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", az)) {
    snprintf(s->region, sizeof s->region, "%s", az);
  } else if (matches("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+[a-z]$", az) && strlen(az) < sizeof s->zone) {
    snprintf(s->zone, sizeof s->zone, "%s", az);
    snprintf(s->region, sizeof s->region, "%.*s", (int)strlen(az) - 1, az);
  } else {
    return launch_fail("%s: [EC2] AvailabilityZone '%s' is neither a region (like us-west-2) "
                       "nor a zone (like us-west-2a)",
                       path, az);
  }
  if (!matches("^[A-Za-z0-9 ._:/@=+-]{1,255}$", s->key_pair))
    return launch_fail("%s: [EC2] SSHKeyPair '%s' is not a key pair name", path, s->key_pair);
  char *dir = dir_of(path), *kf = dir ? resolve(dir, s->key_file) : NULL;
  free(dir);
  if (!kf)
    return launch_fail("out of memory");
  free(s->key_file);
  s->key_file = kf;
  char what[PATH_MAX + 64];
  snprintf(what, sizeof what, " ([EC2] SSHKeyPairFile of %s)", path);
  return launch_check_private_file(kf, what, false);
}

/* The instance types of the catalog (an array of {instance_type, ...}). */
static int known_type(const char *catalog, const char *type, bool *known) {
  *known = false;
  struct stat st;
  if (stat(catalog, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024)
    return launch_fail("%s: cannot read the instance type list: %s", catalog,
                       errno ? strerror(errno) : "not a regular file of at most 16 MiB");
  json_error_t e;
  json_t *all = json_load_file(catalog, 0, &e);
  if (!json_is_array(all)) {
    json_decref(all);
    return launch_fail("%s line %d: not a JSON array of instance types: %s", catalog, e.line,
                       e.text);
  }
  size_t i;
  json_t *v;
  json_array_foreach(all, i, v) {
    const char *t = json_string_value(json_object_get(v, "instance_type"));
    if (t && strcmp(t, type) == 0)
      *known = true;
  }
  json_decref(all);
  return 0;
}

int launch_find_catalog(const char *explicit_path, char **out) {
  *out = NULL;
  if (explicit_path) {
    *out = strdup(explicit_path);
    return *out ? 0 : launch_fail("out of memory");
  }
  char p[PATH_MAX];
  if (actor_exe_sibling("../share/abaco/ec2_instances.json", p, sizeof p) == 0 &&
      access(p, R_OK) == 0) {
    *out = strdup(p);
    return *out ? 0 : launch_fail("out of memory");
  }
#ifdef LAUNCH_SOURCE_CATALOG
  if (access(LAUNCH_SOURCE_CATALOG, R_OK) == 0) {
    *out = strdup(LAUNCH_SOURCE_CATALOG);
    return *out ? 0 : launch_fail("out of memory");
  }
#endif
  return launch_fail("no instance type list found (ec2_instances.json next to the program in "
                     "../share/abaco/; --instance-types names one)");
}

int launch_read_project(const char *project, const char *catalog, launch_settings_t *s) {
  struct stat st;
  if (!(s->project = strdup(project)))
    return launch_fail("out of memory");
  if (stat(project, &st) != 0)
    return launch_fail("project '%s': %s", project,
                       errno == ENOENT ? "no such directory" : strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return launch_fail("project '%s': not a directory (a project is a directory holding "
                       "instance.config)",
                       project);
  size_t len = strlen(project);
  while (len > 1 && project[len - 1] == '/')
    len--;
  if (asprintf(&s->config_path, "%.*s/instance.config", (int)len, project) < 0) {
    s->config_path = NULL;
    return launch_fail("out of memory");
  }
  const char *cp = s->config_path;
  if (stat(cp, &st) != 0)
    return launch_fail("%s: %s (a project holds its instance.config)", cp,
                       errno == ENOENT ? "no such file" : strerror(errno));
  if (!S_ISREG(st.st_mode))
    return launch_fail("%s: not a regular file", cp);
  char *volume = NULL;
  const key_t_ keys[] = {{"ImageId", true, &s->image_id},
                         {"InstanceType", true, &s->instance_type},
                         {"UserDataFile", false, &s->user_data_file},
                         {"VolumeSize", false, &volume},
                         {NULL, false, NULL}};
  int rc = read_ec2(cp, keys);
  s->volume_size = 8;
  if (rc == 0 && volume) {
    char *end;
    long v = strtol(volume, &end, 10);
    if (*end || v < 1 || v > 16384)
      rc = launch_fail("%s: [EC2] VolumeSize '%s' is not a whole number of GiB from 1 to 16384",
                       cp, volume);
    s->volume_size = (int)v;
  }
  free(volume);
  if (rc != 0)
    return rc;
  if (!matches("^ami-([0-9a-f]{8}|[0-9a-f]{17})$", s->image_id))
    return launch_fail("%s: [EC2] ImageId '%s' is malformed (ami- and 8 or 17 hex digits, like "
                       "ami-0abcdef1234567890)",
                       cp, s->image_id);
  bool known = false;
  if (known_type(catalog, s->instance_type, &known) != 0)
    return -1;
  if (!known)
    return launch_fail("%s: [EC2] InstanceType '%s' is not a known instance type (the list: %s)",
                       cp, s->instance_type, catalog);
  if (s->user_data_file) {
    char *p = resolve(s->project, s->user_data_file);
    if (!p)
      return launch_fail("out of memory");
    if (stat(p, &st) != 0) {
      int e = errno;
      rc = launch_fail("%s: [EC2] UserDataFile %s: %s (%s)", cp, s->user_data_file,
                       e == ENOENT ? "no such file" : strerror(e), p);
    } else if (!S_ISREG(st.st_mode)) {
      rc = launch_fail("%s: [EC2] UserDataFile %s: not a regular file (%s)", cp,
                       s->user_data_file, p);
    } else if (st.st_size > LAUNCH_MAX_USER_DATA) {
      rc = launch_fail("%s: [EC2] UserDataFile %s: %lld bytes, more than AWS's %d", cp,
                       s->user_data_file, (long long)st.st_size, LAUNCH_MAX_USER_DATA);
    } else {
      FILE *f = fopen(p, "rb");
      s->user_data = malloc((size_t)st.st_size + 1);
      if (!f || !s->user_data) {
        rc = launch_fail("%s: [EC2] UserDataFile %s: cannot read: %s", cp, s->user_data_file,
                         f ? "out of memory" : strerror(errno));
      } else {
        s->user_data_len = fread(s->user_data, 1, (size_t)st.st_size, f);
        if (ferror(f))
          rc = launch_fail("%s: [EC2] UserDataFile %s: cannot read it", cp, s->user_data_file);
        s->user_data[s->user_data_len] = '\0';
      }
      if (f)
        fclose(f);
    }
    free(s->user_data_file);
    s->user_data_file = p;
  }
  return rc;
}

static void wipe_free(char *p) {
  if (p) {
    explicit_bzero(p, strlen(p));
    free(p);
  }
}

void launch_settings_free(launch_settings_t *s) {
  free(s->settings_path);
  free(s->access_key);
  wipe_free(s->secret_key);
  free(s->availability_zone);
  free(s->key_pair);
  free(s->key_file);
  free(s->project);
  free(s->config_path);
  free(s->image_id);
  free(s->instance_type);
  free(s->user_data_file);
  free(s->user_data);
  memset(s, 0, sizeof *s);
}
