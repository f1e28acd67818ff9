/* Notifications: an email through an SMTP server (libcurl's SMTP client)
 * and an HTTP POST of JSON to a webhook. The cluster `notify` action
 * (docs/notify.md) runs through notify_run; the api's event webhooks post
 * through notify_webhook_post.
 *
 * Every call blocks (bounded by the configured timeouts): run it on a
 * thread pool or a worker of its own, never on a libuv loop thread.
 *
 * Header injection: addresses, the subject and the webhook URL are
 * checked before any connection is made; a CR, LF or other control
 * character, or an address that is not a plain local@domain, is refused
 * (ACTOR_EINVAL) with an error naming the field. */
#ifndef ACTOR_NOTIFY_H
#define ACTOR_NOTIFY_H

#include "actor/config.h"
#include "actor/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* How the SMTP connection is protected ([smtp] tls). */
typedef enum {
  NOTIFY_TLS_NONE,     /* plain SMTP (a relay on loopback or a trusted net) */
  NOTIFY_TLS_STARTTLS, /* SMTP, then STARTTLS, required (fails if not offered) */
  NOTIFY_TLS_SMTPS,    /* TLS from the first byte (port 465) */
} notify_tls_t;

#define NOTIFY_MAX_RCPT 50         /* recipients of one email */
#define NOTIFY_MAX_ADDR 254        /* octets of one address (RFC 5321 path) */
#define NOTIFY_MAX_SUBJECT 200     /* octets of a subject */
#define NOTIFY_MAX_TEXT 16384      /* octets of an action's own body text */
#define NOTIFY_MAX_MESSAGE (1 << 20) /* octets of a whole message */
#define NOTIFY_MAX_URL 2048        /* octets of a webhook URL */
#define NOTIFY_WEBHOOK_TIMEOUT_MS 5000

/* The [smtp] section. host empty: email is not configured (a notify
 * action asking for email then fails saying so). */
typedef struct {
  char host[256];
  int port;            /* default 25 (none, starttls) or 465 (smtps) */
  char from[NOTIFY_MAX_ADDR + 1];
  char user[256];      /* empty: no AUTH */
  char password[256];
  notify_tls_t tls;
  char ca_file[512];   /* PEM CAs to check the server's certificate (empty: the system's) */
  long timeout_ms;     /* whole exchange; the connect is bounded by it too */
  long webhook_timeout_ms; /* NOTIFY_WEBHOOK_TIMEOUT_MS unless a caller sets it */
} notify_config;

/* Reads [smtp] host, port, from, user, password, tls, ca_file, timeout
 * (seconds).
 * A bad value is ACTOR_ECONFIG, logged naming the key, and described in
 * err. With a host, `from` is required and must be a plain address. */
ACTOR_MUST_CHECK int notify_config_load(const actor_config_t *cfg, notify_config *out,
                                        char *err, size_t errlen);

/* The outcome of one send, for the caller's record of the run. */
typedef struct {
  long smtp_code;   /* the server's last SMTP reply code (0: none) */
  long http_status; /* the webhook's HTTP status (0: none) */
  char error[512];  /* empty on success */
} notify_result;

/* Sends one email: From cfg->from, To the `nto` addresses, Subject, and
 * a text/plain UTF-8 body (LF or CRLF line ends; long lines are sent
 * quoted-printable). Returns 0, or ACTOR_EINVAL (a field refused, nothing
 * sent), ACTOR_ECONFIG (no [smtp] host), ACTOR_ECONN / ACTOR_ETIMEDOUT
 * (network, TLS), ACTOR_EPROTO (the server refused: res->smtp_code says
 * with what), ACTOR_ENOMEM. res (may be NULL) is filled either way. */
ACTOR_MUST_CHECK int notify_email_send(const notify_config *cfg, const char *const *to,
                                       size_t nto, const char *subject, const char *body,
                                       notify_result *res);

/* Builds the RFC 5322 message notify_email_send uploads (CRLF line ends,
 * Date, Message-ID, From, To, Subject, MIME headers, body). *out is
 * malloc'd. ACTOR_EINVAL names a refused field in err. */
ACTOR_MUST_CHECK int notify_message_build(const char *from, const char *const *to, size_t nto,
                                          const char *subject, const char *body, char **out,
                                          char *err, size_t errlen);

/* Whether addr is a plain address we send to: printable ASCII without
 * blanks, <>()[],;:\" or quotes, one '@' with something on both sides, at
 * most NOTIFY_MAX_ADDR octets. */
bool notify_address_ok(const char *addr);

/* POSTs body (JSON text) to an http(s) URL with Content-Type
 * application/json; 2xx is success. timeout_ms <= 0:
 * NOTIFY_WEBHOOK_TIMEOUT_MS. Returns 0, ACTOR_EINVAL (not an http(s) URL,
 * or one with blanks or control characters), ACTOR_ECONN (network error
 * or non-2xx answer: err says which), ACTOR_ENOMEM. status (may be NULL)
 * gets the HTTP status (0 if none). */
ACTOR_MUST_CHECK int notify_webhook_post(const char *url, const char *body, long timeout_ms,
                                         long *status, char *err, size_t errlen);

/* Checks a notify action's spec (docs/notify.md "The notify action"):
 * an object with "email" {"to": [addresses], "subject", optional "body"}
 * and/or "webhook" (an http(s) URL), and maybe "type": "notify"; nothing
 * else. 0 or ACTOR_EINVAL with
 * err naming the field. For the REST layer, when an action is stored. */
ACTOR_MUST_CHECK int notify_spec_check(const json_t *spec, char *err, size_t errlen);

/* Runs a notify action: the email (subject, then the spec's body text,
 * then the context as indented JSON) and/or the webhook (the POST body is
 * {"subject": ..., "context": context}). Both are tried even when the
 * first fails. Returns 0, or the first failure's code with *err (malloc'd,
 * the caller frees; NULL on success) naming each failed part ("email: ...;
 * webhook: ..."), including the SMTP reply code or HTTP status. The spec
 * is checked as notify_spec_check does, except that top-level fields
 * other than email and webhook are ignored (a run's copy of the action
 * carries the runner's status, started, ...): ACTOR_EINVAL before
 * anything is sent. */
ACTOR_MUST_CHECK int notify_run(const notify_config *cfg, const json_t *action_spec,
                                const json_t *context, char **err);

#endif
