/* The Route 53 DNS plugin: an A record per managed instance in one hosted
 * zone, through ChangeResourceRecordSets (UPSERT at its address, DELETE at
 * its end), signed by the service's AWS client (host->aws_request: SigV4,
 * [cloud] credentials and endpoint, retries). Answers are read with
 * libxml2 (no network, no entities).
 *
 *   [plugins] route53_zone_id  the hosted zone (Z..., or /hostedzone/Z...)
 *   [plugins] route53_domain   the zone's domain (abaco.example.org)
 *   [plugins] route53_ttl      the records' TTL in seconds (default 300)
 *
 * The display name is <name>-<ec2 instance id>.<domain>: the instance's
 * name lower-cased, every run of characters outside [a-z0-9] a '-', cut so
 * that the label stays within DNS's 63 characters (the EC2 id keeps it
 * unique). */
#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/plugin.h"

typedef struct {
  const actor_plugin_host_t *host;
  char zone[64];
  char domain[200];
  long ttl;
} r53_t;

static int fail(actor_plugin_err_t *err, const char *code, const char *msg) {
  snprintf(err->code, sizeof(err->code), "%s", code);
  snprintf(err->message, sizeof(err->message), "%s", msg);
  return -1;
}

static bool dns_chars(const char *s, bool dots) {
  for (; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' ||
          (dots && *s == '.')))
      return false;
  return true;
}

static int r53_init(const actor_plugin_host_t *h, void **state, actor_plugin_err_t *err) {
  r53_t *s = calloc(1, sizeof(*s));
  char msg[400];
  if (s == NULL)
    return fail(err, "NoMemory", "out of memory");
  s->host = h;
  const char *zone = h->setting(h, "route53_zone_id", "");
  if (strncmp(zone, "/hostedzone/", 12) == 0)
    zone += 12;
  size_t n = strlen(zone);
  bool ok = n > 0 && n < sizeof(s->zone);
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)zone[i]);
  if (!ok) {
    snprintf(msg, sizeof(msg), "[plugins] route53_zone_id = '%.64s': not a hosted zone id "
             "(Z..., or /hostedzone/Z...)", zone);
    free(s);
    return fail(err, "BadSetting", msg);
  }
  memcpy(s->zone, zone, n + 1);
  const char *domain = h->setting(h, "route53_domain", "");
  n = strlen(domain);
  while (n > 0 && domain[n - 1] == '.')
    n--;
  for (size_t i = 0; i < n && i < sizeof(s->domain) - 1; i++)
    s->domain[i] = (char)tolower((unsigned char)domain[i]);
  if (n == 0 || n >= sizeof(s->domain) - 1 || !dns_chars(s->domain, true) ||
      s->domain[0] == '.' || strstr(s->domain, "..") != NULL) {
    snprintf(msg, sizeof(msg), "[plugins] route53_domain = '%.100s': not a domain name "
             "(the hosted zone's, like abaco.example.org)", domain);
    free(s);
    return fail(err, "BadSetting", msg);
  }
  const char *ttl = h->setting(h, "route53_ttl", "300");
  char *end = NULL;
  s->ttl = strtol(ttl, &end, 10);
  if (end == ttl || *end != '\0' || s->ttl < 0 || s->ttl > 2147483647L) {
    snprintf(msg, sizeof(msg), "[plugins] route53_ttl = '%.40s': not a number of seconds "
             "(0..2147483647)", ttl);
    free(s);
    return fail(err, "BadSetting", msg);
  }
  *state = s;
  return 0;
}

static void r53_fini(void *state) { free(state); }

static int r53_display_name(void *state, const actor_dns_instance_t *inst, char *out,
                            size_t len, actor_plugin_err_t *err) {
  const r53_t *s = state;
  char label[64];
  const char *suffix = inst->ec2_instance_id && *inst->ec2_instance_id ? inst->ec2_instance_id
                                                                       : inst->id;
  char sfx[40];
  size_t k = 0;
  for (const char *p = suffix; *p && k < sizeof(sfx) - 1; p++)
    if (isalnum((unsigned char)*p) || *p == '-')
      sfx[k++] = (char)tolower((unsigned char)*p);
  sfx[k] = '\0';
  if (k == 0)
    return fail(err, "NoId", "the instance has no id to name it by");
  /* the name part: at most 62 - strlen(sfx) characters */
  size_t room = 62 - k, o = 0;
  bool dash = false;
  for (const char *p = inst->name ? inst->name : ""; *p && o < room; p++) {
    if (isalnum((unsigned char)*p)) {
      if (dash && o > 0 && o + 1 < room)
        label[o++] = '-';
      dash = false;
      label[o++] = (char)tolower((unsigned char)*p);
    } else {
      dash = true;
    }
  }
  while (o > 0 && label[o - 1] == '-')
    o--;
  int n = o > 0 ? snprintf(out, len, "%.*s-%s.%s", (int)o, label, sfx, s->domain)
                : snprintf(out, len, "%s.%s", sfx, s->domain);
  if (n < 0 || (size_t)n >= len)
    return fail(err, "NameTooLong", "the display name is too long for the domain");
  return 0;
}

