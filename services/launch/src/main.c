/* abaco-launch [options] <project> <count>: launches <count> EC2 instances
 * of a project's instance.config with the user's ~/.aws.settings, waits
 * until they run and prints each one's id, public address and state
 * (docs/abaco-launch.md). Every invalid argument or setting ends here, in
 * one line naming it, before any call to the cloud. Exit status: 0 done,
 * 1 the cloud said no (or fewer than the minimum run), 2 invalid. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"

#define EXIT_INVALID 2
#define DEFAULT_MAX 5

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] <project> <count>\n"
          "Launches <count> EC2 instances of <project>/instance.config ([EC2] ImageId,\n"
          "InstanceType, optional UserDataFile, VolumeSize) with the AWS settings of\n"
          "~/.aws.settings ([EC2] AccessKeyId, SecretAccessKey, AvailabilityZone,\n"
          "SSHKeyPair, SSHKeyPairFile; mode 0600 or 0400), waits until they run and\n"
          "prints one line per instance: id, public address, state.\n"
          "\n"
          "  --aws-settings PATH     the AWS settings file (default ~/.aws.settings)\n"
          "  --endpoint-url URL      the EC2/ELB endpoint (default: AWS's; also\n"
          "                          AWS_ENDPOINT_URL)\n"
          "  --max-count N           the largest <count> accepted (default %d)\n"
          "  --min-count M           go on with at least M running instead of aborting\n"
          "                          when fewer than <count> start (default <count>)\n"
          "  --load-balancer NAME    register the instances with this classic load\n"
          "                          balancer (made, HTTP 80 -> 80, when missing)\n"
          "  --instance-types PATH   the known instance types (ec2_instances.json)\n"
          "  --timeout SECONDS       longest wait for the instances to run (default 600)\n"
          "  --json                  print one JSON object instead of lines\n"
          "  --dry-run               check everything, call nothing\n"
          "  -h, --help              this text (exit status 2, like every other\n"
          "                          invalid invocation)\n",
          LAUNCH_PROG, DEFAULT_MAX);
}

/* A whole number in [lo, hi] or -1. */
static long whole(const char *s, long lo, long hi) {
  char *end;
  if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
    return -1;
  long v = strtol(s, &end, 10);
  return v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"aws-settings", required_argument, NULL, 's'},
                                       {"endpoint-url", required_argument, NULL, 'e'},
                                       {"max-count", required_argument, NULL, 'M'},
                                       {"min-count", required_argument, NULL, 'm'},
                                       {"load-balancer", required_argument, NULL, 'l'},
                                       {"instance-types", required_argument, NULL, 't'},
                                       {"timeout", required_argument, NULL, 'T'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *settings = NULL, *endpoint = NULL, *catalog_opt = NULL, *max_s = NULL,
             *min_s = NULL, *timeout_s = NULL;
  launch_opts_t o = {.timeout_s = 600};
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 's': settings = optarg; break;
    case 'e': endpoint = optarg; break;
    case 'M': max_s = optarg; break;
    case 'm': min_s = optarg; break;
    case 'l': o.load_balancer = optarg; break;
    case 't': catalog_opt = optarg; break;
    case 'T': timeout_s = optarg; break;
    case 'j': o.json = true; break;
    case 'n': o.dry_run = true; break;
    case 'h': usage(stdout); return EXIT_INVALID;
    case ':':
      launch_fail("option %s needs a value (see %s -h)", argv[optind - 1], LAUNCH_PROG);
      return EXIT_INVALID;
    default:
      if (optopt && optopt != '?' && strchr("seMmltT", optopt))
        launch_fail("option %s needs a value (see %s -h)", argv[optind - 1], LAUNCH_PROG);
      else
        launch_fail("unknown option '%s' (see %s -h)", argv[optind - 1], LAUNCH_PROG);
      return EXIT_INVALID;
    }
  }
  int rest = argc - optind;
  if (rest == 0) {
    launch_fail("missing arguments <project> <count> (see %s -h)", LAUNCH_PROG);
    return EXIT_INVALID;
  }
  if (rest == 1) {
    launch_fail("missing argument <count> (see %s -h)", LAUNCH_PROG);
    return EXIT_INVALID;
  }
  if (rest > 2) {
    launch_fail("too many arguments: '%s' (see %s -h)", argv[optind + 2], LAUNCH_PROG);
    return EXIT_INVALID;
  }
  const char *project = argv[optind], *count_s = argv[optind + 1];
  long max = DEFAULT_MAX;
  if (max_s && (max = whole(max_s, 1, 10000)) < 0) {
    launch_fail("--max-count '%s' is not a whole number from 1 to 10000", max_s);
    return EXIT_INVALID;
  }
  if (timeout_s && (o.timeout_s = (int)whole(timeout_s, 1, 86400)) < 0) {
    launch_fail("--timeout '%s' is not a whole number of seconds from 1 to 86400", timeout_s);
    return EXIT_INVALID;
  }
  if (strspn(count_s, "0123456789") != strlen(count_s) || !*count_s || strlen(count_s) > 9) {
    launch_fail("<count> '%s' is not a whole number", count_s);
    return EXIT_INVALID;
  }
  o.count = (int)strtol(count_s, NULL, 10);
  if (o.count < 1 || o.count > max) {
    launch_fail("<count> %d is out of range: 1 to %ld%s", o.count, max,
                max_s ? "" : " (--max-count raises the maximum)");
    return EXIT_INVALID;
  }
  if (min_s) {
    long m = whole(min_s, 1, 999999999); /* above <count>: said so below */
    if (m < 0) {
      launch_fail("--min-count '%s' is not a whole number of at least 1", min_s);
      return EXIT_INVALID;
    }
    if (m > o.count) {
      launch_fail("--min-count %ld is above <count> %d", m, o.count);
      return EXIT_INVALID;
    }
    o.min_count = (int)m;
  }
  if (!endpoint) {
    const char *env = getenv("AWS_ENDPOINT_URL");
    endpoint = env && *env ? env : NULL;
  }
  if (endpoint && strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
    launch_fail("%s '%s' is not an http:// or https:// URL",
                getenv("AWS_ENDPOINT_URL") && !strcmp(getenv("AWS_ENDPOINT_URL"), endpoint)
                    ? "AWS_ENDPOINT_URL"
                    : "--endpoint-url",
                endpoint);
    return EXIT_INVALID;
  }
  o.endpoint = endpoint;
  if (o.load_balancer) {
    size_t n = strlen(o.load_balancer);
    if (n < 1 || n > 32 ||
        strspn(o.load_balancer,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n ||
        o.load_balancer[0] == '-' || o.load_balancer[n - 1] == '-') {
      launch_fail("--load-balancer '%s' is not a load balancer name (1 to 32 letters, digits "
                  "and inner hyphens)",
                  o.load_balancer);
      return EXIT_INVALID;
    }
  }
  char *default_settings = NULL;
  if (!settings) {
    const char *home = getenv("HOME");
    if (!home || !*home) {
      struct passwd *pw = getpwuid(getuid());
      home = pw ? pw->pw_dir : NULL;
    }
    if (!home) {
      launch_fail("no home directory to find .aws.settings in (--aws-settings names it)");
      return EXIT_INVALID;
    }
    if (asprintf(&default_settings, "%s/.aws.settings", home) < 0) {
      launch_fail("out of memory");
      return EXIT_INVALID;
    }
    settings = default_settings;
  }
  launch_settings_t s = {0};
  char *catalog = NULL;
  int status = EXIT_INVALID;
  if (launch_find_catalog(catalog_opt, &catalog) == 0 &&
      launch_read_project(project, catalog, &s) == 0 && launch_read_settings(settings, &s) == 0)
    status = launch_run(&s, &o);
  free(catalog);
  free(default_settings);
  launch_settings_free(&s);
  return status;
}
