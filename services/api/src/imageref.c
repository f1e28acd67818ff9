/* Docker image references, checked the way Docker's distribution
 * "reference" grammar reads them (bounds.h has the grammar):
 *
 *   ref  := name [":" tag] ["@" digest]
 *   name := [host [":" port] "/"] component ["/" component]*
 *
 * The digest is everything after the first '@'. The tag is what follows
 * the last ':' of the name part when no '/' comes after that ':' (so
 * "host:5000/repo" has a port, not a tag). The first of several
 * components may be a registry host (upper case allowed, like DNS); any
 * component may be a path component (lower case). The grammar is
 * ASCII-only, so lengths are bytes. Not accepted: IPv6 registry hosts
 * and digests other than sha256. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"

/* Shown in messages: a piece of the reference, cut at 64 bytes. */
#define SHOWN_MAX 64

static bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+ joined by ".", "_", "__" or "-"+. */
static bool path_component_ok(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (!lower_alnum(s[i]))
      return false;
    while (i < n && lower_alnum(s[i]))
      i++;
    if (i == n)
      return true;
    size_t sep = i;
    while (i < n && !lower_alnum(s[i]))
      i++;
    size_t len = i - sep;
    bool dashes = strspn(s + sep, "-") >= len;
    bool ok = (len == 1 && (s[sep] == '.' || s[sep] == '_')) ||
              (len == 2 && s[sep] == '_' && s[sep + 1] == '_') || dashes;
    if (!ok || i == n)
      return false; /* a bad separator, or one at the end */
  }
  return false; /* empty */
}

/* A DNS label: letters and digits, '-' only inside. */
static bool label_ok(const char *s, size_t n) {
  if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-')
      return false;
  return true;
}

/* label ("." label)* [":" digits] */
static bool host_ok(const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  if (colon) {
    size_t port = n - (size_t)(colon - s) - 1;
    if (port == 0 || strspn(colon + 1, "0123456789") < port)
      return false;
    n = (size_t)(colon - s);
  }
  size_t start = 0;
  for (size_t i = 0; i <= n; i++)
    if (i == n || s[i] == '.') {
      if (!label_ok(s + start, i - start))
        return false;
      start = i + 1;
    }
  return true;
}

static bool tag_ok(const char *s, size_t n) {
  if (n == 0 || n > API_IMAGE_TAG_MAX || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
      return false;
  return true;
}

static bool digest_ok(const char *s) {
  static const char PREFIX[] = "sha256:";
  size_t p = sizeof(PREFIX) - 1;
  return strncmp(s, PREFIX, p) == 0 && strlen(s + p) == API_IMAGE_DIGEST_HEX &&
         strspn(s + p, "0123456789abcdef") == API_IMAGE_DIGEST_HEX;
}

static int fail(char *why, size_t whylen, const char *fmt, const char *part, size_t n) {
  snprintf(why, whylen, fmt, (int)(n < SHOWN_MAX ? n : SHOWN_MAX), part);
  return -1;
}

/* The components of the name (n bytes), the first perhaps a host. */
static int check_name(const char *name, size_t n, char *why, size_t whylen) {
  size_t ncomp = 1;
  for (size_t i = 0; i < n; i++)
    ncomp += name[i] == '/';
  size_t start = 0, k = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && name[i] != '/')
      continue;
    const char *c = name + start;
    size_t len = i - start;
    if (len == 0)
      return fail(why, whylen, "'%.*s' has an empty path component (a leading, trailing or "
                               "doubled '/').",
                  name, n);
    bool ok = (k == 0 && ncomp > 1 && host_ok(c, len)) || path_component_ok(c, len);
    if (!ok && k == 0 && ncomp > 1)
      return fail(why, whylen,
                  "'%.*s' is neither a registry host[:port] nor a repository path component "
                  "(lower case letters and digits, joined by '.', '_', '__' or '-').",
                  c, len);
    if (!ok)
      return fail(why, whylen,
                  "the repository path component '%.*s' must be lower case letters and "
                  "digits, joined by '.', '_', '__' or '-'.",
                  c, len);
    start = i + 1;
    k++;
  }
  return 0;
}

int api_image_ref_check(const char *ref, char *why, size_t whylen) {
  size_t n = ref ? strlen(ref) : 0;
  if (n == 0) {
    snprintf(why, whylen, "the image reference is empty.");
    return -1;
  }
  if (n > API_IMAGE_REF_MAX) {
    snprintf(why, whylen,
             "an image reference has at most %d characters ([registry/]name[:tag]"
             "[@sha256:digest]); this one has %zu.",
             API_IMAGE_REF_MAX, n);
    return -1;
  }
  const char *at = strchr(ref, '@');
  size_t end = at ? (size_t)(at - ref) : n;
  if (at && !digest_ok(at + 1))
    return fail(why, whylen,
                "the digest '%.*s' after '@' must be sha256: and 64 lower case hex digits.",
                at + 1, strlen(at + 1));
  const char *slash = NULL, *colon = NULL;
  for (size_t i = 0; i < end; i++) {
    if (ref[i] == '/')
      slash = ref + i;
    else if (ref[i] == ':')
      colon = ref + i;
  }
  if (colon && slash && colon < slash)
    colon = NULL; /* a registry port */
  if (colon && !tag_ok(colon + 1, (size_t)(ref + end - colon - 1)))
    return fail(why, whylen,
                "the tag '%.*s' must be 1 to 128 letters, digits, '_', '.' or '-', not "
                "starting with '.' or '-'.",
                colon + 1, (size_t)(ref + end - colon - 1));
  size_t name_len = colon ? (size_t)(colon - ref) : end;
  if (name_len == 0) {
    snprintf(why, whylen, "the repository name is empty.");
    return -1;
  }
  if (name_len > API_IMAGE_NAME_MAX) {
    snprintf(why, whylen,
             "the repository name has at most %d characters; this one has %zu.",
             API_IMAGE_NAME_MAX, name_len);
    return -1;
  }
  return check_name(ref, name_len, why, whylen);
}
