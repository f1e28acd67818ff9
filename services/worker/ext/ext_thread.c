/* Part of worker-ext.so: a pool thread's OpenSSL state, released.
 *
 * libcurl (the Docker engine client), libmongoc and the secret-config
 * cipher make OpenSSL keep per-thread state (the thread's event handlers:
 * error queue, DRBGs) in the libuv pool threads that run executions. Those
 * threads live until exit, and OpenSSL's exit-time cleanup (atexit) runs
 * before libuv joins them, so their state is never released: LeakSanitizer
 * reports it. The worker releases it after each pool job that may have
 * used the module (worker_ext_thread_done in ext_stubs.c). */
#include <openssl/crypto.h>

void worker_ext_thread_stop(void);

void worker_ext_thread_stop(void) { OPENSSL_thread_stop(); }