static bool is_ipv4(const char *ip) {
  int parts = 0;
  const char *p = ip;
  while (*p) {
    int v = 0, digits = 0;
    while (isdigit((unsigned char)*p) && digits < 4) {
      v = v * 10 + (*p++ - '0');
      digits++;
    }
    if (digits == 0 || v > 255)
      return false;
    parts++;
    if (*p == '.' && parts < 4)
      p++;
    else if (*p != '\0')
      return false;
  }
  return parts == 4;
}

/* The first element named `name` anywhere under n (by local name). */
static xmlNodePtr find(xmlNodePtr n, const char *name) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0)
      return n;
    xmlNodePtr c = find(n->children, name);
    if (c)
      return c;
  }
  return NULL;
}

static int change(r53_t *s, const char *action, const char *name, const char *ip,
                  actor_plugin_err_t *err) {
  const actor_plugin_host_t *h = s->host;
  if (!is_ipv4(ip))
    return fail(err, "BadAddress", "not an IPv4 address");
  if (!dns_chars(name, true) || strlen(name) > 250)
    return fail(err, "BadName", "not a DNS name of this plugin");
  char body[2048], path[128];
  /* name and ip are checked above: nothing in them needs escaping */
  int n = snprintf(body, sizeof(body),
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<ChangeResourceRecordSetsRequest "
                   "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
                   "<ChangeBatch><Comment>abaco</Comment><Changes><Change>"
                   "<Action>%s</Action><ResourceRecordSet><Name>%s.</Name><Type>A</Type>"
                   "<TTL>%ld</TTL><ResourceRecords><ResourceRecord><Value>%s</Value>"
                   "</ResourceRecord></ResourceRecords></ResourceRecordSet></Change>"
                   "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>",
                   action, name, s->ttl, ip);
  if (n < 0 || (size_t)n >= sizeof(body))
    return fail(err, "BadName", "the change does not fit");
  snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset/", s->zone);
  char *answer = NULL;
  size_t len = 0;
  if (h->aws_request(h, "route53", "POST", path, body, &answer, &len, err) != 0) {
    h->free(answer);
    /* deleting what is not there: done */
    if (strcmp(action, "DELETE") == 0 && strcmp(err->code, "InvalidChangeBatch") == 0 &&
        strstr(err->message, "not found") != NULL)
      return 0;
    return -1;
  }
  /* <ChangeResourceRecordSetsResponse><ChangeInfo><Id>..</Id><Status>..</Status> */
  xmlDocPtr doc = xmlReadMemory(answer, (int)len, "route53.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                    XML_PARSE_NOWARNING);
  h->free(answer);
  xmlNodePtr info = doc ? find(xmlDocGetRootElement(doc), "ChangeInfo") : NULL;
  if (info == NULL) {
    xmlFreeDoc(doc);
    return fail(err, "MalformedResponse", "the ChangeResourceRecordSets answer has no "
                "ChangeInfo");
  }
  xmlNodePtr id = find(info->children, "Id"), st = find(info->children, "Status");
  xmlChar *idt = id ? xmlNodeGetContent(id) : NULL, *stt = st ? xmlNodeGetContent(st) : NULL;
  char line[400];
  snprintf(line, sizeof(line), "%s %s A %s: change %s %s", action, name, ip,
           idt ? (const char *)idt : "?", stt ? (const char *)stt : "?");
  h->log(h, ACTOR_PLUGIN_LOG_INFO, line);
  xmlFree(idt);
  xmlFree(stt);
  xmlFreeDoc(doc);
  return 0;
}

static int r53_create(void *state, const char *name, const char *ip, actor_plugin_err_t *err) {
  return change(state, "UPSERT", name, ip, err);
}

static int r53_delete(void *state, const char *name, const char *ip, actor_plugin_err_t *err) {
  return change(state, "DELETE", name, ip, err);
}

static const actor_dns_ops_t OPS = {
    .display_name = r53_display_name, .create_entry = r53_create, .delete_entry = r53_delete};

ACTOR_PLUGIN_EXPORT const actor_plugin_desc_t abaco_plugin = {
    .abi = ACTOR_PLUGIN_ABI,
    .kind = ACTOR_PLUGIN_DNS,
    .name = "route53",
    .init = r53_init,
    .fini = r53_fini,
    .ops = &OPS,
};
