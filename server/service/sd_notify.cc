#include "service/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace brokerd::server {

NotifyResult notify_service_manager(std::string_view state) {
  const char* variable = std::getenv("NOTIFY_SOCKET");
  if (variable == nullptr || *variable == '\0') return NotifyResult::kNotExpected;
  const std::string_view name(variable);
  // Only filesystem paths and abstract names; systemd also knows "vsock:" addresses,
  // which a service on the host never receives.
  if (name.front() != '/' && name.front() != '@') return NotifyResult::kFailed;

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // A path needs room for its terminating NUL; an abstract name is exactly its bytes.
  const bool abstract = name.front() == '@';
  if (name.size() + (abstract ? 0 : 1) > sizeof(address.sun_path)) return NotifyResult::kFailed;
  std::memcpy(address.sun_path, name.data(), name.size());
  if (abstract) address.sun_path[0] = '\0';
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return NotifyResult::kFailed;
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address),
                    length);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size()) ? NotifyResult::kSent : NotifyResult::kFailed;
}

}  // namespace brokerd::server
