/* abaco-launch's cloud part (docs/abaco-launch.md): one RunInstances per
 * instance, all sent at once from their own threads (so a request refused
 * for capacity or a limit costs one instance, and --min-count can go on
 * with the others); then every instance is waited for at once (one
 * DescribeInstances of all their ids a round), with a progress line per
 * instance on a terminal (redrawn in place) or a plain line per change of
 * state otherwise, both on stderr; then an optional classic load balancer
 * in front of them; then one line per instance (id, public address, state)
 * or --json on stdout. Before RunInstances, DescribeKeyPairs and
 * DescribeImages name an unknown key pair or AMI in AWS's own words (and
 * give the image's root device, mapped with DeleteOnTermination=true).
 * When fewer than the minimum reach "running", those that did start are
 * terminated (nothing is left behind) and the exit status is 1. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor/aws.h"
#include "launch.h"

static int cloud_fail(const char *action, const aws_result_t *res) {
  return launch_fail("%s failed: %s: %s (HTTP %d%s%s)", action, res->code[0] ? res->code : "Error",
                     res->message[0] ? res->message : aws_class_name(res->cls), res->http_status,
                     res->request_id[0] ? ", request " : "", res->request_id);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str_or(const json_t *o, const char *key, const char *def) {
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? s : def;
}

/* Progress: on a terminal, one line per instance redrawn in place. */
typedef struct {
  bool tty;
  int drawn; /* lines drawn last time */
  json_t *last_state; /* {id: state} for the plain mode */
} progress_t;

static void progress(progress_t *p, const json_t *insts, double elapsed) {
  size_t i;
  json_t *v;
  if (p->tty) {
    if (p->drawn > 0)
      fprintf(stderr, "\033[%dA", p->drawn);
    json_array_foreach(insts, i, v) {
      fprintf(stderr, "\033[2K  %-20s %-14s %-15s %5.0fs\n", str_or(v, "instance_id", "?"),
              str_or(v, "state", "?"), str_or(v, "public_ip", "-"), elapsed);
    }
    p->drawn = (int)json_array_size(insts);
    fflush(stderr);
    return;
  }
  json_array_foreach(insts, i, v) {
    const char *id = str_or(v, "instance_id", "?"), *st = str_or(v, "state", "?");
    const char *was = json_string_value(json_object_get(p->last_state, id));
    if (!was || strcmp(was, st) != 0) {
      fprintf(stderr, "%s: %s (%.0fs)\n", id, st, elapsed);
      json_object_set_new(p->last_state, id, json_string(st));
    }
  }
  fflush(stderr);
}

static bool settled(const char *st) {
  return strcmp(st, "pending") != 0;
}

static void terminate_all(aws_t *a, const json_t *ids) {
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) {
    aws_result_t res;
    if (aws_ec2_instance_action(a, "TerminateInstances", json_string_value(v), &res) != 0)
      fprintf(stderr, "%s: could not terminate %s: %s: %s\n", LAUNCH_PROG, json_string_value(v),
              res.code, res.message);
  }
}

/* One RunInstances per instance, sent in parallel by at most
 * START_THREADS threads taking the next instance in turn: a request that
 * fails (capacity, a limit) costs one instance, not the launch, and a
 * large --max-count does not start thousands of threads. */
#define START_THREADS 16
typedef struct {
  aws_t *a;
  aws_run_req_t req;
  char token[80];
  json_t *got; /* array of one instance */
  aws_result_t res;
  int rc;
} starter_t;

typedef struct {
  starter_t *ts;
  int n;
  atomic_int next;
} start_pool_t;

static void *start_some(void *arg) {
  start_pool_t *p = arg;
  for (int i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) {
    starter_t *t = &p->ts[i];
    t->rc = aws_ec2_run_instances(t->a, &t->req, &t->got, &t->res);
  }
  return NULL;
}

