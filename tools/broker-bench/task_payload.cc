#include "task_payload.h"

#include <charconv>

namespace broker_bench {

void make_args_json(int64_t sent_ns, size_t payload_bytes, std::string& out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), sent_ns);
  const size_t digit_count = static_cast<size_t>(end - digits);
  out.clear();
  out += '[';
  out.append(digits, digit_count);
  // [ts,"" ] is digit_count + 5 bytes; pad the string to reach payload_bytes.
  const size_t fixed = digit_count + 5;
  if (payload_bytes > fixed) {
    out += ",\"";
    out.append(payload_bytes - fixed, 'x');
    out += '"';
  }
  out += ']';
}

int64_t args_sent_ns(const std::string& args_json) {
  if (args_json.size() < 3 || args_json[0] != '[') return -1;
  int64_t value = -1;
  const auto [end, ec] = std::from_chars(args_json.data() + 1, args_json.data() + args_json.size(), value);
  if (ec != std::errc()) return -1;
  return value;
}

}  // namespace broker_bench
