#include "kit/ssh_cert.h"

#include <fmt/format.h>

namespace bg::kit {
KitProtects SshCaProtects(const std::string& connector, const ssh::Ed25519PrivateKey& ca) {
  return KitProtects{std::string(kProtectsSshCa), connector, ca.PublicKeyLine("")};
}

Result<ssh::Ed25519PrivateKey> SshCaKeyFromSecret(const Secret& secret,
                                                  const KitManifest& manifest) {
  if (!manifest.protects || manifest.protects->kind != kProtectsSshCa) {
    return Error::InvalidArgument(
        "manifest", fmt::format("kit {} does not protect an SSH CA key (its manifest has no "
                                "\"protects\": {{\"kind\": \"ssh-ca\"}}); make one with "
                                "breakglass ssh-ca kit",
                                manifest.kit_id));
  }
  auto key = ssh::Ed25519PrivateKey::FromStorageBytes(secret);
  if (!key) {
    return Error::PermissionDenied(fmt::format(
        "the secret restored from kit {} is not an Ed25519 CA key", manifest.kit_id));
  }
  if (key->PublicKeyLine("") != manifest.protects->public_key) {
    return Error::PermissionDenied(fmt::format(
        "the key restored from kit {} is not the CA the manifest names ({}); refusing to sign",
        manifest.kit_id, manifest.protects->public_key));
  }
  return key;
}

Result<EmergencyCertificate> SignEmergencyCertificate(const ssh::Ed25519PrivateKey& ca,
                                                      const EmergencyCertificateOptions& options,
                                                      Timestamp now, Random& random) {
  if (options.valid_for < kMinEmergencyValidity || options.valid_for > kMaxEmergencyValidity) {
    return Error::InvalidArgument(
        "valid_for", fmt::format("an emergency certificate lasts {} to {}",
                                 FormatDuration(kMinEmergencyValidity),
                                 FormatDuration(kMaxEmergencyValidity)));
  }
  if (options.backdate < Seconds(0) || options.backdate > Seconds(3600)) {
    return Error::InvalidArgument("backdate", "must be 0 to 1h");
  }
  if (options.principals.empty()) {
    return Error::InvalidArgument("principal", "name at least one principal (a login on the "
                                               "target, or a name in its AuthorizedPrincipalsFile)");
  }
  if (options.record_id.empty() || options.who.empty()) {
    return Error::InvalidArgument("who", "an emergency certificate names its record and user");
  }
  uint64_t serial = 0;
  random.Fill(reinterpret_cast<uint8_t*>(&serial), sizeof serial);
  serial |= kOfflineSerialBit;

  ssh::CertificateSpec spec{options.user_key,
                            serial,
                            ssh::PrintableKeyId(fmt::format("breakglass-kit:{}:{}", options.record_id,
                                                       options.who)),
                            options.principals,
                            now - options.backdate,
                            now + options.valid_for};
  spec.extensions = options.extensions;
  spec.source_address = options.source_address;
  spec.force_command = options.force_command;
  auto line = ssh::SignCertificate(spec, ca, random);
  if (!line) {
    // The spec check names the certificate field; say it in the option's terms.
    const std::string& f = line.error().field();
    const std::string field = f == "principals" ? "principal" : f.empty() ? "certificate" : f;
    return Error::InvalidArgument(field, line.error().message());
  }
  EmergencyCertificate out;
  out.line = std::move(*line);
  out.serial = serial;
  out.use.serial = std::to_string(serial);
  out.use.key_id = spec.key_id;
  out.use.principals = options.principals;
  out.use.valid_after = spec.valid_after;
  out.use.valid_before = spec.valid_before;
  out.use.ca_public_key = ca.PublicKeyLine("");
  out.use.key_fingerprint = options.user_key.Fingerprint();
  return out;
}

}  // namespace bg::kit