static int start_all(aws_t *a, const launch_settings_t *s, const launch_opts_t *o, int min,
                     const char *root_device, const json_t *tags, json_t **out) {
  *out = NULL;
  starter_t *ts = calloc((size_t)o->count, sizeof *ts);
  int nth = o->count < START_THREADS ? o->count : START_THREADS;
  pthread_t *th = calloc((size_t)nth, sizeof *th);
  bool *made = calloc((size_t)nth, sizeof *made);
  json_t *insts = json_array();
  int rc = -1;
  if (!ts || !th || !made || !insts) {
    launch_fail("out of memory");
    goto out;
  }
  long stamp = (long)time(NULL);
  for (int i = 0; i < o->count; i++) {
    starter_t *t = &ts[i];
    t->a = a;
    snprintf(t->token, sizeof t->token, "abaco-launch-%ld-%ld-%d", (long)getpid(), stamp, i);
    t->req = (aws_run_req_t){.image_id = s->image_id,
                             .instance_type = s->instance_type,
                             .min_count = 1,
                             .max_count = 1,
                             .key_name = s->key_pair,
                             .user_data = s->user_data,
                             .user_data_len = s->user_data_len,
                             .availability_zone = s->zone[0] ? s->zone : NULL,
                             .root_device = root_device,
                             .root_volume_gib = s->volume_size,
                             .tags = tags,
                             .client_token = t->token};
  }
  start_pool_t pool = {.ts = ts, .n = o->count};
  atomic_init(&pool.next, 0);
  for (int i = 0; i < nth; i++)
    made[i] = pthread_create(&th[i], NULL, start_some, &pool) == 0;
  start_some(&pool); /* this thread takes its share (all of it without threads) */
  for (int i = 0; i < nth; i++)
    if (made[i])
      pthread_join(th[i], NULL);
  int failed = 0, first = -1;
  for (int i = 0; i < o->count; i++) {
    if (ts[i].rc == 0) {
      json_array_extend(insts, ts[i].got);
    } else {
      failed++;
      if (first < 0)
        first = i;
    }
    json_decref(ts[i].got);
  }
  if (o->count - failed < min) {
    char what[96];
    snprintf(what, sizeof what, "RunInstances (%d of %d failed, at least %d needed)", failed,
             o->count, min);
    cloud_fail(what, &ts[first].res);
    json_t *ids = json_array();
    size_t k;
    json_t *v;
    json_array_foreach(insts, k, v) json_array_append(ids, json_object_get(v, "instance_id"));
    terminate_all(a, ids);
    json_decref(ids);
    goto out;
  }
  if (failed > 0)
    fprintf(stderr, "%s: %d of %d RunInstances failed (first: %s: %s): going on with %d "
                    "(--min-count %d)\n",
            LAUNCH_PROG, failed, o->count, ts[first].res.code, ts[first].res.message,
            o->count - failed, min);
  *out = insts;
  insts = NULL;
  rc = 0;
out:
  json_decref(insts);
  free(ts);
  free(th);
  free(made);
  return rc;
}

