// Certificates for TLS tests, generated at test time with the openssl command (Debian's
// openssl package) into a directory the test owns: nothing secret is in the repository
// and nothing expires in it.
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace brokerd::testing {

struct TestPki {
  std::string ca_cert;        // the CA the broker's and the client's certificates chain to
  std::string server_cert;    // CN=localhost, SAN IP:127.0.0.1 and DNS:localhost
  std::string server_key;
  std::string client_cert;    // signed by the same CA, for client-certificate checks
  std::string client_key;
  std::string rogue_ca_cert;  // a CA that signed nothing the broker uses
};

namespace pki_detail {

inline bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A P-256 key and a certificate for `subject` signed by dir/ca (self-signed when `ca` is empty).
inline bool make_cert(const std::string& dir, const std::string& name, const std::string& subject,
                      const std::string& ca, const std::string& extensions) {
  const std::string base = dir + "/" + name;
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + base + ".key";
  if (ca.empty()) {
    return run("openssl req -x509 " + key + " -out " + base + ".pem -days 2 -subj '" + subject + "'");
  }
  std::ofstream(base + ".ext") << extensions << '\n';
  return run("openssl req " + key + " -out " + base + ".csr -subj '" + subject + "'") &&
         run("openssl x509 -req -in " + base + ".csr -CA " + dir + "/" + ca + ".pem -CAkey " + dir + "/" + ca +
             ".key -CAcreateserial -out " + base + ".pem -days 2 -extfile " + base + ".ext");
}

}  // namespace pki_detail

// nullopt if openssl is missing or failed.
inline std::optional<TestPki> make_test_pki(const std::string& dir) {
  using pki_detail::make_cert;
  if (!make_cert(dir, "ca", "/CN=brokerd test CA", "", "") ||
      !make_cert(dir, "server", "/CN=localhost", "ca",
                 "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth") ||
      !make_cert(dir, "client", "/CN=test-client", "ca", "extendedKeyUsage=clientAuth") ||
      !make_cert(dir, "rogue", "/CN=rogue CA", "", "")) {
    return std::nullopt;
  }
  return TestPki{dir + "/ca.pem",     dir + "/server.pem", dir + "/server.key",
                 dir + "/client.pem", dir + "/client.key", dir + "/rogue.pem"};
}

}  // namespace brokerd::testing
