// Server credentials from the --tls_cert / --tls_key / --tls_ca flags: insecure when no
// certificate is given, TLS with --tls_cert + --tls_key, and mutual TLS (clients must
// present a certificate signed by --tls_ca) when --tls_ca is given too.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace radixserve::service {

struct TlsFiles {
  std::string cert_file;  // PEM certificate chain of the server
  std::string key_file;   // PEM private key of cert_file
  std::string ca_file;    // PEM CA bundle; set = require and verify client certificates
};

// InvalidArgument naming the file when one can't be read or the combination is
// incomplete (a key without a certificate, a CA without a certificate).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files);

// "insecure", "TLS" or "mutual TLS", for the startup log.
std::string DescribeTls(const TlsFiles& files);

}  // namespace radixserve::service
