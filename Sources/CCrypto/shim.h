#ifndef NIMBUS_CCRYPTO_SHIM_H
#define NIMBUS_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/core_names.h>

// Wrappers for what OpenSSL spells as macros (Swift imports functions, not function-like
// macros) and for the few multi-step calls whose intermediate objects Swift need not see.

/// The bytes a memory BIO holds (BIO_get_mem_data).
static inline long nimbus_bio_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/// An RSA public key from its modulus and exponent (big-endian), e.g. from an ssh-rsa blob.
static inline EVP_PKEY *nimbus_rsa_public_key(const unsigned char *n, int nlen, const unsigned char *e, int elen) {
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = BN_bin2bn(n, nlen, NULL), *be = BN_bin2bn(e, elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn && be && bld && ctx
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1
        && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
        && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = NULL;
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

/// An RSA key's modulus and public exponent as big-endian bytes (into buffers of `cap` bytes);
/// returns 1 on success.
static inline int nimbus_rsa_components(const EVP_PKEY *pkey, unsigned char *n, int *nlen, unsigned char *e, int *elen, int cap) {
    BIGNUM *bn = NULL, *be = NULL;
    int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn) == 1
          && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &be) == 1
          && BN_num_bytes(bn) <= cap && BN_num_bytes(be) <= cap;
    if (ok) {
        *nlen = BN_bn2bin(bn, n);
        *elen = BN_bn2bin(be, e);
    }
    BN_free(bn);
    BN_free(be);
    return ok;
}

/// An X.509 v3 certificate for `subject` (CN=`cn`, O=`org`), signed with SHA-256 by `issuerKey`
/// under `issuer`'s name (NULL: self-signed).
static inline X509 *nimbus_x509_make(EVP_PKEY *subject, const char *cn, const char *org, EVP_PKEY *issuerKey,
                                     X509 *issuer, long serial, long days) {
    X509 *x = X509_new();
    if (!x) return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    int ok = X509_set_version(x, 2) == 1
        && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1
        && X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL
        && X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) != NULL
        && X509_set_pubkey(x, subject) == 1
        && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0) == 1
        && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1
        && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1
        && X509_sign(x, issuerKey, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}
#endif
