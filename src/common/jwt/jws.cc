#include "common/jwt/jws.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <memory>

namespace weft::jwt {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct Alg {
  const EVP_MD* md;
  enum Kind { Rsa, RsaPss, Ec } kind;
  size_t ec_bytes;  // size of r and of s
};

std::optional<Alg> algorithm(const std::string& alg) {
  if (alg == "RS256") return Alg{EVP_sha256(), Alg::Rsa, 0};
  if (alg == "RS384") return Alg{EVP_sha384(), Alg::Rsa, 0};
  if (alg == "RS512") return Alg{EVP_sha512(), Alg::Rsa, 0};
  if (alg == "PS256") return Alg{EVP_sha256(), Alg::RsaPss, 0};
  if (alg == "PS384") return Alg{EVP_sha384(), Alg::RsaPss, 0};
  if (alg == "PS512") return Alg{EVP_sha512(), Alg::RsaPss, 0};
  if (alg == "ES256") return Alg{EVP_sha256(), Alg::Ec, 32};
  if (alg == "ES384") return Alg{EVP_sha384(), Alg::Ec, 48};
  if (alg == "ES512") return Alg{EVP_sha512(), Alg::Ec, 66};
  return std::nullopt;
}

bool keyFits(const Alg& a, EVP_PKEY* key, std::string& error) {
  int id = EVP_PKEY_get_base_id(key);
  if (a.kind == Alg::Ec) {
    if (id != EVP_PKEY_EC) {
      error = "the key is not an EC key";
      return false;
    }
    if ((EVP_PKEY_get_bits(key) + 7) / 8 != static_cast<int>(a.ec_bytes)) {
      error = "the EC key's curve does not match the algorithm";
      return false;
    }
    return true;
  }
  if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS) {
    error = "the key is not an RSA key";
    return false;
  }
  return true;
}

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

}  // namespace

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<CompactJws> splitCompact(std::string_view token, std::string& error) {
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    error = "not a compact JWS (three base64url parts separated by '.')";
    return std::nullopt;
  }
  CompactJws j;
  auto h = base64UrlDecode(token.substr(0, d1));
  auto p = base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = base64UrlDecode(token.substr(d2 + 1));
  if (!h) error = "the header is not base64url";
  if (h && !p) error = "the payload is not base64url";
  if (h && p && !s) error = "the signature is not base64url";
  if (!h || !p || !s) return std::nullopt;
  j.header = std::move(*h);
  j.payload = std::move(*p);
  j.signature = std::move(*s);
  j.signing_input = std::string(token.substr(0, d2));
  return j;
}

std::string sign(const std::string& alg, EVP_PKEY* key, std::string_view input, std::string& error) {
  auto a = algorithm(alg);
  if (!a) {
    error = "unsupported algorithm '" + alg + "'";
    return {};
  }
  if (!keyFits(*a, key, error)) return {};
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), &pctx, a->md, nullptr, key) != 1 ||
      (a->kind == Alg::RsaPss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
          1) {
    error = "signing failed";
    return {};
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    error = "signing failed";
    return {};
  }
  sig.resize(len);
  if (a->kind != Alg::Ec) return sig;
  // DER ECDSA-Sig-Value -> fixed-size r || s.
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())),
                                                           ECDSA_SIG_free);
  if (!es) {
    error = "signing failed";
    return {};
  }
  std::string raw(2 * a->ec_bytes, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(a->ec_bytes));
  BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data()) + a->ec_bytes,
               static_cast<int>(a->ec_bytes));
  return raw;
}

bool verify(const std::string& alg, EVP_PKEY* key, std::string_view input, std::string_view signature,
            std::string& error) {
  auto a = algorithm(alg);
  if (!a) {
    error = "unsupported algorithm '" + alg + "'";
    return false;
  }
  if (!keyFits(*a, key, error)) return false;
  std::string der(signature);
  if (a->kind == Alg::Ec) {
    if (signature.size() != 2 * a->ec_bytes) {
      error = "the " + alg + " signature is not " + std::to_string(2 * a->ec_bytes) + " bytes";
      return false;
    }
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(ECDSA_SIG_new(), ECDSA_SIG_free);
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG_set0(es.get(), BN_bin2bn(raw, static_cast<int>(a->ec_bytes), nullptr),
                   BN_bin2bn(raw + a->ec_bytes, static_cast<int>(a->ec_bytes), nullptr));
    unsigned char* out = nullptr;
    int n = i2d_ECDSA_SIG(es.get(), &out);
    if (n <= 0) {
      error = "bad signature";
      return false;
    }
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
  }
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx.get(), &pctx, a->md, nullptr, key) == 1 &&
            (a->kind != Alg::RsaPss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                                        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();
  if (!ok) error = "the signature does not verify";
  return ok;
}

}  // namespace weft::jwt
