/* abaco-launch (docs/abaco-launch.md): the checks of its two settings files
 * (settings.c) and the launch itself (run.c). Every check that fails
 * prints one line naming the file, section or key ("abaco-launch: ...")
 * on stderr and returns -1; nothing here calls the cloud before every
 * check has passed. */
#ifndef LAUNCH_H
#define LAUNCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define LAUNCH_PROG "abaco-launch"
#define LAUNCH_MAX_USER_DATA 16384 /* AWS's limit on user data before base64 */

typedef struct {
  /* ~/.aws.settings [EC2] */
  char *settings_path;
  char *access_key, *secret_key, *availability_zone, *key_pair, *key_file;
  char region[64]; /* from availability_zone */
  char zone[64];   /* "" when availability_zone is a region */
  /* <project>/instance.config [EC2] */
  char *project, *config_path;
  char *image_id, *instance_type, *user_data_file; /* user_data_file resolved, or NULL */
  int volume_size;                                /* GiB */
  char *user_data;
  size_t user_data_len;
} launch_settings_t;

/* Prints "abaco-launch: <fmt>" and a newline on stderr; returns -1. */
int launch_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The checks of a file that holds secrets: exists, is a regular file, its
 * owner can read it, nobody else can do anything with it. what: how the
 * message names it ("" or " ([EC2] SSHKeyPairFile of X)"). */
int launch_check_private_file(const char *path, const char *what, bool must_exist_hint);
/* Reads and checks the AWS settings file. */
int launch_read_settings(const char *path, launch_settings_t *s);
/* Checks the project directory and reads its instance.config; catalog is
 * the path of the known instance types (ec2_instances.json). */
int launch_read_project(const char *project, const char *catalog, launch_settings_t *s);
/* The instance type list used: explicit (may be NULL), else next to the
 * program (<exe dir>/../share/abaco/ec2_instances.json), else the source
 * tree's. malloc'd path in *out. */
int launch_find_catalog(const char *explicit_path, char **out);
void launch_settings_free(launch_settings_t *s);

typedef struct {
  int count, min_count;
  const char *endpoint;      /* NULL: AWS */
  const char *load_balancer; /* NULL: none */
  bool json, dry_run;
  int timeout_s;
} launch_opts_t;

/* Launches, waits, prints. Returns the process exit status. */
int launch_run(const launch_settings_t *s, const launch_opts_t *o);

#endif
