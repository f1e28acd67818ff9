/* What routes_clusters.c (clusters, nodes) and routes_cluster_rules.c
 * (counters, samples, triggers, fires, runs) share: field checks that
 * answer 400 naming the field, and the loading of the request's cluster.
 * docs/clusters.md. */
#ifndef API_CLUSTERS_INT_H
#define API_CLUSTERS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "actor/timefmt.h"
#include "cloud_api.h"

#define NAME_MAX_CHARS 64
#define ADDRESS_MAX 253
#define MESSAGE_MAX 4096
#define RUNS_SHOWN 10
#define SAMPLES_SHOWN 10
#define TIMING_MAX_MIN 1440.0     /* a day */
#define COOLDOWN_MAX_MIN 10080.0  /* a week */
#define SCHEDULE_MAX_S 86400

/* A number field (JSON number or its text) within [min, max]: 0 (absent:
 * *present false), or -1 after answering 400. */
int clu_num_field(api_req_t *r, json_t *body, const char *field, double min, double max,
                  bool *present, double *out);
/* An integer field within [min, max]: 0, or -1 after answering 400. */
int clu_int_field(api_req_t *r, json_t *body, const char *field, long long min, long long max,
                  bool *present, long long *out);
/* A name field ([A-Za-z0-9_.-], 1 to NAME_MAX_CHARS): 0 (absent and not
 * required: *out NULL), or -1 after answering 400. */
int clu_name_field(api_req_t *r, json_t *body, const char *field, bool required,
                   const char **out);
/* The cluster of r->params[0] when the caller is its owner or an admin
 * (new reference); NULL after answering. */
json_t *clu_load(api_req_t *r);
const char *clu_id_of(const json_t *rec);
/* A counter with its last nsamples samples (new reference). */
json_t *clu_counter_display(api_req_t *r, const json_t *rec, const json_t *counter,
                            size_t nsamples);

#endif
