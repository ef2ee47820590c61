#include "ccrypto_shim.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

int shim_sha256(const uint8_t *data, size_t len, uint8_t *out) {
    unsigned int out_len = 0;
    return EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == 32;
}

int shim_hmac_sha256(const uint8_t *key, size_t key_len,
                     const uint8_t *data, size_t data_len, uint8_t *out) {
    unsigned int out_len = 0;
    static const uint8_t empty = 0;
    if (key_len == 0) key = &empty;
    if (data_len == 0) data = &empty;
    return HMAC(EVP_sha256(), key, (int)key_len, data, data_len, out, &out_len) != NULL && out_len == 32;
}

int shim_rsa_pkcs1_sha256_verify(const uint8_t *n, size_t n_len,
                                 const uint8_t *e, size_t e_len,
                                 const uint8_t *msg, size_t msg_len,
                                 const uint8_t *sig, size_t sig_len) {
    int result = -1;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *mctx = NULL;
    if (!bn_n || !bn_e || !bld) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !pctx) goto done;
    if (EVP_PKEY_fromdata_init(pctx) <= 0) goto done;
    if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) goto done;
    mctx = EVP_MD_CTX_new();
    if (!mctx) goto done;
    if (EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, pkey) != 1) goto done;
    /* EVP_DigestVerify: 1 = valid, 0 = bad signature, <0 = error (also malformed sig). */
    result = EVP_DigestVerify(mctx, sig, sig_len, msg, msg_len) == 1 ? 1 : 0;
done:
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return result;
}

int shim_random_bytes(uint8_t *out, size_t len) {
    return RAND_bytes(out, (int)len) == 1;
}

void *shim_rsa_generate(int bits) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

int shim_rsa_pkcs1_sha256_sign(void *key, const uint8_t *msg, size_t msg_len, uint8_t *sig, size_t *sig_len) {
    int ok = 0;
    size_t needed = 0;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (!key || !mctx) goto done;
    if (EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, (EVP_PKEY *)key) != 1) goto done;
    if (EVP_DigestSign(mctx, NULL, &needed, msg, msg_len) != 1 || needed > *sig_len) goto done;
    ok = EVP_DigestSign(mctx, sig, sig_len, msg, msg_len) == 1;
done:
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int bn_out(BIGNUM *bn, uint8_t *out, size_t *len) {
    int size = BN_num_bytes(bn);
    if (size < 0 || (size_t)size > *len) return 0;
    *len = (size_t)BN_bn2bin(bn, out);
    return 1;
}

int shim_rsa_public(void *key, uint8_t *n, size_t *n_len, uint8_t *e, size_t *e_len) {
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    int ok = key
        && EVP_PKEY_get_bn_param((EVP_PKEY *)key, OSSL_PKEY_PARAM_RSA_N, &bn_n) == 1
        && EVP_PKEY_get_bn_param((EVP_PKEY *)key, OSSL_PKEY_PARAM_RSA_E, &bn_e) == 1
        && bn_out(bn_n, n, n_len) && bn_out(bn_e, e, e_len);
    BN_free(bn_n);
    BN_free(bn_e);
    return ok;
}

void shim_rsa_free(void *key) {
    EVP_PKEY_free((EVP_PKEY *)key);
}
