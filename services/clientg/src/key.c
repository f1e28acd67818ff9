/* The platform key pair that signs worker tokens. The private key lives in
 * a PEM file ([clientg] private_key_file); when the file does not exist it
 * is generated at start (RSA-2048), written to a temporary file with mode
 * 0600 and renamed into place, so a crash never leaves half a key and two
 * processes starting together end up using the one that won the rename.
 * Every clientg that signs must read the same file, or each publishes its
 * own public key under its own kid (which also works: the API looks keys
 * up by kid). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "clientg.h"

#define KEY_BITS 2048
#define KEY_FILE_MAX (64 * 1024)

/* mkdir -p of the directories above path (0700 for those it makes). */
static int make_parents(const char *path) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
    return ACTOR_ETOOBIG;
  char *slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir)
    return 0;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      return ACTOR_EIO;
    *p = '/';
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return ACTOR_EIO;
  return 0;
}

static int generate(const char *path) {
  int rc = make_parents(path);
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG, "cannot create the directory of %s: %s", path, strerror(errno));
    return rc;
  }
  EVP_PKEY *pk = EVP_RSA_gen(KEY_BITS);
  if (pk == NULL)
    return ACTOR_EIO;
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
  rc = ACTOR_EIO;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    LOG_ERROR(CLIENTG_LOG, "cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
  } else {
    int ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    /* link() fails if another process put its key there first: use that. */
    if (ok && (link(tmp, path) == 0 || errno == EEXIST))
      rc = 0;
    else
      LOG_ERROR(CLIENTG_LOG, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
  }
  EVP_PKEY_free(pk);
  return rc;
}

static int read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return errno == ENOENT ? ACTOR_ENOTFOUND : ACTOR_EIO;
  char *buf = malloc(KEY_FILE_MAX + 1);
  size_t n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
  int err = ferror(f);
  fclose(f);
  if (buf == NULL)
    return ACTOR_ENOMEM;
  if (err || n == 0 || n > KEY_FILE_MAX) {
    OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
    free(buf);
    return ACTOR_EIO;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

/* Checks the private key and derives the public half. */
static int derive(clientg_key_t *k) {
  BIO *b = BIO_new_mem_buf(k->priv_pem, (int)k->priv_len);
  EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  if (pk == NULL)
    return ACTOR_EINVAL;
  int rc = ACTOR_EINVAL;
  BIO *pb = NULL;
  if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < KEY_BITS)
    goto cleanup;
  pb = BIO_new(BIO_s_mem());
  char *data = NULL;
  if (pb == NULL || !PEM_write_bio_PUBKEY(pb, pk))
    goto cleanup;
  long n = BIO_get_mem_data(pb, &data);
  char *pem = strndup(data, (size_t)n);
  rc = pem ? actor_jwt_key_parse(pem, &k->pub) : ACTOR_ENOMEM;
  free(pem);
  if (rc == 0)
    actor_jwt_key_kid(k->pub, k->kid);

cleanup:
  BIO_free(pb);
  EVP_PKEY_free(pk);
  return rc;
}

int clientg_key_load(const char *path, clientg_key_t *k, bool *generated) {
  memset(k, 0, sizeof(*k));
  if (generated)
    *generated = false;
  int rc = read_file(path, &k->priv_pem, &k->priv_len);
  if (rc == ACTOR_ENOTFOUND) {
    rc = generate(path);
    if (rc == 0) {
      if (generated)
        *generated = true;
      rc = read_file(path, &k->priv_pem, &k->priv_len);
    }
  }
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG, "[clientg] private_key_file: cannot read %s: %s", path,
              actor_strerror(rc));
    return ACTOR_ECONFIG;
  }
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
    LOG_WARN(CLIENTG_LOG, "%s is readable by others (mode %03o); it should be 0600", path,
             (unsigned)(st.st_mode & 0777));
  rc = derive(k);
  if (rc != 0) {
    LOG_ERROR(CLIENTG_LOG,
              "[clientg] private_key_file: %s is not a PEM RSA private key of %d bits or more",
              path, KEY_BITS);
    clientg_key_free(k);
    return ACTOR_ECONFIG;
  }
  return 0;
}

void clientg_key_free(clientg_key_t *k) {
  if (k == NULL)
    return;
  if (k->priv_pem != NULL) {
    OPENSSL_cleanse(k->priv_pem, k->priv_len);
    free(k->priv_pem);
  }
  actor_jwt_key_free(k->pub);
  memset(k, 0, sizeof(*k));
}
