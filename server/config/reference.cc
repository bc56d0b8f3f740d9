// docs/configuration.md, generated from the settings table (`brokerd
// --print-config-reference`). A unit test compares the file with this text, so the
// document cannot drift from the code: change the prose here, then regenerate.
#include <string>

#include "config/settings.h"

namespace brokerd::server {

namespace {

constexpr const char* kIntroduction = R"(# Configuration

<!-- Generated from the settings table in server/config/settings.cc by
     `brokerd --print-config-reference`; a test fails when this file differs.
     Regenerate with: build/server/brokerd --print-config-reference > docs/configuration.md -->

Every brokerd setting is declared once, with its name, type, default, bounds and meaning
(the table below), and can be given in three places. Highest precedence first:

1. **a flag**: `--lease-ms 60000` (the setting name with `_` written as `-`);
2. **the config file** named by `--config FILE`: one flat TOML table whose keys are the
   setting names, `lease_ms = 60000`;
3. **an environment variable**: `BROKERD_LEASE_MS=60000` (`BROKERD_` and the setting name
   in upper case);
4. the default.

Each source is checked as it is read. An unknown key in the config file, a value of the
wrong type (integer settings take TOML integers, all others TOML strings) or a value out of
bounds stops brokerd before it opens anything, with exit status 2 and a message that names
the setting and where the value came from: the file and line, the environment variable or
the flag. Environment variables that are not settings, such as brokerctl's
`BROKERD_SERVER`, are ignored.

`brokerd --print-config` prints the effective configuration (defaults, environment, config
file and flags combined) as a TOML file that `--config` loads back, and exits 0. A config
file may set any subset of the settings:

```toml
# /etc/brokerd/brokerd.toml
listen = "0.0.0.0:7411"
data_dir = "/var/lib/brokerd"
sync = "always"
lease_ms = 60000
log_file = "/var/log/brokerd/brokerd.log"
log_format = "json"
log_max_size_mb = 0     # rotated by logrotate instead, see below
```

## Settings

| setting | flag | environment variable | type | default | allowed | meaning |
|---|---|---|---|---|---|---|
)";

constexpr const char* kOperations = R"(
## Logs

brokerd logs through spdlog, to stderr unless `log_file` is set. `log_level` is the least
severe level written; `debug` adds the effective settings at start-up and a line per task
transition with the task id.

- `log_format = "text"`: `2024-05-01T12:00:00.123 info brokerd 0.1.0 listening on ...`
  (local time).
- `log_format = "json"`: one JSON object per line with at least `ts` (UTC, RFC 3339 with
  milliseconds), `level` (`trace`, `debug`, `info`, `warning`, `error`, `critical`) and
  `msg`, plus `thread`. The message is escaped as JSON requires (quotes, backslashes,
  control characters; bytes that are not UTF-8 become U+FFFD), so every line parses:
  `{"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"brokerd 0.1.0 listening on 127.0.0.1:7411 ...","thread":4242}`

Start-up logs the version, the listen address actually bound, the data dir and the sync
policy at `info`.

### Rotation

With `log_file`, brokerd rotates the file itself when a record would make it larger than
`log_max_size_mb`: `FILE` becomes `FILE.1`, `FILE.1` becomes `FILE.2` and so on up to
`FILE.<log_max_files>`; the oldest is dropped. `log_max_size_mb = 0` turns this off.

To rotate with logrotate instead, set `log_max_size_mb = 0` and let logrotate move the file
and send SIGHUP, on which brokerd reopens `log_file` (creating it again):

```
/var/log/brokerd/brokerd.log {
    daily
    rotate 14
    compress
    delaycompress
    missingok
    notifempty
    postrotate
        systemctl kill --signal=HUP brokerd.service
    endscript
}
```

## Signals and exit status

| signal | effect |
|---|---|
| SIGTERM, SIGINT | stop: refuse new connections, close the open ones (their leased tasks are queued again), write and sync what is pending, exit 0. If this takes longer than `shutdown_timeout_s`, brokerd logs it and exits 1 at once; everything it had confirmed is already durable. |
| SIGHUP | reopen `log_file` (nothing else is reloaded); ignored when logging to stderr |

| exit status | meaning |
|---|---|
| 0 | stopped by a signal, or `--help`, `--version`, `--print-config`, `--print-config-reference` |
| 1 | could not start (data dir, storage, listen address, log file), or shutdown exceeded `shutdown_timeout_s` |
| 2 | invalid command line, config file or environment variable |
)";

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string code(const std::string& text) { return "`" + text + "`"; }

}  // namespace

std::string configuration_reference_markdown() {
  const Settings defaults;
  std::string out = kIntroduction;
  for (const SettingDecl& decl : setting_table()) {
    std::string type;
    std::string default_value;
    std::string allowed;
    if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
      type = "string";
      default_value = code("\"" + defaults.*(*member) + "\"");
      if (decl.choices.empty()) {
        allowed = "any";
      } else {
        for (const std::string& choice : decl.choices) {
          if (!allowed.empty()) allowed += ", ";
          allowed += code(choice);
        }
      }
    } else {
      type = "integer";
      default_value = code(std::to_string(defaults.*std::get<int64_t Settings::*>(decl.field)));
      allowed = std::to_string(decl.min) + " .. " + std::to_string(decl.max);
    }
    out += "| " + code(decl.name) + " | " + code(decl.flag()) + " | " + code(decl.env_var()) + " | " + type + " | " +
           escape_cell(default_value) + " | " + allowed + " | " + escape_cell(decl.help) + " |\n";
  }
  out += kOperations;
  return out;
}

}  // namespace brokerd::server
