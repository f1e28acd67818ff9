/* Hashids and the platform's unique ids.
 *
 * Design note. This is a transcription of the reference hashids algorithm
 * (hashids.js 1.x / the Python `hashids` 1.3 package) so that ids made here
 * and by Abaco decode each other: separators are the letters of
 * "cfhistuCFHISTU" found in the alphabet, topped up from the alphabet until
 * there is one per 3.5 letters; the alphabet is shuffled with the salt
 * (a "consistent shuffle"), its first ceil(len/12) letters become guards.
 * Each number is written in base len(alphabet) with an alphabet reshuffled
 * by (lottery + salt + alphabet); numbers are joined by separators chosen
 * from the number, and guards and alphabet padding reach min_length.
 * The salt is used as Unicode code points (like Python's ord()); the
 * alphabet must be printable ASCII.
 *
 * actor_id_new() encodes a 63-bit number: 42 bits of milliseconds since the
 * epoch (good until 2109) above 21 bits that start at a random value every
 * millisecond and count up within it. Two processes collide only if they
 * draw the same 21-bit start in the same millisecond; one process never
 * repeats (when a millisecond's 2^21 values are used up it borrows the next
 * millisecond). Such numbers encode to 13 characters with the default
 * alphabet, like Abaco's uuid1-based ids. */
#include "actor/ids.h"

#include "actor/errors.h"
#include "actor/timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define HASHIDS_SEPARATORS "cfhistuCFHISTU"
#define HASHIDS_MAX_ALPHABET 128
/* Digits of a uint64 in the smallest possible base (2) plus its separator. */
#define HASHIDS_MAX_PER_NUMBER 65

struct actor_hashids_s {
  char alphabet[HASHIDS_MAX_ALPHABET];
  char seps[HASHIDS_MAX_ALPHABET];
  char guards[HASHIDS_MAX_ALPHABET];
  size_t alen, slen, glen;
  uint32_t *salt; /* code points */
  size_t saltlen;
  size_t min_length;
};

/* Decodes UTF-8 into code points; invalid bytes count as themselves
 * (Latin-1), which is what a byte string salt would do. Returns count. */
static size_t utf8_codepoints(const char *s, uint32_t *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;
  while (*p) {
    uint32_t c = *p;
    int extra = c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (c >= 0xf8)
      extra = 0;
    int ok = 1;
    for (int i = 1; i <= extra; i++)
      if ((p[i] & 0xc0) != 0x80)
        ok = 0;
    if (extra && ok) {
      c &= 0x3f >> extra;
      for (int i = 1; i <= extra; i++)
        c = (c << 6) | (p[i] & 0x3f);
      p += extra + 1;
    } else {
      p++;
    }
    out[n++] = c;
  }
  return n;
}

/* The reference "consistent shuffle". */
static void reorder(char *str, size_t len, const uint32_t *salt, size_t saltlen) {
  if (saltlen == 0 || len < 2)
    return;
  size_t index = 0;
  uint64_t sum = 0;
  for (size_t i = len - 1; i > 0; i--) {
    uint64_t integer = salt[index];
    sum += integer;
    size_t j = (size_t)((integer + index + sum) % i);
    char t = str[i];
    str[i] = str[j];
    str[j] = t;
    index = (index + 1) % saltlen;
  }
}

/* reorder() with the alphabet itself as salt (used when padding). */
static void reorder_self(char *str, size_t len) {
  uint32_t salt[HASHIDS_MAX_ALPHABET];
  for (size_t i = 0; i < len; i++)
    salt[i] = (unsigned char)str[i];
  reorder(str, len, salt, len);
}

/* Shuffles `alphabet` with (lottery + salt + alphabet)[:len]. */
static void reorder_lottery(const actor_hashids_t *h, char lottery, char *alphabet) {
  uint32_t key[HASHIDS_MAX_ALPHABET];
  size_t k = 0;
  key[k++] = (unsigned char)lottery;
  for (size_t i = 0; i < h->saltlen && k < h->alen; i++)
    key[k++] = h->salt[i];
  for (size_t i = 0; k < h->alen; i++)
    key[k++] = (unsigned char)alphabet[i];
  reorder(alphabet, h->alen, key, h->alen);
}