int launch_run(const launch_settings_t *s, const launch_opts_t *o) {
  int min = o->min_count > 0 ? o->min_count : o->count;
  if (o->dry_run) {
    if (o->json) {
      json_t *j = json_pack(
          "{s:b, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s?, s:s}", "dry_run", 1, "count",
          o->count, "min_count", min, "image_id", s->image_id, "instance_type", s->instance_type,
          "region", s->region, "availability_zone", s->zone[0] ? s->zone : "", "key_pair",
          s->key_pair, "volume_size", s->volume_size, "user_data_bytes",
          (json_int_t)s->user_data_len, "load_balancer", o->load_balancer, "endpoint",
          o->endpoint ? o->endpoint : "");
      char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
      if (!out) {
        json_decref(j);
        return launch_fail("out of memory");
      }
      printf("%s\n", out);
      free(out);
      json_decref(j);
    } else {
      printf("dry run: %s and %s are valid; would launch %d (at least %d) %s of %s in %s%s%s "
             "with key pair %s, %d GiB root volume deleted on termination, %zu bytes of user "
             "data%s%s; no call made\n",
             s->settings_path, s->config_path, o->count, min, s->instance_type, s->image_id,
             s->region, s->zone[0] ? " zone " : "", s->zone, s->key_pair, s->volume_size,
             s->user_data_len, o->load_balancer ? ", behind load balancer " : "",
             o->load_balancer ? o->load_balancer : "");
    }
    return 0;
  }

  aws_opts_t ao = {.endpoint = o->endpoint,
                   .region = s->region,
                   .access_key = s->access_key,
                   .secret_key = s->secret_key,
                   .max_retries = 5,
                   .retry_base_ms = 200,
                   .retry_cap_ms = 5000,
                   .describe_rate = 5,
                   .describe_burst = 20,
                   .timeout_ms = 30000};
  aws_t *a = NULL;
  if (aws_new(&ao, &a) != 0)
    return launch_fail("cannot make the AWS client (region %s)", s->region);
  int status = 1;
  aws_result_t res;
  json_t *kp = NULL, *img = NULL, *insts = NULL, *ids = json_array(), *tags = NULL;
  json_t *lb = NULL;
  progress_t pg = {.tty = isatty(STDERR_FILENO) == 1, .last_state = json_object()};
  char *dns = NULL;
  if (!ids || !pg.last_state) {
    launch_fail("out of memory");
    goto out;
  }
  if (aws_ec2_describe_key_pair(a, s->key_pair, &kp, &res) != 0) {
    cloud_fail("DescribeKeyPairs", &res);
    goto out;
  }
  if (aws_ec2_describe_image(a, s->image_id, &img, &res) != 0) {
    cloud_fail("DescribeImages", &res);
    goto out;
  }
  const char *project = strrchr(s->project, '/') && strrchr(s->project, '/')[1]
                            ? strrchr(s->project, '/') + 1
                            : s->project;
  tags = json_pack("{s:s, s:s}", "LaunchedBy", LAUNCH_PROG, "Project", project);
  if (!tags) {
    launch_fail("out of memory");
    goto out;
  }
  if (start_all(a, s, o, min, str_or(img, "root_device_name", "/dev/xvda"), tags, &insts) != 0) {
    goto out;
  }
  size_t i;
  json_t *v;
  json_array_foreach(insts, i, v) json_array_append(ids, json_object_get(v, "instance_id"));
  /* RunInstances' own answer is only the start: states are read again
   * until none is pending (an id DescribeInstances does not know yet, as
   * AWS is eventually consistent, is asked for again). */
  double t0 = now_s();
  for (int round = 0;; round++) {
    bool all = round > 0;
    json_array_foreach(insts, i, v) all = all && settled(str_or(v, "state", "pending"));
    progress(&pg, insts, now_s() - t0);
    if (all)
      break;
    if (now_s() - t0 > o->timeout_s) {
      launch_fail("instances still pending after %d s (--timeout)", o->timeout_s);
      terminate_all(a, ids);
      goto out;
    }
    sleep(round == 0 ? 1 : 2);
    json_t *now = NULL;
    if (aws_ec2_describe_instances(a, NULL, NULL, ids, &now, &res) != 0) {
      if (res.cls == AWS_NOTFOUND)
        continue;
      cloud_fail("DescribeInstances", &res);
      terminate_all(a, ids);
      goto out;
    }
    json_decref(insts);
    insts = now;
  }
  json_t *running = json_array(), *up_ids = json_array();
  json_array_foreach(insts, i, v) {
    if (strcmp(str_or(v, "state", ""), "running") == 0) {
      json_array_append(running, v);
      json_array_append(up_ids, json_object_get(v, "instance_id"));
    }
  }
  if (json_array_size(running) < (size_t)min) {
    launch_fail("only %zu of %d instances are running (at least %d needed): terminating the "
                "%zu started",
                json_array_size(running), o->count, min, json_array_size(ids));
    terminate_all(a, ids);
    json_decref(running);
    json_decref(up_ids);
    goto out;
  }
  if (json_array_size(running) < (size_t)o->count)
    fprintf(stderr, "%s: %zu of %d instances are running (--min-count %d): going on with them\n",
            LAUNCH_PROG, json_array_size(running), o->count, min);
  json_decref(insts);
  insts = running;
  if (o->load_balancer) {
    json_t *names = json_pack("[s]", o->load_balancer), *have = NULL;
    int rc = aws_elb_describe(a, names, &have, &res);
    if (rc != 0 && res.cls == AWS_NOTFOUND) {
      json_t *zones = json_array();
      json_array_foreach(insts, i, v) {
        const char *z = str_or(v, "availability_zone", NULL);
        bool dup = false;
        size_t k;
        json_t *w;
        json_array_foreach(zones, k, w) dup = dup || (z && strcmp(json_string_value(w), z) == 0);
        if (z && !dup)
          json_array_append_new(zones, json_string(z));
      }
      aws_elb_req_t lr = {.name = o->load_balancer, .zones = zones, .tags = tags};
      rc = aws_elb_create(a, &lr, &dns, &res);
      json_decref(zones);
      if (rc != 0)
        cloud_fail("CreateLoadBalancer", &res);
    } else if (rc != 0) {
      cloud_fail("DescribeLoadBalancers", &res);
    } else {
      const char *d = str_or(json_array_get(have, 0), "dns_name", NULL);
      dns = d ? strdup(d) : NULL;
    }
    json_decref(have);
    json_decref(names);
    if (rc == 0 && (rc = aws_elb_register(a, o->load_balancer, up_ids, NULL, &res)) != 0)
      cloud_fail("RegisterInstancesWithLoadBalancer", &res);
    if (rc != 0) {
      json_decref(up_ids);
      fprintf(stderr, "%s: the instances are running; only the load balancer failed\n",
              LAUNCH_PROG);
      lb = NULL;
      status = 1;
      goto print;
    }
    lb = json_pack("{s:s, s:s?}", "name", o->load_balancer, "dns_name", dns);
  }
  json_decref(up_ids);
  status = 0;
print:
  if (o->json) {
    json_t *list = json_array();
    json_array_foreach(insts, i, v) {
      json_array_append_new(
          list, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "instance_id",
                          json_object_get(v, "instance_id"), "public_ip",
                          json_object_get(v, "public_ip"), "private_ip",
                          json_object_get(v, "private_ip"), "state", json_object_get(v, "state"),
                          "availability_zone", json_object_get(v, "availability_zone"),
                          "instance_type", json_object_get(v, "instance_type")));
    }
    json_t *j = json_pack("{s:o, s:i, s:i, s:O?}", "instances", list, "requested", o->count,
                          "running", (int)json_array_size(insts), "load_balancer", lb);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (out)
      printf("%s\n", out);
    else
      status = launch_fail("out of memory");
    free(out);
    json_decref(j);
  } else {
    json_array_foreach(insts, i, v) {
      printf("%s %s %s\n", str_or(v, "instance_id", "-"), str_or(v, "public_ip", "-"),
             str_or(v, "state", "-"));
    }
    if (lb)
      printf("load-balancer %s %s\n", o->load_balancer, dns ? dns : "-");
  }
  fflush(stdout);
out:
  free(dns);
  json_decref(lb);
  json_decref(kp);
  json_decref(img);
  json_decref(insts);
  json_decref(ids);
  json_decref(tags);
  json_decref(pg.last_state);
  aws_free(a);
  return status;
}
