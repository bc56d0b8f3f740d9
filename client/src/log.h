// The client library's only logging: single lines on stderr for events an application
// cannot see through a Status (a worker losing and regaining its connection, a stale
// lease). Applications keep their own logger; the library forces none on them.
#pragma once

#include <string_view>

namespace brokerd::internal {

// Write "brokerd-client: <level>: <message>\n" with one fwrite, so lines from several
// threads do not interleave.
void log_warning(std::string_view message);
void log_notice(std::string_view message);

}  // namespace brokerd::internal