static size_t ceil_ratio(size_t a, double b) {
  double r = (double)a / b;
  size_t n = (size_t)r;
  return (double)n < r ? n + 1 : n;
}

int actor_hashids_new(const char *salt, size_t min_length, const char *alphabet,
                      actor_hashids_t **out) {
  if (out == NULL)
    return ACTOR_EINVAL;
  *out = NULL;
  if (salt == NULL)
    salt = "";
  if (alphabet == NULL)
    alphabet = ACTOR_HASHIDS_DEFAULT_ALPHABET;

  actor_hashids_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return ACTOR_ENOMEM;
  h->min_length = min_length;
  h->salt = malloc((strlen(salt) + 1) * sizeof(uint32_t));
  if (h->salt == NULL) {
    free(h);
    return ACTOR_ENOMEM;
  }
  h->saltlen = utf8_codepoints(salt, h->salt);

  /* Unique alphabet letters, separators apart, in the order given. */
  bool seen[256] = {false};
  for (const unsigned char *p = (const unsigned char *)alphabet; *p; p++) {
    if (*p <= ' ' || *p >= 0x7f) {
      actor_hashids_free(h);
      return ACTOR_EINVAL;
    }
    if (seen[*p])
      continue;
    seen[*p] = true;
    if (strchr(HASHIDS_SEPARATORS, *p) == NULL)
      h->alphabet[h->alen++] = (char)*p;
  }
  for (const char *p = HASHIDS_SEPARATORS; *p; p++)
    if (seen[(unsigned char)*p])
      h->seps[h->slen++] = *p;
  if (h->alen + h->slen < 16) {
    actor_hashids_free(h);
    return ACTOR_EINVAL;
  }

  reorder(h->seps, h->slen, h->salt, h->saltlen);
  size_t min_seps = ceil_ratio(h->alen, 3.5);
  if (min_seps > h->slen) {
    size_t missing = min_seps - h->slen;
    memcpy(h->seps + h->slen, h->alphabet, missing);
    h->slen += missing;
    memmove(h->alphabet, h->alphabet + missing, h->alen - missing);
    h->alen -= missing;
  }
  reorder(h->alphabet, h->alen, h->salt, h->saltlen);
  size_t nguards = ceil_ratio(h->alen, 12);
  if (h->alen < 3) {
    memcpy(h->guards, h->seps, nguards);
    memmove(h->seps, h->seps + nguards, h->slen - nguards);
    h->slen -= nguards;
  } else {
    memcpy(h->guards, h->alphabet, nguards);
    memmove(h->alphabet, h->alphabet + nguards, h->alen - nguards);
    h->alen -= nguards;
  }
  h->glen = nguards;
  *out = h;
  return 0;
}

void actor_hashids_free(actor_hashids_t *h) {
  if (h == NULL)
    return;
  free(h->salt);
  free(h);
}

