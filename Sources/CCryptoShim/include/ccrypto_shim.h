#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// SHA-256 of `len` bytes into `out` (32 bytes). Returns 1 on success.
int shim_sha256(const uint8_t *data, size_t len, uint8_t *out);

/// HMAC-SHA256 into `out` (32 bytes). Returns 1 on success.
int shim_hmac_sha256(const uint8_t *key, size_t key_len,
                     const uint8_t *data, size_t data_len, uint8_t *out);

/// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature with the public key given by its
/// big-endian modulus and exponent (a JWK's n and e, base64url-decoded).
/// Returns 1 valid, 0 invalid signature, -1 unusable key or internal error.
int shim_rsa_pkcs1_sha256_verify(const uint8_t *n, size_t n_len,
                                 const uint8_t *e, size_t e_len,
                                 const uint8_t *msg, size_t msg_len,
                                 const uint8_t *sig, size_t sig_len);

/// A fresh RSA private key of `bits` bits (an EVP_PKEY, opaque to Swift), or NULL on error.
/// Free it with shim_rsa_free.
void *shim_rsa_generate(int bits);

/// Signs `msg` with RSASSA-PKCS1-v1_5 SHA-256 (JWT "RS256") into `sig` (capacity `*sig_len`,
/// set to the signature's length). Returns 1 on success.
int shim_rsa_pkcs1_sha256_sign(void *key, const uint8_t *msg, size_t msg_len, uint8_t *sig, size_t *sig_len);

/// The key's public modulus and exponent, big-endian, into `n`/`e` (capacities `*n_len`/`*e_len`,
/// set to the lengths written). Returns 1 on success.
int shim_rsa_public(void *key, uint8_t *n, size_t *n_len, uint8_t *e, size_t *e_len);

void shim_rsa_free(void *key);

/// Cryptographically secure random bytes. Returns 1 on success.
int shim_random_bytes(uint8_t *out, size_t len);

#endif
