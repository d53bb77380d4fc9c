#ifndef IMCTL_COPENSSL_SHIM_H
#define IMCTL_COPENSSL_SHIM_H

#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

// Function-like macros of libssl, which Swift does not import, as functions.

static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long copenssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline int copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// SSL_OP_* values are built with a cast macro that Swift cannot evaluate.
static inline uint64_t copenssl_op_no_renegotiation(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t copenssl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t copenssl_op_no_compression(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t copenssl_op_cipher_server_preference(void) {
    return SSL_OP_CIPHER_SERVER_PREFERENCE;
}

// A passphrase callback that supplies none: an encrypted key fails to load instead of
// OpenSSL's default callback prompting on the terminal (a server must never block on a tty).
static inline int copenssl_refuse_passphrase(char *buffer, int size, int writing, void *user) {
    (void)buffer; (void)size; (void)writing; (void)user;
    return -1;
}

static inline void copenssl_ctx_refuse_passphrases(SSL_CTX *ctx) {
    SSL_CTX_set_default_passwd_cb(ctx, copenssl_refuse_passphrase);
}

// Reads the first private key of a PEM file without prompting for a passphrase; NULL on error
// (reasons on the error queue).
static inline EVP_PKEY *copenssl_read_private_key_file(const char *path) {
    BIO *file = BIO_new_file(path, "r");
    if (file == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(file, NULL, copenssl_refuse_passphrase, NULL);
    BIO_free(file);
    return key;
}

#endif
