/* The check of a software configuration's CloudFormation template: a JSON
 * object or a YAML mapping. No I/O.
 *
 * YAML is read as libyaml parser events, never built into nodes: tags such
 * as CloudFormation's !Ref, !GetAtt and !Sub are just tags on events, and
 * aliases are not expanded (no "billion laughs"). Text that looks like JSON
 * (starts with '{' or '[') is read by jansson first, so a JSON error is
 * reported in JSON's words; YAML, a superset of most JSON, gets a second
 * look before the text is refused. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "actor/cloud.h"


static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

/* 0 when text is a YAML stream whose first document is a mapping;
 * ACTOR_EPARSE with the parser's words otherwise. */
static int yaml_check(const char *text, size_t len, char *err, size_t errlen) {
  yaml_parser_t p;
  yaml_event_t ev;
  int rc = 0, done = 0, root = 0; /* root: the first document's top node seen */
  if (!yaml_parser_initialize(&p))
    return ACTOR_ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  while (!done) {
    if (!yaml_parser_parse(&p, &ev)) {
      rc = actor_errorf(ACTOR_EPARSE, err, errlen, "YAML: %s at line %zu column %zu",
                        p.problem ? p.problem : "syntax error", p.problem_mark.line + 1,
                        p.problem_mark.column + 1);
      break;
    }
    if (!root && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
                  ev.type == YAML_ALIAS_EVENT)) {
      rc = actor_errorf(ACTOR_EPARSE, err, errlen, "YAML: the document is %s, not a mapping",
                        ev.type == YAML_SEQUENCE_START_EVENT ? "a sequence" : "a scalar");
      done = 1;
    }
    if (ev.type == YAML_MAPPING_START_EVENT)
      root = 1;
    if (ev.type == YAML_STREAM_END_EVENT)
      done = 1;
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  if (rc == 0 && !root)
    rc = actor_errorf(ACTOR_EPARSE, err, errlen, "the template is empty");
  return rc;
}

int cloud_template_check(const char *text, char *err, size_t errlen) {
  if (err && errlen)
    *err = '\0';
  if (text == NULL)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "no template");
  size_t len = strlen(text);
  if (len > CLOUD_TEMPLATE_MAX)
    return actor_errorf(ACTOR_ETOOBIG, err, errlen, "the template is larger than %d bytes",
                        CLOUD_TEMPLATE_MAX);
  const char *s = text;
  while (isspace((unsigned char)*s))
    s++;
  if (*s == '\0')
    return actor_errorf(ACTOR_EPARSE, err, errlen, "the template is empty");
  if (*s == '{' || *s == '[') {
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v) {
      int rc = json_is_object(v)
                   ? 0
                   : actor_errorf(ACTOR_EPARSE, err, errlen, "JSON: the template is %s, not an "
                                  "object", json_kind(v));
      json_decref(v);
      return rc;
    }
    if (yaml_check(text, len, NULL, 0) == 0)
      return 0; /* a YAML flow mapping such as {a: b} */
    return actor_errorf(ACTOR_EPARSE, err, errlen, "JSON: %s at line %d column %d", jerr.text,
                        jerr.line, jerr.column);
  }
  return yaml_check(text, len, err, errlen);
}
