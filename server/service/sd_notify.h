// Readiness and shutdown notifications to the service manager (systemd's Type=notify),
// without libsystemd: one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
// $NOTIFY_SOCKET. A name starting with '@' is an abstract socket (leading NUL byte).
//
// When $NOTIFY_SOCKET is unset or empty (not started by systemd, or not Type=notify) the
// call does nothing, so brokerd behaves the same in a terminal, a container or a test.
#pragma once

#include <string_view>

namespace brokerd::server {

enum class NotifyResult {
  kSent,         // the datagram was delivered to the socket
  kNotExpected,  // $NOTIFY_SOCKET unset or empty: nothing to do
  kFailed,       // $NOTIFY_SOCKET set but unusable (bad address, socket gone, ...)
};

// Sends `state`, e.g. "READY=1" or "STOPPING=1" (several lines may be joined by '\n'),
// to $NOTIFY_SOCKET. Thread-safe; never throws; does not modify the environment.
NotifyResult notify_service_manager(std::string_view state);

}  // namespace brokerd::server