/* Writes `number` in base alen, most significant first; returns length. */
static size_t hash_number(uint64_t number, const char *alphabet, size_t alen, char *out) {
  char tmp[HASHIDS_MAX_PER_NUMBER];
  size_t n = 0;
  do {
    tmp[n++] = alphabet[number % alen];
    number /= alen;
  } while (number);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

int actor_hashids_encode(const actor_hashids_t *h, const uint64_t *nums, size_t n, char *out,
                         size_t outlen) {
  if (h == NULL || (nums == NULL && n > 0) || out == NULL || outlen == 0)
    return ACTOR_EINVAL;
  if (n == 0) { /* the reference returns "" for no numbers */
    out[0] = '\0';
    return 0;
  }
  if (n > (SIZE_MAX / 2 - h->min_length) / HASHIDS_MAX_PER_NUMBER)
    return ACTOR_ETOOBIG;
  size_t body = 1 + n * HASHIDS_MAX_PER_NUMBER + 2;
  size_t cap = (body > h->min_length ? body : h->min_length) + h->alen + 1;
  char *enc = malloc(cap), *tmp = NULL;
  if (enc == NULL)
    return ACTOR_ENOMEM;
  char alphabet[HASHIDS_MAX_ALPHABET];
  memcpy(alphabet, h->alphabet, h->alen);

  uint64_t values_hash = 0;
  for (size_t i = 0; i < n; i++)
    values_hash += nums[i] % (i + 100);
  char lottery = alphabet[values_hash % h->alen];
  size_t len = 0;
  enc[len++] = lottery;
  for (size_t i = 0; i < n; i++) {
    reorder_lottery(h, lottery, alphabet);
    size_t start = len;
    len += hash_number(nums[i], alphabet, h->alen, enc + len);
    uint64_t v = nums[i] % ((unsigned char)enc[start] + i);
    if (i + 1 < n) /* the reference appends one after each and cuts the last */
      enc[len++] = h->seps[v % h->slen];
  }

  int rc = 0;
  if (len < h->min_length) {
    size_t gi = (values_hash + (unsigned char)enc[0]) % h->glen;
    memmove(enc + 1, enc, len);
    enc[0] = h->guards[gi];
    len++;
    if (len < h->min_length) {
      gi = (values_hash + (unsigned char)enc[2]) % h->glen;
      enc[len++] = h->guards[gi];
    }
    size_t split = h->alen / 2;
    if (len < h->min_length && (tmp = malloc(cap)) == NULL) {
      rc = ACTOR_ENOMEM;
      goto cleanup;
    }
    while (len < h->min_length) {
      reorder_self(alphabet, h->alen);
      size_t t = 0;
      memcpy(tmp + t, alphabet + split, h->alen - split);
      t += h->alen - split;
      memcpy(tmp + t, enc, len);
      t += len;
      memcpy(tmp + t, alphabet, split);
      t += split;
      size_t from = 0;
      if (t > h->min_length) {
        from = (t - h->min_length) / 2;
        t = h->min_length;
      }
      memcpy(enc, tmp + from, t);
      len = t;
    }
  }
  if (len + 1 > outlen) {
    rc = ACTOR_ETOOBIG;
    goto cleanup;
  }
  memcpy(out, enc, len);
  out[len] = '\0';
cleanup:
  free(tmp);
  free(enc);
  return rc;
}

static bool in_set(char c, const char *set, size_t n) { return memchr(set, c, n) != NULL; }

int actor_hashids_decode(const actor_hashids_t *h, const char *s, uint64_t *nums, size_t cap,
                         size_t *n) {
  if (h == NULL || s == NULL || n == NULL || (nums == NULL && cap > 0))
    return ACTOR_EINVAL;
  *n = 0;
  size_t slen = strlen(s);
  if (slen == 0)
    return ACTOR_EPARSE;

  /* Split at guards: the middle part when there are 2 or 3 parts. */
  size_t nparts = 1, b = 0, e = slen, g1 = slen, g2 = slen;
  for (size_t i = 0; i < slen; i++) {
    if (in_set(s[i], h->guards, h->glen)) {
      if (nparts == 1)
        g1 = i;
      else if (nparts == 2)
        g2 = i;
      nparts++;
    }
  }
  if (nparts == 2 || nparts == 3) {
    b = g1 + 1;
    e = g2;
  } else if (nparts > 3) {
    e = g1;
  }
  if (b >= e)
    return ACTOR_EPARSE;

  char alphabet[HASHIDS_MAX_ALPHABET];
  memcpy(alphabet, h->alphabet, h->alen);
  char lottery = s[b];
  size_t count = 0;
  size_t i = b + 1;
  for (;;) { /* one part per separator-delimited run, possibly empty */
    reorder_lottery(h, lottery, alphabet);
    uint64_t num = 0;
    for (; i < e && !in_set(s[i], h->seps, h->slen); i++) {
      const char *pos = memchr(alphabet, s[i], h->alen);
      if (pos == NULL)
        return ACTOR_EPARSE;
      uint64_t d = (uint64_t)(pos - alphabet);
      if (num > (UINT64_MAX - d) / h->alen)
        return ACTOR_EPARSE; /* does not fit in 64 bits */
      num = num * h->alen + d;
    }
    if (count >= cap)
      return ACTOR_ETOOBIG;
    nums[count++] = num;
    if (i >= e)
      break;
    i++; /* skip the separator */
  }

  /* Only a string that re-encodes to itself is a valid hashid. */
  char *again = malloc(slen + 1);
  if (again == NULL)
    return ACTOR_ENOMEM;
  int rc = actor_hashids_encode(h, nums, count, again, slen + 1);
  bool same = rc == 0 && strcmp(again, s) == 0;
  free(again);
  if (rc == ACTOR_ENOMEM)
    return rc;
  if (!same)
    return ACTOR_EPARSE;
  *n = count;
  return 0;
}

/* ---- unique ids ---- */

#define ID_SEQ_BITS 21
#define ID_SEQ_MASK ((UINT64_C(1) << ID_SEQ_BITS) - 1)
#define ID_MS_MASK ((UINT64_C(1) << 42) - 1)

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ids_once = PTHREAD_ONCE_INIT;
static actor_hashids_t *ids_hashids; /* guarded by ids_lock */
static uint64_t ids_ms, ids_seq, ids_seq_start; /* guarded by ids_lock */

/* A child must not continue the parent's sequence in the same millisecond. */
static void ids_atfork_child(void) { ids_ms = 0; }

static void ids_once_init(void) { pthread_atfork(NULL, NULL, ids_atfork_child); }

static uint64_t ids_random(void) {
  uint64_t r;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
    return r;
  /* splitmix64 of time and pid when the kernel pool is not ready */
  static uint64_t state;
  state += (uint64_t)actor_time_mono_ms() ^ ((uint64_t)getpid() << 32);
  uint64_t z = (state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

int actor_ids_init(const char *salt) {
  actor_hashids_t *h;
  int rc = actor_hashids_new(salt ? salt : ACTOR_DEFAULT_SALT, 0, NULL, &h);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&ids_lock);
  actor_hashids_t *old = ids_hashids;
  ids_hashids = h;
  pthread_mutex_unlock(&ids_lock);
  actor_hashids_free(old);
  return 0;
}

void actor_ids_shutdown(void) {
  pthread_mutex_lock(&ids_lock);
  actor_hashids_t *old = ids_hashids;
  ids_hashids = NULL;
  pthread_mutex_unlock(&ids_lock);
  actor_hashids_free(old);
}

static uint64_t id_number(void) {
  pthread_once(&ids_once, ids_once_init);
  uint64_t now = (uint64_t)actor_time_now_ms();
  pthread_mutex_lock(&ids_lock);
  if (now > ids_ms) {
    ids_ms = now;
    ids_seq = ids_seq_start = ids_random() & ID_SEQ_MASK;
  } else {
    ids_seq = (ids_seq + 1) & ID_SEQ_MASK;
    if (ids_seq == ids_seq_start) { /* this millisecond is used up */
      ids_ms++;
      ids_seq = ids_seq_start = ids_random() & ID_SEQ_MASK;
    }
  }
  uint64_t num = ((ids_ms & ID_MS_MASK) << ID_SEQ_BITS) | ids_seq;
  pthread_mutex_unlock(&ids_lock);
  return num;
}

int actor_id_new(char out[ACTOR_ID_MAX]) {
  if (out == NULL)
    return ACTOR_EINVAL;
  uint64_t num = id_number();
  pthread_mutex_lock(&ids_lock);
  if (ids_hashids == NULL) {
    int rc = actor_hashids_new(ACTOR_DEFAULT_SALT, 0, NULL, &ids_hashids);
    if (rc != 0) {
      pthread_mutex_unlock(&ids_lock);
      return rc;
    }
  }
  int rc = actor_hashids_encode(ids_hashids, &num, 1, out, ACTOR_ID_MAX);
  pthread_mutex_unlock(&ids_lock);
  return rc;
}

int actor_token_new(char out[ACTOR_TOKEN_MAX]) {
  unsigned char raw[(ACTOR_TOKEN_MAX - 1) / 2];
  /* getrandom(2), not OpenSSL: a worker must not need libcrypto at start
   * (bench/linkage.sh). Blocks only until the kernel pool is first ready. */
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ACTOR_EIO;
    }
    got += (size_t)n;
  }
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}
