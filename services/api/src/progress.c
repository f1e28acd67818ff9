/* Progress reports from the instances (docs/cloud.md "Progress"). No user
 * authentication: the instance's own progress_token (64 hex characters
 * of RAND_bytes, made at launch and never in an answer) is the credential,
 * sent in X-Progress-Token or ?token= and compared in constant time.
 *
 * The instance is named by its platform id or its EC2 instance id. An EC2
 * id is found through abaco:cloud:ec2:<id>; a platform id in the tenant
 * of ?tenant= (or the `tenant` header) when given, else through
 * abaco:cloud:id:<id> (cloud_instance_find, one lookup), since the
 * instance's script need not know its tenant. A wrong or missing token is
 * a 403 whichever way the instance was found; a report after a terminal
 * state is ignored (200, ignored: true). */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "cloud_api.h"

#define MESSAGE_MAX 1024

static long clamp(double v) {
  if (!(v >= 0)) /* also NaN */
    return 0;
  return v > 100 ? 100 : (long)v;
}

int api_progress_report_parse(const char *report, char *message, size_t msglen, long *percent) {
  size_t n = report ? strlen(report) : 0;
  if (n < 3 || report[n - 1] != ')')
    return ACTOR_EPARSE;
  const char *open = NULL;
  for (size_t i = n - 1; i-- > 0;)
    if (report[i] == '(') {
      open = report + i;
      break;
    }
  if (open == NULL || open + 1 == report + n - 1)
    return ACTOR_EPARSE;
  char num[32];
  size_t nl = (size_t)(report + n - 1 - (open + 1));
  if (nl >= sizeof(num))
    return ACTOR_EPARSE;
  memcpy(num, open + 1, nl);
  num[nl] = '\0';
  char *end = NULL;
  errno = 0;
  double v = strtod(num, &end);
  if (end == num || *end != '\0' || errno != 0 || isspace((unsigned char)num[0]))
    return ACTOR_EPARSE;
  *percent = clamp(v);
  size_t ml = (size_t)(open - report);
  if (ml >= msglen)
    return ACTOR_ETOOBIG;
  for (size_t i = 0; i < ml; i++)
    message[i] = report[i] == '_' ? ' ' : report[i];
  message[ml] = '\0';
  return 0;
}

/* The instance an id names (platform or EC2), or ACTOR_ENOTFOUND. */
static int find_instance(api_req_t *r, const char *id, json_t **out) {
  *out = NULL;
  if (id == NULL || *id == '\0' || strlen(id) > 64)
    return ACTOR_ENOTFOUND;
  if (strncmp(id, "i-", 2) == 0)
    return cloud_instance_by_ec2(r->ctx->redis, id, out);
  if (!api_cloud_name_ok(id, 64))
    return ACTOR_ENOTFOUND;
  const char *tenant = ahttp_kvs_get(&r->http->query, "tenant", 0);
  if (tenant == NULL || *tenant == '\0')
    tenant = ahttp_kvs_get(&r->http->headers, "tenant", 1);
  if (tenant && *tenant) {
    char norm[ACTOR_AUTH_TENANT_MAX];
    if (actor_tenant_norm(tenant, norm, sizeof(norm)) != 0)
      return ACTOR_ENOTFOUND;
    return cloud_instance_get(r->ctx->redis, norm, id, out);
  }
  return cloud_instance_find(r->ctx->redis, id, out);
}

static bool token_ok(api_req_t *r, const json_t *rec) {
  const char *given = ahttp_kvs_get(&r->http->headers, "X-Progress-Token", 1);
  if (given == NULL || *given == '\0')
    given = ahttp_kvs_get(&r->http->query, "token", 0);
  const char *want = actor_json_str(rec, "progress_token", "");
  size_t n = strlen(want);
  return given && n > 0 && strlen(given) == n && CRYPTO_memcmp(given, want, n) == 0;
}

/* Finds the instance, checks the token and stores the report. */
static void report(api_req_t *r, const char *id, const char *message, long percent,
                   bool has_percent) {
  json_t *rec = NULL, *fields = NULL;
  int rc = find_instance(r, id, &rec);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Instance %s not found.", id);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "instance");
    return;
  }
  const char *iid = actor_json_str(rec, "id", "");
  if (!token_ok(r, rec)) {
    LOG_INFO("api", "instance %s: progress report from %s refused (wrong or missing token)", iid,
             r->http->client_ip);
    api_error(r, 403, "Forbidden: a wrong or missing progress token for instance %s.", id);
    goto cleanup;
  }
  const char *state = actor_json_str(rec, "state", "");
  if (cloud_state_terminal(state)) {
    api_ok(r, "Progress ignored: the instance is terminal.",
           json_pack("{s:s, s:s, s:b}", "id", iid, "state", state, "ignored", 1));
    goto cleanup;
  }
  if (!has_percent)
    percent = actor_json_int(json_object_get(rec, "progress"), "percent", 0);
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  fields = json_pack("{s:{s:s, s:i, s:s}}", "progress", "message", message, "percent",
                     (int)percent, "time", now);
  static const char *const LIVE[] = {"launching", "pending", "running", "stopping",
                                     "stopped",   "shutting-down", NULL};
  if (fields == NULL) { /* json_string refuses text that is not UTF-8 */
    api_error(r, 400, "Invalid message: it must be UTF-8 text.");
    goto cleanup;
  }
  rc = fields ? cloud_instance_transition(r->ctx->redis, actor_json_str(rec, "tenant", ""), iid,
                                          LIVE, fields)
              : ACTOR_ENOMEM;
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) { /* went terminal (or away) meanwhile */
    api_ok(r, "Progress ignored: the instance is terminal.",
           json_pack("{s:s, s:b}", "id", iid, "ignored", 1));
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, "instance");
    goto cleanup;
  }
  LOG_DEBUG("api", "instance %s: progress %ld%% %s", iid, percent, message);
  api_ok(r, "Progress recorded.",
         json_pack("{s:s, s:O, s:b}", "id", iid, "progress", json_object_get(fields, "progress"),
                   "ignored", 0));

cleanup:
  json_decref(fields);
  json_decref(rec);
}

void api_progress_post(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  const char *message = NULL;
  json_t *pv = json_object_get(body, "percent");
  double pct = 0;
  bool has = pv != NULL && !json_is_null(pv);
  if (api_field_string(r, body, "message", &message) != 0)
    goto cleanup;
  if (message && api_utf8_chars(message) > MESSAGE_MAX) {
    api_error(r, 400, "Invalid message: at most %d characters.", MESSAGE_MAX);
    goto cleanup;
  }
  if (has) {
    char *end = NULL;
    if (json_is_number(pv)) {
      pct = json_number_value(pv);
    } else if (json_is_string(pv) && *json_string_value(pv)) {
      errno = 0;
      pct = strtod(json_string_value(pv), &end);
      if (*end != '\0' || errno != 0) {
        api_error(r, 400, "Invalid percent: a number from 0 to 100.");
        goto cleanup;
      }
    } else {
      api_error(r, 400, "Invalid percent: a number from 0 to 100.");
      goto cleanup;
    }
  }
  report(r, r->params[0], message ? message : "", clamp(pct), has);

cleanup:
  json_decref(body);
}

void api_progress_path(api_req_t *r) {
  char message[MESSAGE_MAX + 1];
  long percent = 0;
  int rc = api_progress_report_parse(r->params[1], message, sizeof(message), &percent);
  if (rc == ACTOR_ETOOBIG) {
    api_error(r, 400, "Invalid report: the message is at most %d bytes.", MESSAGE_MAX);
    return;
  }
  if (rc != 0) {
    api_error(r, 400, "Invalid report: expected <message>(<percent>), e.g. "
                      "Installing_packages(40).");
    return;
  }
  report(r, r->params[0], message, percent, true);
}
